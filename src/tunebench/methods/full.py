"""`full`: every parameter of the backbone and the head trains."""

from typing import Literal

from tunebench.methods.base import Method, MethodConfig


class FullConfig(MethodConfig):
    name: Literal["full"] = "full"


def apply(model, config: FullConfig, backbone_path: str):
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model


METHOD = Method("full", FullConfig, 5e-5, "full fine-tuning of every parameter", apply)
