"""`frozen`: the backbone stays as pretrained; only the head trains (a language model has no
separate head, so there it trains nothing and its run is the zero-shot evaluation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tunebench.methods.base import Method, MethodConfig, register
from tunebench.models.blocks import freeze

if TYPE_CHECKING:
    from tunebench.methods.target import Target


class FrozenConfig(MethodConfig):
    name: Literal["frozen"] = "frozen"


def apply(target: Target, config: FrozenConfig):
    freeze(target.model)
    target.train_head()
    return target.model


METHOD = register(
    Method(
        "frozen",
        FrozenConfig,
        2e-2,
        "head only; the backbone is not trained",
        apply,
        trains_backbone=False,
    )
)
