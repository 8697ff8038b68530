"""Recorded runs built in code, with per-example test values, for the results layer's tests."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from tunebench.records import RunRecord

LABELS = [0] * 80 + [1] * 20
"""A test split whose majority class (0) scores 80% accuracy."""


def predictions(accuracy: float, seed: int) -> list[int]:
    """Predictions of LABELS right on exactly `accuracy` of the examples, wrong on a random
    (seeded) set of the others."""
    wrong = np.random.default_rng(seed).permutation(len(LABELS))[
        : round((1 - accuracy) * len(LABELS))
    ]
    return [1 - y if i in wrong else y for i, y in enumerate(LABELS)]


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
    """A completed classification run with `accuracy` on LABELS."""
    predicted = predictions(accuracy, seed * 1000 + zlib.crc32(method.encode()) % 1000)
    return run(
        method,
        seed,
        {"accuracy": accuracy},
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


def store_runs(folder, records: list[RunRecord]) -> None:
    """Record `records` in `folder/results.sqlite` as a study would have."""
    from tunebench.owners import this_process
    from tunebench.records import NewRun
    from tunebench.store import ResultsStore

    folder.mkdir(parents=True, exist_ok=True)
    with ResultsStore(folder / "results.sqlite") as store:
        for r in records:
            new = NewRun(
                r.run_id, r.study, r.backbone, r.task, r.method, r.seed, r.config, r.provenance
            )
            store.claim(new, this_process())
            store.finish(r.run_id, "completed", r.metrics, r.costs, r.history)
