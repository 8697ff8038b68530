"""Training hyperparameters shared by every method; a study may override any of them."""

from __future__ import annotations

from typing import Literal

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
    """Stop after this many epochs without improvement of the selection metric."""
    group_by_length: bool = True
    """Batch texts of similar length together so that little compute goes to padding."""
    pooling: Literal["auto", "cls", "mean", "last"] = "auto"
    """auto = the backbone's own: its sentence-transformers config, else CLS; decoders: last."""
    log_every: PositiveInt = 10
