"""`prefix`: trainable key/value prefixes in every attention layer (Li & Liang, 2021)."""

from typing import Literal

from peft import PrefixTuningConfig, get_peft_model
from pydantic import PositiveInt

from tunebench.methods.base import Method, MethodConfig, Target


class PrefixConfig(MethodConfig):
    name: Literal["prefix"] = "prefix"
    num_virtual_tokens: PositiveInt = 20
    projection: bool = False
    """Reparametrise the prefix through a two-layer MLP (more parameters, often more stable)."""


def apply(target: Target, config: PrefixConfig):
    peft_config = PrefixTuningConfig(
        task_type=target.peft_task,
        num_virtual_tokens=config.num_virtual_tokens,
        prefix_projection=config.projection,
    )
    return get_peft_model(target.model, peft_config)


METHOD = Method("prefix", PrefixConfig, 1e-2, "trainable key/value prefixes in every layer", apply)
