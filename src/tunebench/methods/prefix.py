"""`prefix`: trainable key/value prefixes in every attention layer (Li & Liang, 2021)."""

from typing import Literal

from peft import PrefixTuningConfig, TaskType, get_peft_model
from pydantic import PositiveInt

from tunebench.methods.base import Method, MethodConfig


class PrefixConfig(MethodConfig):
    name: Literal["prefix"] = "prefix"
    num_virtual_tokens: PositiveInt = 20
    projection: bool = False
    """Reparametrise the prefix through a two-layer MLP (more parameters, often more stable)."""


def apply(model, config: PrefixConfig, backbone_path: str):
    peft_config = PrefixTuningConfig(
        task_type=TaskType.SEQ_CLS,
        num_virtual_tokens=config.num_virtual_tokens,
        prefix_projection=config.projection,
    )
    return get_peft_model(model, peft_config)


METHOD = Method("prefix", PrefixConfig, 1e-2, "trainable key/value prefixes in every layer", apply)
