"""`peft`: any tuner of Hugging Face PEFT, by its type — the escape hatch for the tuners that
have no entry of their own (`{name: peft, type: VERA, r: 64, target_modules: [q_proj]}`).

Every field besides `name` and `type` is a field of PEFT's config class for that type, checked
against the class when the study loads (an unknown field or a value the class refuses is one
clear message), and passed to it as given. `task_type` is tunebench's to set (it follows the
model kind), as are the bookkeeping fields below. The default learning rate is LoRA's: set
`training.learning_rate` for types that want another.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, model_validator

from tunebench.errors import UserError
from tunebench.methods.base import Method, MethodConfig, register
from tunebench.methods.tuner import peft_config_class, peft_model
from tunebench.models.shape import unmatched_modules

if TYPE_CHECKING:
    from tunebench.methods.target import Target
    from tunebench.models.shape import Shape

NOT_SETTABLE = {
    "task_type",
    "peft_type",
    "auto_mapping",
    "peft_version",
    "base_model_name_or_path",
    "revision",
    "inference_mode",
}
"""Fields of every PEFT config that tunebench sets or that only describe a saved adapter."""

NOT_DRIVEN = {
    "ADALORA": "its rank budget is pruned by the training loop: use the method adalora",
    "POLY": "it routes each example by a task id, which tunebench's batches do not carry",
    "XLORA": "it mixes several trained LoRA adapters, which one run does not have",
}
"""PEFT types a single tunebench run cannot drive, and why."""


class AnyPeftConfig(MethodConfig):
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)
    name: Literal["peft"] = "peft"
    type: str = "LORA"
    """A PEFT type: LORA, VERA, LOHA, LOKR, OFT, BOFT, FOURIERFT, HRA, … (any case); LORA when
    left out, so that `{name: peft}` alone is PEFT's LoRA with PEFT's own defaults."""

    @model_validator(mode="after")
    def _fields_of_the_peft_class(self) -> AnyPeftConfig:
        peft_class = peft_config_class(self.type)
        refused = refusal(self.type)
        if refused:
            raise ValueError(f"type {self.type.upper()}: {refused}")
        settable = {f.name for f in dataclasses.fields(peft_class)} - NOT_SETTABLE
        unknown = sorted(set(self.settings()) - settable)
        if unknown:
            raise ValueError(
                f"{peft_class.__name__} has no field {unknown[0]!r}; "
                f"its fields are: {', '.join(sorted(settable))}"
            )
        try:
            peft_class(**self.settings())
        except (TypeError, ValueError) as error:
            raise ValueError(f"{peft_class.__name__} refuses these settings: {error}") from error
        return self

    def settings(self) -> dict[str, Any]:
        """The PEFT fields as given."""
        return dict(self.model_extra or {})


def refusal(peft_type: str) -> str | None:
    """Why a run cannot drive PEFT's `peft_type` through `peft`, or None where it can."""
    from peft.config import PromptLearningConfig

    if issubclass(peft_config_class(peft_type), PromptLearningConfig):
        return (
            "PEFT's prompt-learning types are tunebench's methods prompt, prefix and p_tuning "
            "(the families place their virtual tokens); it is not available through `peft`"
        )
    return NOT_DRIVEN.get(peft_type.upper())


def misfit(config: AnyPeftConfig, shape: Shape) -> str | None:
    """Module names in `target_modules` (a list) that the backbone lacks."""
    if not isinstance(config.settings().get("target_modules"), list):
        return None  # peft's default, or a regular expression
    return unmatched_modules(config, ("target_modules",), shape)


def apply(target: Target, config: AnyPeftConfig):
    """PEFT's model of the type; UserError (the run fails as `unsupported`) where the type
    leaves a classifier's head frozen, as TRAINABLE_TOKENS does: such a run would train
    almost nothing while it claimed to fine-tune."""
    model = peft_model(target, config.type, config.settings(), f"peft type {config.type}")
    head = [p for n, p in model.named_parameters() if ".classifier." in f".{n}"]
    if target.head is not None and not any(p.requires_grad for p in head):
        raise UserError(
            f"peft type {config.type}: PEFT leaves the classifier head frozen with this type, "
            "so the run would not train its head"
        )
    return model


METHOD = register(
    Method(
        "peft",
        AnyPeftConfig,
        1e-3,
        "any PEFT tuner by its type, with PEFT's own settings",
        apply,
        misfit=misfit,
    )
)
