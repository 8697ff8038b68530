"""What the run path hands a family (`RunContext`) and what the family hands back
(`FamilyResult`).

The steps every family shares are here, written once: loading the backbone (bare transformer or
causal language model), seeding, applying the method with its capability checks and gradient
checkpointing, and training through the one loop (`fit`, with the frozen-prefix rule and cache
where the batches allow it, and the zero-shot case). A problem the user should see becomes a
`RunFailed` with reason `unsupported`; the run path records it and the study goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import set_seed
from torch import nn

from tunebench.errors import UserError
from tunebench.families.base import Family, Run
from tunebench.methods import METHODS, Method
from tunebench.methods.base import ModelKind
from tunebench.models.backbones import Backbone, load_backbone, load_causal_lm
from tunebench.models.locate import model_path
from tunebench.training import checkpointing
from tunebench.training.clock import elapsed
from tunebench.training.loop import (
    RunFailed,
    StepCallback,
    TrainOutcome,
    Validate,
    fit,
    with_frozen_prefix,
    zero_shot,
)


@dataclass
class FamilyResult:
    """A trained and tested run, as a family reports it."""

    metrics: dict
    """`validation` (of the best epoch), `test`, and anything else the family records."""
    outcome: TrainOutcome | None
    """The token-level training (steps, tokens, best epoch); None when no language model
    trained on tokens (trees, a downstream model on fixed embeddings)."""
    model: nn.Module | None
    """The trained model: its parameters are counted and its trainable tensors checkpointed."""
    backbone: nn.Module | None
    """The transformer inside `model` that saw the tokens (the FLOP estimate reads it)."""
    test_seconds: float
    token_model: nn.Module | None = None
    """What ran on every token, for the FLOP estimate, when not all of `model` did (a tabular
    model on top of the language model runs once per row)."""
    costs: dict = field(default_factory=dict)
    """The family's own cost figures; they extend (or replace) the shared ones."""
    checkpoint: dict[str, torch.Tensor] | None = None
    """What `save_checkpoints` writes; None: the trainable tensors of `model`."""
    history: list[dict] | None = None
    """The training history; None: `outcome`'s."""


@dataclass
class RunContext:
    spec: Run
    family: Family
    data: Any
    accelerator: Any
    on_step: StepCallback | None
    cache_dir: Path
    """The study's cache folder: shared embeddings, two-step's step-1 weights."""

    @property
    def method(self) -> Method:
        return METHODS[self.spec.method.name]

    def seed(self) -> None:
        """Seed every generator with the run's seed (before a head or method is initialised)."""
        set_seed(self.spec.seed)

    def backbone(self) -> Backbone:
        """The bare pretrained transformer (no head) and its tokenizer."""
        return load_backbone(self.spec.backbone, trust_remote_code=self.spec.trust_remote_code)

    def causal_lm(self) -> Backbone:
        """The pretrained decoder with its language-modelling head."""
        try:
            return load_causal_lm(self.spec.backbone, trust_remote_code=self.spec.trust_remote_code)
        except UserError as error:
            raise RunFailed("unsupported", str(error)) from error

    def image_text(self) -> tuple[nn.Module, Any]:
        """The pretrained image-text model and its processor (models/image_text.py)."""
        from tunebench.models.image_text import load_image_text

        try:
            return load_image_text(self.spec.backbone, self.spec.trust_remote_code)
        except UserError as error:
            raise RunFailed("unsupported", str(error)) from error

    def apply_method_to_image_text(self, model: nn.Module, language_model: nn.Module):
        """The image-text `model` to train: the run's method applied to its language model
        alone (`Method.apply_to_image_text`), after the method's capability checks, with the
        language model's blocks checkpointed when the training says `true` (`auto` leaves
        them: an image's token count is the processor's, unknown to the rule)."""
        method = self.method
        if "image_text" not in method.kinds:
            kinds = ", ".join(sorted(method.kinds))
            raise RunFailed(
                "unsupported", f"method {method.name} applies to {kinds}, not image_text"
            )
        reason = method.trains_nothing_on(language_model)
        if reason is not None:
            raise RunFailed("unsupported", reason)
        try:
            if self.spec.training.gradient_checkpointing is True:  # `auto`: off
                self._checkpoint(language_model, method)
            path = model_path(self.spec.backbone)
            return method.apply_to_image_text(model, language_model, self.spec.method, path)
        except UserError as error:
            raise RunFailed("unsupported", str(error)) from error

    def apply_method(self, model: nn.Module, backbone: Backbone, kind: ModelKind) -> nn.Module:
        """`model` (a `kind` of model around `backbone`) with the run's method applied, after
        the method's capability checks and gradient checkpointing if the training asks."""
        method, training = self.method, self.spec.training
        if kind not in method.kinds:
            kinds = ", ".join(sorted(method.kinds))
            raise RunFailed("unsupported", f"method {method.name} applies to {kinds}, not {kind}")
        reason = method.trains_nothing_on(backbone.model)
        if reason is not None:
            raise RunFailed("unsupported", reason)
        try:
            tokens = training.batch_size * training.max_length
            if checkpointing.wanted(training.gradient_checkpointing, backbone.kind, method, tokens):
                self._checkpoint(backbone.model, method)
            return method.apply(model, self.spec.method, backbone.path)
        except UserError as error:
            raise RunFailed("unsupported", str(error)) from error

    def method_groups(self, model: nn.Module) -> list[dict] | None:
        """The method's own optimiser groups over `model`'s parameters (LoRA+), or None."""
        training = self.spec.training
        return self.method.parameter_groups(
            model, self.spec.method, training.learning_rate, training.weight_decay
        )

    def _after_step(self) -> Callable[[nn.Module, int, int], None] | None:
        """The method's hook after each optimiser step, with the run's settings bound."""
        hook, settings = self.method.after_step, self.spec.method
        if hook is None:
            return None
        return lambda model, step, total: hook(model, settings, step, total)

    def _checkpoint(self, backbone: nn.Module, method: Method) -> None:
        if not method.gradient_checkpointing:
            raise UserError(
                f"training.gradient_checkpointing does not work with method {method.name} "
                f"(see `tunebench list methods`)"
            )
        checkpointing.enable(backbone)

    def fit(
        self,
        model: nn.Module,
        batches,
        loader,
        validate: Validate,
        prefix_tokens: int | None = None,
        cache: bool = True,
        **options,
    ) -> TrainOutcome:
        """Train `model` through the one loop on the run's training settings.

        With `prefix_tokens`, the batches carry `example_index` keys: the frozen bottom of the
        network runs in eval mode and is cached for this many tokens (prefix_cache.py; `cache`
        False keeps the eval-mode rule alone, to measure what the cache saves). A model
        left with nothing to train is a zero-shot run (validated once) when the method trains
        no backbone by design (`frozen` on a language model), else the run fails."""
        training = self.spec.training
        trains = any(p.requires_grad for p in model.parameters())
        if not trains and self.method.trains_backbone:
            raise RunFailed("unsupported", f"method {self.method.name} left nothing to train")
        selection = self.family.metric(training.selection_metric)

        groups = options.pop("groups", None) or self.method_groups(model)

        def run() -> TrainOutcome:
            if not trains:
                started = time.perf_counter()
                validation = validate(model)
                return zero_shot(validation, elapsed(started))
            return fit(
                model,
                batches,
                loader,
                validate,
                training,
                selection,
                self.accelerator,
                self.on_step,
                groups=groups,
                after_step=self._after_step(),
                **options,
            )

        if prefix_tokens is None:
            return run()
        return with_frozen_prefix(model, prefix_tokens, trains and cache, run)
