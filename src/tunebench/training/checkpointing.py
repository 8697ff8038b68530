"""Gradient checkpointing: keep fewer activations, recompute them in the backward pass.

Activations, not weights or optimiser state, fill memory when a small model trains on long
batches (SmolLM2 at 16 x 256 tokens: LoRA needs 12 GB, as much as full fine-tuning), so a
parameter-efficient method saves little memory without this. Each transformer block keeps
only its input and recomputes the rest during backward: the same gradients, ~1/3 more compute.
It uses transformers' own switch (`activation_checkpointing_enable` in 5.x) with PyTorch's
non-reentrant checkpoint, which lets gradients reach LoRA / adapter weights inside frozen
blocks without making the inputs require grad.
Whether a method works with it is the method's declared capability
(`Method.gradient_checkpointing`).
"""

from __future__ import annotations

from typing import Literal

from transformers import PreTrainedModel

from tunebench.errors import UserError
from tunebench.methods.base import Method

AUTO_MIN_BATCH_TOKENS = 4096
"""`auto` checkpoints batches of at least this many tokens (batch size x max length)."""


def wanted(
    setting: bool | Literal["auto"], backbone_kind: str, method: Method, batch_tokens: int
) -> bool:
    """Whether a run checkpoints: as set, or (auto) for a decoder's large batches when the
    method allows it.

    SmolLM2 at 16 x 256 tokens, LoRA: 9.6 GB without, 3.8 GB with, for 9% more time per step
    (docs/benchmarks.md, `python -m bench.memory`); at 8 x 192 the activations are ~2 GB and
    the recomputation cost 20% of the training time of `examples/generation_quick.yaml`. An
    encoder's activations are small."""
    if setting == "auto":
        large = batch_tokens >= AUTO_MIN_BATCH_TOKENS
        return backbone_kind == "decoder" and large and method.gradient_checkpointing
    return setting


def enable(backbone: PreTrainedModel) -> None:
    """Checkpoint every block of `backbone`; a UserError when the architecture cannot."""
    if not backbone.supports_gradient_checkpointing:
        raise UserError(
            f"training.gradient_checkpointing: {type(backbone).__name__} does not support "
            "gradient checkpointing"
        )
    if hasattr(backbone, "activation_checkpointing_enable"):  # transformers 5's name
        backbone.activation_checkpointing_enable({"use_reentrant": False})
    else:
        backbone.gradient_checkpointing_enable({"use_reentrant": False})
