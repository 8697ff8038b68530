"""`full`: every parameter of the backbone and the head trains."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tunebench.methods.base import Method, MethodConfig, register

if TYPE_CHECKING:
    from tunebench.methods.target import Target


class FullConfig(MethodConfig):
    name: Literal["full"] = "full"


def apply(target: Target, config: FullConfig):
    target.model.requires_grad_(True)
    return target.model


METHOD = register(
    Method(
        "full",
        FullConfig,
        5e-5,
        "full fine-tuning of every parameter",
        apply,
    )
)
