"""Training hyperparameters shared by every method; a study may override any of them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: PositiveInt = 3
    max_steps: PositiveInt | None = None
    """Stop after this many optimiser steps (smoke runs); None = run all epochs."""
    batch_size: PositiveInt = 16
    eval_batch_size: PositiveInt = 64
    learning_rate: PositiveFloat | None = None
    """None = the method's documented default (prompt, prefix and IA3 need far larger ones)."""
    weight_decay: NonNegativeFloat = 0.01
    optimizer: Literal["adamw", "sgd", "adafactor"] = "adamw"
    momentum: float = Field(0.9, ge=0, lt=1)
    """SGD only."""
    scheduler: Literal["linear", "cosine", "constant"] = "linear"
    warmup_ratio: float = Field(0.06, ge=0, le=1)
    gradient_accumulation_steps: PositiveInt = 1
    max_grad_norm: PositiveFloat | None = 1.0
    max_length: PositiveInt = 256
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    """auto = bf16 on a GPU that supports it, full fp32 on CPU."""
    selection_metric: str = "accuracy"
    """Validation metric that picks the best epoch (its weights are restored before testing)."""
    early_stopping_patience: PositiveInt | None = None
    """Stop after this many validations without improvement of the selection metric."""
    validate_every_epochs: PositiveInt = 1
    """Validate after every this many epochs, and always after the last: validation is a
    forward pass over the validation split, so on a large one it can cost as much as training.
    Only validated epochs can be picked as the best."""
    compile: bool = False
    """Train the model through `torch.compile` (inductor; evaluation stays eager): the first steps
    pay the compilation (and each new batch shape may pay again), later steps may run faster.
    Measured in docs/benchmarks.md before you turn it on."""
    group_by_length: bool = True
    """Batch texts of similar length together so that little compute goes to padding."""
    pooling: Literal["auto", "cls", "mean", "last"] = "auto"
    """auto = the backbone's own: its sentence-transformers config, else CLS; decoders: last."""
    log_every: PositiveInt = 10
    gradient_checkpointing: bool | Literal["auto"] = "auto"
    """Recompute each block's activations in the backward pass instead of keeping them: far
    less memory for some more compute, the same gradients (training/checkpointing.py). auto =
    on for decoder backbones (whose activations, not weights, fill memory) when the method
    works with it, off for encoders."""


ADDED_LATER = {
    "training": {"gradient_checkpointing": False, "validate_every_epochs": 1, "compile": False},
    "adapter": {"non_linearity": None},
    "task": {"eval_tasks": []},
    "downstream_training": {"search_rates": [1e-4, 3e-4, 1e-3, 3e-3]},
}
"""Settings added after stores held runs, with the value that means "as before": per section,
`training`, `task`, `downstream_training` (tabular) or a method's name. A run's id leaves such
a setting out at that value, so the runs recorded before it existed keep their ids
(tests/test_examples.py checks the ids of the runs in docs/data)."""
SAME_AS_BEFORE = {("training", "gradient_checkpointing", "auto")}
"""Defaults that replaced an ADDED_LATER value and compute the same results (checkpointing
changes a run's cost, never its gradients): a run's id leaves them out too, so that runs
recorded before keep their ids."""


def identity(spec: dict[str, Any]) -> dict[str, Any]:
    """A run spec's JSON dump as its id hashes it: `training`, `task`, `downstream_training` and
    `method` without the ADDED_LATER settings that keep their old value."""
    spec = dict(spec)
    for key, section in _sections(spec):
        added = ADDED_LATER.get(section, {})
        if isinstance(spec.get(key), dict) and added:
            spec[key] = {
                k: v
                for k, v in spec[key].items()
                if not (k in added and added[k] == v) and not _same_as_before(section, k, v)
            }
    return spec


def with_added_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded run's config with the ADDED_LATER settings it predates at their old values
    (it ran as they say), so that tables do not tell it apart from newer runs by a missing key."""
    config = dict(config)
    for key, section in _sections(config):
        if isinstance(config.get(key), dict):
            config[key] = {**ADDED_LATER.get(section, {}), **config[key]}
    return config


def _same_as_before(section: str | None, setting: str, value: Any) -> bool:
    return isinstance(value, str | bool) and (section, setting, value) in SAME_AS_BEFORE


def _sections(spec: dict[str, Any]) -> tuple[tuple[str, str | None], ...]:
    """(key in the spec, its section in ADDED_LATER)."""
    return (
        ("training", "training"),
        ("task", "task"),
        ("downstream_training", "downstream_training"),
        ("method", _method_name(spec)),
    )


def _method_name(spec: dict[str, Any]) -> str | None:
    method = spec.get("method")
    return method.get("name") if isinstance(method, dict) else None
