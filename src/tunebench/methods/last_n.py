"""`last_n`: only the top N transformer blocks (and a decoder's final norm) train, plus the head."""

from typing import Literal

from pydantic import PositiveInt

from tunebench.errors import UserError
from tunebench.methods.base import Method, MethodConfig, freeze, transformer_layers


class LastNConfig(MethodConfig):
    name: Literal["last_n"] = "last_n"
    n: PositiveInt = 2


def apply(model, config: LastNConfig, backbone_path: str):
    layers = transformer_layers(model.backbone)
    if config.n > len(layers):
        raise UserError(f"method last_n: n={config.n} but the backbone has {len(layers)} blocks")
    freeze(model.backbone)
    for block in layers[-config.n :]:
        block.requires_grad_(True)
    final_norm = getattr(model.backbone, "norm", None)  # decoders normalise after the last block
    if final_norm is not None:
        final_norm.requires_grad_(True)
    return model


METHOD = Method("last_n", LastNConfig, 1e-4, "the top N transformer blocks + head", apply)
