"""What a fine-tuning method is: a typed config, a default learning rate, its capabilities, and
how it applies to a model. Each method module registers itself with `register`.

A method is applied to a `Target` (target.py): the module to train, the transformer inside it,
and the head that trains with every method. It returns the module to train with exactly the
method's parameters left trainable, so every method is compared with the same head.

Capabilities are declared here, never inferred from a method's name by the code that runs it:
`kinds` (which kinds of model it applies to), `gradient_checkpointing` (whether it works with
checkpointed blocks), `trains_backbone` (whether it changes the backbone at all: `frozen` does
not, so on a model without a separate head it is the zero-shot baseline), `mergeable` (whether
its update folds into the weights on export), `trains_nothing_on`
(a reason when the method would train nothing on a given backbone, e.g. BitFit without biases),
`misfit` (settings that do not fit a backbone's modules, checked before anything trains),
`parameter_groups` (optimiser groups of its own: LoRA+'s faster B matrices), `after_step`
(called by the loop after each optimiser step: AdaLoRA's rank allocation) and
`prompt_learning` (virtual tokens: how it reaches an image-text model's language model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from torch import nn

    from tunebench.methods.target import Target
    from tunebench.models.shape import Shape

ModelKind = Literal["classifier", "token_classifier", "text_encoder", "causal_lm", "image_text"]
"""What a family builds around a backbone: a sequence classifier, a per-token classifier, a text
encoder feeding a tabular model, a causal language model, an image-text model (whose language
model alone the method changes)."""
TEXT_KINDS: frozenset[ModelKind] = frozenset(
    ("classifier", "token_classifier", "text_encoder", "causal_lm")
)
"""Every text model."""
ALL_KINDS: frozenset[ModelKind] = TEXT_KINDS | {"image_text"}
"""A method's default: every method is tested inside an image-text model too
(tests/test_image_text_methods.py runs each method that declares `image_text`)."""


class MethodConfig(BaseModel):
    """Base of every method's config; unknown fields are errors, not silently ignored, and
    values are not converted (`r: '8'`, a string, is an error, not 8)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    name: str


def _trains_something(backbone: nn.Module) -> str | None:
    return None


def _fits(config: MethodConfig, shape: Shape) -> str | None:
    return None


ParameterGroups = Callable[["nn.Module", MethodConfig, float, float], "list[dict] | None"]
"""(the model to train, the method's settings, learning rate, weight decay) -> torch
optimiser parameter groups, or None for one group of every trainable parameter."""

AfterStep = Callable[["nn.Module", MethodConfig, int, int], None]
"""(the model being trained, the method's settings, the optimiser steps taken, the run's total
steps) -> None; runs after each optimiser step, before the gradients are cleared."""


def _one_group(model: nn.Module, config: MethodConfig, lr: float, decay: float) -> None:
    return None


@dataclass(frozen=True)
class Method:
    name: str
    config: type[MethodConfig]
    default_lr: float
    description: str
    apply_to: Callable[[Target, MethodConfig], nn.Module]
    kinds: frozenset[ModelKind] = ALL_KINDS
    gradient_checkpointing: bool = True
    trains_backbone: bool = True
    mergeable: bool = False
    """Whether its trained update folds into the backbone's weights (`export --merge`)."""
    trains_nothing_on: Callable[[nn.Module], str | None] = _trains_something
    """backbone -> why the method would train nothing on it, or None."""
    misfit: Callable[[MethodConfig, Shape], str | None] = _fits
    """(settings, the backbone's shape) -> what in the settings does not fit the backbone
    (a module name no module has, a block it lacks), or None; checked when a study loads."""
    parameter_groups: ParameterGroups = _one_group
    after_step: AfterStep | None = None
    prompt_learning: bool = False
    """Whether it adds virtual tokens to the language model's input or attention (prompt,
    prefix and p-tuning): on an image-text model PEFT wraps the whole model, whose language
    model alone sees the tokens, since PEFT's plain wrapper of a module cannot add them."""

    def apply(self, model: nn.Module, config: MethodConfig, backbone_path: str = "") -> nn.Module:
        """The model to train: `model` (a classifier, text encoder or causal LM) with this
        method applied. `backbone_path` lets prompt tuning initialise from the tokenizer."""
        from tunebench.methods.target import Target

        return self.apply_to(Target.of(model, backbone_path), config)

    def apply_to_image_text(
        self, model: nn.Module, language_model: nn.Module, config: MethodConfig, path: str = ""
    ) -> nn.Module:
        """The image-text `model` to train, with this method applied to its `language_model`
        alone (`Target.inside`: the vision encoder and the connector are out of the method's
        reach), or around the whole model for prompt learning (`Target.around_image_text`)."""
        from tunebench.methods.target import Target

        if self.prompt_learning:
            return self.apply_to(Target.around_image_text(model, language_model, path), config)
        from tunebench.models.image_text import replace_module

        applied = self.apply_to(Target.inside(language_model, path), config)
        replace_module(model, language_model, applied)
        return model


REGISTERED: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (called once by its own module)."""
    if method.name in REGISTERED:
        raise ValueError(f"method {method.name!r} is registered twice")
    REGISTERED[method.name] = method
    return method
