"""`lora_plus`: LoRA with a faster learning rate for B than for A (Hayou et al., 2024).

LoRA+ trains the B matrices (and 1-D parameters) at `lr_ratio` times the learning rate of the
A matrices, which the paper shows is the efficient choice at large widths; the parameter
groups are PEFT's (`create_loraplus_optimizer`), the optimiser the run's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from tunebench.methods import lora
from tunebench.methods.tuner import tuner

if TYPE_CHECKING:
    from torch import nn

    from tunebench.methods.target import Target


class LoraPlusConfig(lora.LoraConfig):
    name: Literal["lora_plus"] = "lora_plus"  # type: ignore[assignment]
    lr_ratio: float = Field(16.0, ge=1)
    """B's learning rate over A's (the paper's default, 2^4)."""


def without_ratio(target: Target, chosen: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in chosen.items() if k != "lr_ratio"}


def loraplus_groups(model: nn.Module, settings: LoraPlusConfig, lr: float, decay: float):
    """PEFT's LoRA+ groups: A at `lr`, B and 1-D parameters at `lr × lr_ratio`."""
    import torch
    from peft.optimizers import create_loraplus_optimizer

    grouped = create_loraplus_optimizer(
        model,
        torch.optim.SGD,  # only its parameter groups are kept
        lr=lr,
        loraplus_lr_ratio=settings.lr_ratio,
        loraplus_weight_decay=decay,
    )
    keep = ("params", "lr", "weight_decay")
    return [{k: g[k] for k in keep} for g in grouped.param_groups if g["params"]]


METHOD = tuner(
    "lora_plus",
    LoraPlusConfig,
    "LORA",
    5e-4,
    "LoRA with B trained at 16x A's learning rate",
    renamed=lora.RENAMED,
    resolve=without_ratio,
    mergeable=True,
    parameter_groups=loraplus_groups,
)
