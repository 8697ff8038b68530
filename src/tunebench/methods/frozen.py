"""`frozen`: the backbone stays as pretrained; only the head trains (a language model: nothing,
so generative tasks evaluate it zero-shot)."""

from typing import Literal

from tunebench.methods.base import Method, MethodConfig, Target, freeze


class FrozenConfig(MethodConfig):
    name: Literal["frozen"] = "frozen"


def apply(target: Target, config: FrozenConfig):
    freeze(target.model)
    target.train_head()
    return target.model


METHOD = Method("frozen", FrozenConfig, 2e-2, "head only; the backbone is not trained", apply)
