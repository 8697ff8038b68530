"""Gradient checkpointing: keep fewer activations, recompute them in the backward pass.

Activations, not weights or optimiser state, fill memory when a small model trains on long
batches (SmolLM2 at 16 x 256 tokens: LoRA needs 12 GB, as much as full fine-tuning), so a
parameter-efficient method saves little memory without this. Each transformer block keeps
only its input and recomputes the rest during backward: the same gradients, ~1/3 more compute.
It uses transformers' own switch with PyTorch's non-reentrant checkpoint, which lets gradients
reach LoRA / adapter weights inside frozen blocks without making the inputs require grad.
"""

from __future__ import annotations

from transformers import PreTrainedModel

from tunebench.errors import UserError
from tunebench.training.config import TrainingConfig


def enable_if_asked(backbone: PreTrainedModel, training: TrainingConfig, method: str) -> None:
    """Turn checkpointing on in `backbone`'s blocks when `training.gradient_checkpointing` says
    so; a UserError when the backbone or the method cannot work with it."""
    if not training.gradient_checkpointing:
        return
    if method == "prefix":
        # A checkpointed block drops its past key values (transformers' GradientCheckpointingLayer)
        # and prefix tuning passes its prefixes as past key values: it would train nothing.
        raise UserError(
            "training.gradient_checkpointing does not work with prefix tuning (checkpointed "
            "blocks drop the past key values that carry the prefix); use prompt or lora"
        )
    if not backbone.supports_gradient_checkpointing:
        raise UserError(
            f"training.gradient_checkpointing: {type(backbone).__name__} does not support "
            "gradient checkpointing"
        )
    backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
