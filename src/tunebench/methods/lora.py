"""`lora`: low-rank updates on chosen linear layers, through peft (Hu et al., 2021)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, create_model

from tunebench.methods.base import Method, MethodConfig, register
from tunebench.models.shape import unmatched_modules

if TYPE_CHECKING:
    from tunebench.methods.target import Target
    from tunebench.models.shape import Shape


class LoraConfig(MethodConfig):
    name: Literal["lora"] = "lora"
    r: PositiveInt = 8
    alpha: float = Field(16.0, gt=0)
    dropout: float = Field(0.1, ge=0, lt=1)
    target_modules: list[str] | None = None
    """Module names to adapt; None = peft's default for the architecture (query/value, q/v_proj)."""
    layers: list[NonNegativeInt] | None = None
    """Block indices to adapt; None = every block."""


def misfit(config: LoraConfig, shape: Shape) -> str | None:
    """Module names the backbone lacks and blocks it does not have, with the names it has."""
    misnamed = unmatched_modules(config, ("target_modules",), shape)
    if misnamed:
        return misnamed
    outside = [i for i in config.layers or [] if i >= shape.blocks]
    if outside:
        return f"layers {outside}: the backbone has blocks 0-{shape.blocks - 1}"
    return None


def apply(target: Target, config: LoraConfig, **variant):
    """LoRA through peft; `variant` is a LoRA variant's own peft setting (`use_dora`, ...)."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_config = PeftLoraConfig(
        task_type=target.peft_task,
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=config.target_modules,
        layers_to_transform=config.layers,
        **variant,
    )
    return get_peft_model(target.model, peft_config)


METHOD = register(
    Method(
        "lora",
        LoraConfig,
        1e-3,
        "low-rank adapters on attention projections",
        apply,
        mergeable=True,
        misfit=misfit,
    )
)


def variant(name: str, description: str, **peft_setting) -> Method:
    """A LoRA variant that is LoRA plus one peft setting (`use_dora=True`, ...): LoRA's method
    (settings, misfit check, default learning rate, capabilities) under another name."""
    config = create_model(
        f"{name.title().replace('_', '')}Config", __base__=LoraConfig, name=(Literal[name], name)
    )

    def apply_variant(target: Target, settings: LoraConfig):
        return apply(target, settings, **peft_setting)

    return register(
        dataclasses.replace(
            METHOD, name=name, config=config, description=description, apply_to=apply_variant
        )
    )
