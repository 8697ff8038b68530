"""The decoder families' common base: metrics they share and the recipe they run.

A family (generation, multiple choice, preference) only says how its data becomes training
batches and scoring functions (`prepare`); `train_and_test` runs the shared recipe (recipe.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tunebench.families.base import Family, SplitLengths
from tunebench.metrics import Metric

if TYPE_CHECKING:
    from tunebench.families.causal_lm.scoring import CausalRun
    from tunebench.families.causal_lm.sequences import Renderer
    from tunebench.families.context import FamilyResult, RunContext
    from tunebench.models.backbones import Backbone


def _token_loss(e) -> np.ndarray:
    return e["nll"].sum(axis=1) / np.maximum(e["tokens"].sum(axis=1), 1)


PERPLEXITY = Metric("perplexity", False, resample=lambda e: np.exp(_token_loss(e)))
"""Corpus-level: exp of the mean loss over every scored token."""
TOKEN_LOSS = Metric("loss", False, resample=_token_loss)
"""The mean loss per scored token."""


class CausalLMFamily(Family):
    """Base of the families that train a decoder with its language-modelling head."""

    model_kind = "causal_lm"
    baseline = "zero_shot"  # `frozen` trains nothing here: the model as loaded

    def prepare(self, context: RunContext, backbone: Backbone) -> CausalRun:
        """The run's batches and scoring, from the data and the model as loaded (before the
        method is applied: DPO's reference model is the model as loaded)."""
        raise NotImplementedError

    def sequence_lengths(self, renderer: Renderer, split, max_length: int, train: bool) -> list:
        """Tokens of each sequence `prepare` builds from `split` (the training batches' rows
        when `train`, else the scored sequences), rendered as the run renders them."""
        raise NotImplementedError

    def prompt_format(self, task) -> str:
        """The renderer's format for `task` (`auto` resolves against the tokenizer)."""
        return task.prompt_format

    def token_lengths(self, spec, data) -> SplitLengths:
        from tunebench.families.causal_lm.sequences import Renderer, resolve_format
        from tunebench.models.backbones import load_tokenizer

        tokenizer = load_tokenizer(spec.backbone, spec.trust_remote_code)
        renderer = Renderer(tokenizer, resolve_format(self.prompt_format(spec.task), tokenizer))
        length = spec.training.max_length
        return SplitLengths(
            self.sequence_lengths(renderer, data.train, length, True),
            self.sequence_lengths(renderer, data.validation, length, False),
            self.sequence_lengths(renderer, data.test, length, False),
        )

    def train_and_test(self, context: RunContext) -> FamilyResult:
        from tunebench.families.causal_lm.recipe import train_and_test

        return train_and_test(self.prepare, context)
