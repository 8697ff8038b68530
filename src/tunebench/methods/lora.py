"""`lora`: low-rank updates on chosen linear layers, through peft (Hu et al., 2021)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt, create_model

from tunebench.methods.base import Method
from tunebench.methods.tuner import TunerConfig, tuner

RENAMED = {"alpha": "lora_alpha", "dropout": "lora_dropout"}


class LoraConfig(TunerConfig):
    name: Literal["lora"] = "lora"
    r: PositiveInt = 8
    alpha: float = Field(16.0, gt=0)
    dropout: float = Field(0.1, ge=0, lt=1)


METHOD = tuner(
    "lora",
    LoraConfig,
    "LORA",
    1e-3,
    "low-rank adapters on attention projections",
    renamed=RENAMED,
    mergeable=True,
)


def variant(name: str, description: str, **peft_setting: Any) -> Method:
    """A LoRA variant that is LoRA plus fixed peft settings (`use_dora=True`, ...): LoRA's
    settings, misfit check, default learning rate and capabilities under another name."""
    config = create_model(
        f"{name.title().replace('_', '')}Config", __base__=LoraConfig, name=(Literal[name], name)
    )
    return tuner(
        name, config, "LORA", METHOD.default_lr, description, RENAMED, peft_setting, mergeable=True
    )
