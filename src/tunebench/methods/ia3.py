"""`ia3`: learned rescaling of keys, values and feed-forward activations (Liu et al., 2022)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tunebench.methods.base import Method, MethodConfig, register
from tunebench.models.shape import unmatched_modules

if TYPE_CHECKING:
    from tunebench.methods.target import Target
    from tunebench.models.shape import Shape


class IA3Config(MethodConfig):
    name: Literal["ia3"] = "ia3"
    target_modules: list[str] | None = None
    """None = peft's default for the architecture (key, value, feed-forward output)."""
    feedforward_modules: list[str] | None = None


def misfit(config: IA3Config, shape: Shape) -> str | None:
    """Module names the backbone lacks, with the names it has."""
    return unmatched_modules(config, ("target_modules", "feedforward_modules"), shape)


def apply(target: Target, config: IA3Config):
    from peft import IA3Config as PeftIA3Config
    from peft import get_peft_model

    peft_config = PeftIA3Config(
        task_type=target.peft_task,
        target_modules=config.target_modules,
        feedforward_modules=config.feedforward_modules,
    )
    return get_peft_model(target.model, peft_config)


METHOD = register(
    Method(
        "ia3",
        IA3Config,
        5e-3,
        "learned scaling vectors on k, v and feed-forward",
        apply,
        mergeable=True,
        misfit=misfit,
    )
)
