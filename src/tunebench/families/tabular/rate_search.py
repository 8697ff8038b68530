"""The downstream model's learning rate, picked on the validation split.

A fixed rate suits one table and not the next: at the FT-Transformer paper's 1e-4 a user's MLP
stayed at its majority class, and so did one of three seeds of the frozen MiniLM + MLP pipeline
on clothing_reviews_recommend (docs/results.md), early stopping before it learned. With
`learning_rate: search` (the default) the downstream model trains once per candidate rate, from
the same seeded start and in the same seeded batches, and the run keeps the candidate with the
best validation score (ties: the better macro F1, then the lower rate). Only the validation
split decides; the test split is scored once, on the kept model. Every candidate's outcome is
recorded in the run, and the run's train and validation times are the whole search's, so its
cost is what it took.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from tunebench.families.tabular.config import DownstreamTrainingConfig
from tunebench.families.tabular.data import Problem
from tunebench.training.clock import elapsed
from tunebench.training.costs import validation_seconds
from tunebench.training.loop import RunFailed, TrainOutcome


@dataclass
class RateChoice:
    """The kept candidate: its model (best epoch restored), its training, and the search."""

    model: nn.Module
    outcome: TrainOutcome
    learning_rate: float
    search: list[dict]
    """Per candidate: learning_rate, validation score, epochs, best_epoch, train_seconds."""
    train_seconds: float
    """The whole search's training time (every candidate's, validation passes apart)."""
    validation_seconds: float
    """Every candidate's validation passes."""


def candidate_rates(config: DownstreamTrainingConfig) -> tuple[float, ...]:
    """The rates a run tries: the search's candidates, or the one fixed rate."""
    if config.learning_rate == "search":
        return tuple(config.search_rates)
    return (config.learning_rate,)


Train = Callable[[nn.Module, DownstreamTrainingConfig], TrainOutcome]
"""(model, settings at one rate) -> its training, best epoch restored (`train_downstream` with
the run's data, seed and accelerator bound)."""


def fit_at_best_rate(
    build: Callable[[], nn.Module], train: Train, config: DownstreamTrainingConfig, problem: Problem
) -> RateChoice:
    """Train a fresh `build()` at each candidate rate and keep the best on validation.

    `build` must seed its own initialisation so that every candidate starts from the same
    weights. A candidate whose loss diverges is recorded and passed over; the run fails as
    `diverged` only if every candidate does.
    """
    rates = candidate_rates(config)
    best: tuple[dict, nn.Module, TrainOutcome] | None = None
    search: list[dict] = []
    for rate in rates:
        model, started = build(), time.perf_counter()
        try:
            outcome = train(model, config.model_copy(update={"learning_rate": rate}))
        except RunFailed as failure:
            if failure.reason != "diverged" or len(rates) == 1:
                raise
            search.append(_diverged(rate, str(failure), elapsed(started)))
            continue
        search.append(entry := _candidate(rate, outcome, problem))
        if best is None or _key(entry, problem) > _key(best[0], problem):
            best = (entry, model, outcome)
    if best is None:
        raise RunFailed("diverged", f"at every candidate learning rate {list(rates)}")
    entry, model, outcome = best
    return RateChoice(
        model,
        outcome,
        entry["learning_rate"],
        search,
        train_seconds=sum(e["train_seconds"] for e in search),
        validation_seconds=sum(e["validation_seconds"] for e in search),
    )


def _candidate(rate: float, outcome: TrainOutcome, problem: Problem) -> dict:
    score = "accuracy" if problem == "classification" else "rmse"
    return {
        "learning_rate": rate,
        "validation": outcome.best_validation.get(score),
        "validation_f1_macro": outcome.best_validation.get("f1_macro"),
        "epochs": sum("validation" in entry for entry in outcome.history),
        "best_epoch": outcome.best_epoch,
        "train_seconds": outcome.train_seconds,
        "validation_seconds": validation_seconds(outcome),
    }


def _diverged(rate: float, why: str, seconds: float) -> dict:
    return {
        "learning_rate": rate,
        "validation": None,
        "diverged": why,
        "train_seconds": seconds,
        "validation_seconds": 0.0,
    }


def _key(entry: dict, problem: Problem) -> tuple:
    """Larger is better: the validation score (RMSE negated), then macro F1, then a lower rate.
    A candidate without a finite score (its training diverged) ranks below every other."""
    score = entry["validation"]
    if score is None or math.isnan(score):
        score = math.inf if problem == "regression" else -math.inf
    if problem == "regression":
        return (-score, 0.0, -entry["learning_rate"])
    return (score, entry["validation_f1_macro"] or 0.0, -entry["learning_rate"])
