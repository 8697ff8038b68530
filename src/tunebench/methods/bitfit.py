"""`bitfit`: only the bias terms of the backbone train, plus the head (Ben Zaken et al., 2022)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tunebench.methods.base import Method, MethodConfig, register
from tunebench.models.blocks import freeze

if TYPE_CHECKING:
    from torch import nn

    from tunebench.methods.target import Target


class BitFitConfig(MethodConfig):
    name: Literal["bitfit"] = "bitfit"


def _biases(backbone: nn.Module) -> list[nn.Parameter]:
    return [p for name, p in backbone.named_parameters() if name.endswith(".bias")]


def no_biases(backbone: nn.Module) -> str | None:
    if _biases(backbone):
        return None
    return (
        f"method bitfit: backbone {type(backbone).__name__} has no bias parameters, so BitFit "
        "would train only the head; use method 'frozen' for that"
    )


def apply(target: Target, config: BitFitConfig):
    freeze(target.model)
    for bias in _biases(target.backbone):
        bias.requires_grad_(True)
    target.train_head()
    return target.model


METHOD = register(
    Method("bitfit", BitFitConfig, 5e-3, "bias terms + head", apply, trains_nothing_on=no_biases)
)
