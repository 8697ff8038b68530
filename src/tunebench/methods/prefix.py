"""`prefix`: trainable key/value prefixes in every attention layer (Li & Liang, 2021).

It cannot work with gradient checkpointing: a checkpointed block (transformers'
`GradientCheckpointingLayer`) drops its past key values, and peft passes the prefixes as past
key values, so the run would silently train without its prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import PositiveInt

from tunebench.methods.base import Method, MethodConfig, register

if TYPE_CHECKING:
    from tunebench.methods.target import Target


class PrefixConfig(MethodConfig):
    name: Literal["prefix"] = "prefix"
    num_virtual_tokens: PositiveInt = 20
    projection: bool = False
    """Reparametrise the prefix through a two-layer MLP (more parameters, often more stable)."""


def apply(target: Target, config: PrefixConfig):
    from peft import PrefixTuningConfig, get_peft_model

    peft_config = PrefixTuningConfig(
        task_type=target.peft_task,
        num_virtual_tokens=config.num_virtual_tokens,
        prefix_projection=config.projection,
    )
    return get_peft_model(target.model, peft_config)


METHOD = register(
    Method(
        "prefix",
        PrefixConfig,
        1e-2,
        "trainable key/value prefixes in every layer",
        apply,
        gradient_checkpointing=False,
        prompt_learning=True,
    )
)
