"""Is a row of a results table significantly worse than the best row? A paired bootstrap.

Every run stores per-example values of its test split (`metrics.test_examples`). Two groups
of runs (table rows, each a set of seeds) scored on the same test examples are compared by
resampling the examples with replacement: on each resample each run's metric is recomputed
from its per-example values, averaged over the row's seeds, and the rows' difference taken.
The two-sided p-value is twice the share of resamples on which the worse row comes out ahead
(or level), so p < 0.05 means the best row's lead survives 95% of resamplings of the test set.
Rows are paired only when their runs saw the same test examples (same task settings and data).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

RESAMPLES = 2000
SEED = 0
Arrays = dict[str, np.ndarray]
"""Per-example values, each indexed to shape (resamples, examples)."""


def _mean(key: str) -> Callable[[Arrays], np.ndarray]:
    return lambda e: e[key].mean(axis=1)


def _matches(prediction: str) -> Callable[[Arrays], np.ndarray]:
    return lambda e: (e[prediction] == e["label"]).mean(axis=1)


def _macro(kind: str) -> Callable[[Arrays], np.ndarray]:
    """Macro precision, recall or F1 (zero where undefined, as scikit-learn's zero_division=0)."""

    def metric(e: Arrays) -> np.ndarray:
        prediction, label = e["prediction"], e["label"]
        classes = np.unique(np.concatenate([np.unique(prediction), np.unique(label)]))
        scores = []
        for c in classes:
            tp = ((prediction == c) & (label == c)).sum(axis=1)
            predicted, actual = (prediction == c).sum(axis=1), (label == c).sum(axis=1)
            precision = np.divide(tp, predicted, out=np.zeros(len(tp)), where=predicted > 0)
            recall = np.divide(tp, actual, out=np.zeros(len(tp)), where=actual > 0)
            both = precision + recall
            f1 = np.divide(2 * precision * recall, both, out=np.zeros(len(tp)), where=both > 0)
            scores.append({"precision": precision, "recall": recall, "f1": f1}[kind])
        return np.mean(scores, axis=0)

    return metric


def _token_loss(e: Arrays) -> np.ndarray:
    return e["nll"].sum(axis=1) / np.maximum(e["tokens"].sum(axis=1), 1)


def _loss(e: Arrays) -> np.ndarray:
    if "nll" in e:  # generation: mean token loss
        return _token_loss(e)
    return np.logaddexp(0.0, -e["reward_margin"]).mean(axis=1)  # DPO


def _r2(e: Arrays) -> np.ndarray:
    variance = e["target"].var(axis=1)
    return 1.0 - (e["error"] ** 2).mean(axis=1) / np.where(variance > 0, variance, np.nan)


RESAMPLABLE: dict[str, Callable[[Arrays], np.ndarray]] = {
    "accuracy": _matches("prediction"),
    "accuracy_norm": _matches("prediction_norm"),
    "precision_macro": _macro("precision"),
    "recall_macro": _macro("recall"),
    "f1_macro": _macro("f1"),
    "perplexity": lambda e: np.exp(_token_loss(e)),
    "loss": _loss,
    "rouge1": _mean("rouge1"),
    "rouge2": _mean("rouge2"),
    "rougeL": _mean("rougeL"),
    "exact_match": _mean("exact_match"),
    "reward_accuracy": lambda e: (e["reward_margin"] > 0).mean(axis=1),
    "reward_margin": _mean("reward_margin"),
    "logp_accuracy": lambda e: (e["logp_margin"] > 0).mean(axis=1),
    "mse": lambda e: (e["error"] ** 2).mean(axis=1),
    "rmse": lambda e: np.sqrt((e["error"] ** 2).mean(axis=1)),
    "mae": lambda e: np.abs(e["error"]).mean(axis=1),
    "r2": _r2,
}
"""Metrics that can be recomputed from per-example values, vectorised over resamples."""


def resampled(metric: str, runs: list[dict[str, list]], indices: np.ndarray) -> np.ndarray:
    """`metric` of each resample (rows of `indices`), averaged over `runs` (a row's seeds)."""
    values = []
    for examples in runs:
        arrays = {key: np.asarray(column)[indices] for key, column in examples.items()}
        values.append(RESAMPLABLE[metric](arrays))
    return np.mean(values, axis=0)


def paired_bootstrap_p(
    metric: str,
    best: list[dict[str, list]],
    other: list[dict[str, list]],
    lower_is_better: bool,
    resamples: int = RESAMPLES,
) -> float | None:
    """Two-sided p-value that `other` is as good as `best` on `metric`, or None when the test
    cannot be made (a metric that is not per-example, missing or mismatched examples)."""
    runs = [*best, *other]
    if metric not in RESAMPLABLE or not best or not other:
        return None
    sizes = {len(column) for examples in runs for column in examples.values()}
    if len(sizes) != 1 or not sizes.pop():
        return None
    n = len(next(iter(runs[0].values())))
    indices = np.random.default_rng(SEED).integers(0, n, size=(resamples, n))
    try:
        lead = resampled(metric, best, indices) - resampled(metric, other, indices)
    except KeyError:  # runs recorded without the values this metric needs
        return None
    if lower_is_better:
        lead = -lead
    lead = lead[~np.isnan(lead)]
    if not len(lead):
        return None
    return float(min(1.0, 2 * np.mean(lead <= 0)))
