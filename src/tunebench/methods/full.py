"""`full`: every parameter of the backbone and the head trains."""

from typing import Literal

from tunebench.methods.base import Method, MethodConfig, Target


class FullConfig(MethodConfig):
    name: Literal["full"] = "full"


def apply(target: Target, config: FullConfig):
    target.model.requires_grad_(True)
    return target.model


METHOD = Method("full", FullConfig, 5e-5, "full fine-tuning of every parameter", apply)
