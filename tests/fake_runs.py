"""Recorded runs built in code, with per-example test values, for the results layer's tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from tunebench.records import RunRecord

LABELS = [0] * 80 + [1] * 20
"""A test split whose majority class (0) scores 80% accuracy."""


def predictions(accuracy: float, seed: int) -> list[int]:
    """Predictions of LABELS that are right on a random `accuracy` share of the examples."""
    wrong = np.random.default_rng(seed).random(len(LABELS)) > accuracy
    return [1 - y if w else y for y, w in zip(LABELS, wrong, strict=True)]


def classifier_run(
    method: str,
    seed: int,
    accuracy: float,
    costs: dict[str, float] | None = None,
    best_epoch: int = 0,
    epochs: int = 2,
    task: str = "sms_spam",
    backbone: str = "minilm-l6",
    settings: dict[str, Any] | None = None,
) -> RunRecord:
    """A completed classification run with `accuracy` on LABELS (approximately: sampled)."""
    predicted = predictions(accuracy, seed * 1000 + hash(method) % 1000)
    right = float(np.mean(np.asarray(predicted) == np.asarray(LABELS)))
    return run(
        method,
        seed,
        {"accuracy": right},
        {"prediction": predicted, "label": LABELS},
        costs,
        best_epoch,
        epochs,
        {"name": task},
        backbone,
        settings,
    )


def run(
    method: str,
    seed: int,
    test: dict[str, float],
    examples: dict[str, list],
    costs: dict[str, float] | None = None,
    best_epoch: int = 0,
    epochs: int = 2,
    task: dict[str, Any] | None = None,
    backbone: str = "minilm-l6",
    settings: dict[str, Any] | None = None,
) -> RunRecord:
    task = task or {"name": "sms_spam"}
    return RunRecord(
        run_id=f"{backbone}-{task['name']}-{method}-{seed}-{sorted((settings or {}).items())}",
        study="fake",
        status="completed",
        reason=None,
        backbone=backbone,
        task=task["name"],
        method=method,
        seed=seed,
        config={"method": {"name": method, **(settings or {})}, "task": task},
        metrics={"test": test, "test_examples": examples},
        costs={"best_epoch": best_epoch, **(costs or {})},
        provenance={"data_sha256": "same"},
        history=[{"epoch": e, "step": e + 1, "validation": {}} for e in range(epochs)],
        started_at="2026-12-03T00:00:00",
        finished_at="2026-12-03T00:01:00",
    )
