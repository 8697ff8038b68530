"""Padded tokens, the unit a run's compute and activation memory scale with.

A step's time grows with the padded tokens of its batch, an evaluation pass's with the padded
tokens of its length-sorted batches, the activations kept for the backward pass with the
tokens of the largest batch, and a frozen prefix's cache with the real tokens it records. The
batches are the loop's own (`LengthGroupedBatches`, `eval_batches`), so the counts are exact
for the run's first epoch, not a model of them.

A probe replays the run's memory-growing steps (training/replay.py) and times each of them
but the first in each epoch (probe.py): its counts are those of the replayed steps, with the
padded tokens of each timed step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunebench.families.base import SplitLengths
from tunebench.families.registry import family_for
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig
from tunebench.training.data import LengthGroupedBatches, eval_batches
from tunebench.training.replay import MINIMUM_STEPS, growth_steps, optimiser_steps


@dataclass(frozen=True)
class TokenCounts:
    """Padded tokens of a run (or probe): per optimiser step (mean), in its largest training
    batch, the longest training example, per validation and test pass; the real tokens of
    the training and validation examples (what a prefix cache records); and for a probe,
    each timed step's."""

    per_step: float
    largest_batch: int
    widest: int
    validation: int
    test: int
    cached: int = 0
    timed: tuple[int, ...] = ()


def run_tokens(spec: RunSpec, data: Any, probe: bool = False) -> TokenCounts | None:
    """`spec`'s padded tokens on `data` (its family's loaded splits), or with `probe` those of
    the probe's timed steps; None where the family does not count tokens (the plan then
    scales by rows)."""
    training = spec.training or TrainingConfig()
    key = (spec.backbone, spec.task.model_dump_json(), training.max_length)
    if key not in _LENGTHS:  # a study's runs share their data: tokenise it once
        _LENGTHS[key] = family_for(spec.task).token_lengths(spec, data)
    lengths = _LENGTHS[key]
    if lengths is None:
        return None
    return token_counts(lengths.train, lengths.validation, lengths.test, training, spec.seed, probe)


_LENGTHS: dict[tuple, SplitLengths | None] = {}
"""(backbone, task, max length) -> the tokens per example of each split, in this process."""


def token_counts(
    train: list[int],
    validation: list[int],
    test: list[int],
    training: TrainingConfig,
    seed: int,
    probe: bool = False,
) -> TokenCounts:
    """A run's counts over its first epoch, or with `probe` its probe's: the replayed steps,
    each timed but the first."""
    batches = LengthGroupedBatches(train, training.batch_size, seed, training.group_by_length)
    accumulate = training.gradient_accumulation_steps
    ordered = batches.epoch_batches(0)
    if probe:
        steps = growth_steps(ordered, train, accumulate, MINIMUM_STEPS)
    else:
        steps = optimiser_steps(ordered, accumulate)
    padded = [[len(b) * max(train[i] for i in b) for b in step] for step in steps]
    per_step = [sum(step) for step in padded]
    timed = per_step[1:] if probe else per_step
    rows = [i for step in steps for batch in step for i in batch]
    return TokenCounts(
        per_step=sum(timed) / max(len(timed), 1),
        largest_batch=max((t for step in padded for t in step), default=0),
        widest=max((train[i] for i in rows), default=0),
        validation=_eval_tokens(validation, training.eval_batch_size),
        test=_eval_tokens(test, training.eval_batch_size),
        cached=sum(train[i] for i in rows) + sum(validation),
        timed=tuple(timed) if probe else (),
    )


def _eval_tokens(lengths: list[int], batch_size: int) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in eval_batches(lengths, batch_size))


def extra_activation_mb(
    config: Any, frozen_blocks: int, run: TokenCounts, probe: TokenCounts
) -> float:
    """Memory the run keeps beyond its probe, in MiB (never below 0): the activations of its
    largest training batch beyond the probe's (its data may hold longer texts), and for a run
    that caches its frozen prefix, the block outputs of its many more examples (fp32)."""
    hidden = getattr(config, "hidden_size", None)
    heads = getattr(config, "num_attention_heads", None)
    layers = getattr(config, "num_hidden_layers", None)
    if not (hidden and heads and layers):
        return 0.0
    trained = max(layers - frozen_blocks, 0)

    def kept(tokens: TokenCounts) -> float:
        return tokens.largest_batch * activation_bytes_per_token(
            hidden, heads, tokens.widest, trained
        )

    cache = (run.cached - probe.cached) * hidden * 4 if frozen_blocks else 0
    return max(kept(run) - kept(probe) + cache, 0.0) / 2**20


def activation_bytes_per_token(hidden: int, heads: int, width: int, layers: int) -> float:
    """Activations a transformer keeps for the backward pass, per token of a batch of sequences
    `width` tokens long, in fp32: 68h + 10·a·s bytes per layer (Korthikanti et al. 2022,
    "Reducing activation recomputation", 34h + 5as at 16 bits), for the `layers` that train."""
    return layers * (68 * hidden + 10 * heads * width)
