"""One run, start to finish: load backbone and task, apply the method, train, test, meter.

Returns what the store records: test and validation metrics, the costs under their documented
names, and the training history. Failures a user should see (a method that does not fit the
architecture, a diverged loss) raise RunFailed with a short reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import save_file

from tunebench.backbones import load_backbone
from tunebench.config import RunSpec
from tunebench.errors import UserError
from tunebench.heads import SequenceClassifier
from tunebench.methods import METHODS
from tunebench.methods.base import transformer_layers
from tunebench.tasks import load_task
from tunebench.training import checkpointing, metering
from tunebench.training.config import TrainingConfig
from tunebench.training.data import encode
from tunebench.training.loop import (
    RunFailed,
    StepCallback,
    TrainOutcome,
    evaluate,
    make_accelerator,
    train,
)


@dataclass
class RunOutcome:
    metrics: dict
    costs: dict
    history: list[dict]
    data_sha256: str


def execute(
    spec: RunSpec, checkpoint_dir: Path | None = None, on_step: StepCallback | None = None
) -> RunOutcome:
    wall_started = time.perf_counter()
    with metering.PeakHostMemory() as host_memory:
        accelerator = make_accelerator(spec.training)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        task = load_task(spec.task)
        backbone = load_backbone(spec.backbone, trust_remote_code=spec.trust_remote_code)
        pooling = spec.training.pooling
        set_seed(spec.seed)  # the head's and the method's random initialisation
        classifier = SequenceClassifier(
            backbone.model,
            task.num_labels,
            backbone.default_pooling if pooling == "auto" else pooling,
        )
        method = METHODS[spec.method.name]
        try:
            checkpointing.enable_if_asked(backbone.model, spec.training, method.name)
            model = method.apply(classifier, spec.method, backbone.path)
        except UserError as error:
            raise RunFailed("unsupported", str(error)) from error
        trainable = metering.trainable_state(model)
        if not trainable:
            raise RunFailed("unsupported", f"method {method.name} left no trainable parameter")
        pad = backbone.tokenizer.pad_token_id
        max_length = spec.training.max_length
        train_data = encode(task.train, backbone.tokenizer, max_length)
        validation_data = encode(task.validation, backbone.tokenizer, max_length)
        test_data = encode(task.test, backbone.tokenizer, max_length)

        outcome = train(
            model,
            train_data,
            validation_data,
            task.label_names,
            spec.training,
            spec.training.learning_rate,
            spec.seed,
            pad,
            accelerator,
            on_step,
        )
        eval_started = time.perf_counter()
        test_metrics = evaluate(model, test_data, task.label_names, spec.training, pad, accelerator)
        test_seconds = time.perf_counter() - eval_started
        final_state = metering.trainable_state(accelerator.unwrap_model(model))
        if checkpoint_dir is not None:
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            save_file(final_state, checkpoint_dir / "trainable.safetensors")

    costs = run_costs(
        model,
        backbone.model,
        outcome,
        spec.training,
        accelerator,
        test_seconds + validation_seconds(outcome),
        wall_started,
        host_memory,
        final_state,
    )
    metrics = {"validation": outcome.best_validation, "test": test_metrics}
    return RunOutcome(metrics, costs, outcome.history, task.data_sha256)


def run_costs(
    model: torch.nn.Module,
    backbone: torch.nn.Module,
    outcome: TrainOutcome,
    training: TrainingConfig,
    accelerator: Accelerator,
    eval_seconds: float,
    wall_started: float,
    host_memory: metering.PeakHostMemory,
    final_state: dict[str, torch.Tensor],
) -> dict:
    """A trained model's costs under their documented names (docs/results-format.md)."""
    flops = metering.train_flops(
        model,
        transformer_layers(backbone),
        outcome.padded_tokens,
        outcome.padded_tokens / max(outcome.steps * training.batch_size, 1),
        backbone.config.hidden_size,
        outcome.prefix_skipped_tokens,
        outcome.frozen_prefix_blocks,
    )
    peak = metering.machine_peak_flops(accelerator.device)
    seconds = max(outcome.train_seconds, 1e-9)
    return {
        "train_seconds": outcome.train_seconds,
        "eval_seconds": eval_seconds,
        "wall_seconds": time.perf_counter() - wall_started,
        "train_samples_per_s": outcome.train_samples / seconds,
        "train_tokens_per_s": outcome.real_tokens / seconds,
        "peak_host_mb": host_memory.peak_mb,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20
        if torch.cuda.is_available()
        else None,
        "trainable_params": sum(t.numel() for t in final_state.values()),
        "total_params": total_params(model),
        "checkpoint_mb": metering.checkpoint_mb(final_state),
        "train_flops": flops,
        "mfu": flops / seconds / peak,
        "peak_flops": peak,
        "steps": outcome.steps,
        "processes": accelerator.num_processes,
        "frozen_prefix_blocks": outcome.frozen_prefix_blocks,
        "prefix_skipped_tokens": outcome.prefix_skipped_tokens,
        "best_epoch": outcome.best_epoch,
        "learning_rate": training.learning_rate,
    }


def validation_seconds(outcome) -> float:
    """Seconds spent evaluating on the validation split after each epoch."""
    return sum(h.get("validation_seconds", 0.0) for h in outcome.history)


def total_params(model: torch.nn.Module) -> int:
    """Parameters of the model as trained, counting peft's frozen head copy only once."""
    return sum(p.numel() for name, p in model.named_parameters() if "original_module" not in name)
