"""`frozen`: the backbone stays as pretrained; only the classification head trains."""

from typing import Literal

from tunebench.methods.base import Method, MethodConfig, freeze


class FrozenConfig(MethodConfig):
    name: Literal["frozen"] = "frozen"


def apply(model, config: FrozenConfig, backbone_path: str):
    freeze(model.backbone)
    return model


METHOD = Method("frozen", FrozenConfig, 2e-2, "head only; the backbone is not trained", apply)
