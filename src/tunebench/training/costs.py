"""A run's costs under their documented names (docs/results-format.md), assembled in one place
for every family from what its training recorded: times, throughput, memory, parameters,
checkpoint size, and the training-FLOP estimate with its fraction of the machine's peak."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tunebench.models.blocks import total_params, transformer_layers
from tunebench.training import metering
from tunebench.training.config import TrainingConfig
from tunebench.training.loop import TrainOutcome


@dataclass(frozen=True)
class Measured:
    """What the run path measured around the family's work."""

    eval_seconds: float
    wall_seconds: float
    peak_host_mb: float
    processes: int
    peak_flops: float


def run_costs(
    outcome: TrainOutcome | None,
    model: nn.Module | None,
    token_model: tuple[nn.Module, nn.Module] | None,
    training: TrainingConfig | None,
    checkpoint: dict[str, torch.Tensor],
    measured: Measured,
) -> dict:
    """Costs of a trained `model`. `token_model` is (what ran on every token, the transformer
    inside it) for the FLOP estimate; without it or a token-level `outcome` (trees, fixed
    embeddings) the throughput and FLOP figures are None."""
    seconds = max(outcome.train_seconds, 1e-9) if outcome else None
    flops = None
    if outcome is not None and token_model is not None:
        flops = training_flops(outcome, *token_model, training)
    return {
        "train_seconds": outcome.train_seconds if outcome else 0.0,
        "eval_seconds": measured.eval_seconds,
        "wall_seconds": measured.wall_seconds,
        "train_samples_per_s": outcome.train_samples / seconds if outcome else None,
        "train_tokens_per_s": outcome.real_tokens / seconds if outcome else None,
        "peak_host_mb": measured.peak_host_mb,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20
        if torch.cuda.is_available()
        else None,
        "trainable_params": sum(t.numel() for t in checkpoint.values()),
        "total_params": total_params(model) if model is not None else None,
        "checkpoint_mb": metering.checkpoint_mb(checkpoint),
        "train_flops": flops,
        "mfu": flops / seconds / measured.peak_flops if flops is not None else None,
        "peak_flops": measured.peak_flops,
        "steps": outcome.steps if outcome else 0,
        "processes": measured.processes,
        "frozen_prefix_blocks": outcome.frozen_prefix_blocks if outcome else 0,
        "prefix_skipped_tokens": outcome.prefix_skipped_tokens if outcome else 0,
        "best_epoch": outcome.best_epoch if outcome else None,
        "learning_rate": training.learning_rate if training else None,
    }


def training_flops(
    outcome: TrainOutcome, model: nn.Module, backbone: nn.Module, training: TrainingConfig
) -> float:
    """The FLOP estimate (metering.train_flops) of the training `outcome` records: `model` is
    what ran on every token, `backbone` the transformer inside it."""
    return metering.train_flops(
        model,
        transformer_layers(backbone),
        outcome.padded_tokens,
        outcome.padded_tokens / max(outcome.steps * training.batch_size, 1),
        backbone.config.hidden_size,
        outcome.prefix_skipped_tokens,
        outcome.frozen_prefix_blocks,
    )


def validation_seconds(outcome: TrainOutcome | None) -> float:
    """Seconds spent evaluating on the validation split after each epoch."""
    return sum(h.get("validation_seconds", 0.0) for h in outcome.history) if outcome else 0.0
