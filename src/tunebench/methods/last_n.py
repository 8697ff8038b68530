"""`last_n`: only the top N transformer blocks (and a decoder's final norm) train, plus the head.

A language model's output layer is not trained: on SmolLM2 it is tied to the input embeddings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import PositiveInt

from tunebench.errors import UserError
from tunebench.methods.base import Method, MethodConfig, register
from tunebench.models.blocks import freeze, transformer_layers

if TYPE_CHECKING:
    from tunebench.methods.target import Target
    from tunebench.models.shape import Shape


class LastNConfig(MethodConfig):
    name: Literal["last_n"] = "last_n"
    n: PositiveInt = 2


def misfit(config: LastNConfig, shape: Shape) -> str | None:
    if config.n > shape.blocks:
        return f"n={config.n} but the backbone has {shape.blocks} blocks"
    return None


def apply(target: Target, config: LastNConfig):
    layers = transformer_layers(target.backbone)
    if config.n > len(layers):
        raise UserError(f"method last_n: n={config.n} but the backbone has {len(layers)} blocks")
    freeze(target.model)
    for block in layers[-config.n :]:
        block.requires_grad_(True)
    final_norm = getattr(target.backbone, "norm", None)  # decoders normalise after the last block
    if final_norm is not None:
        final_norm.requires_grad_(True)
    target.train_head()
    return target.model


METHOD = register(
    Method(
        "last_n",
        LastNConfig,
        1e-4,
        "the top N transformer blocks + head",
        apply,
        misfit=misfit,
    )
)
