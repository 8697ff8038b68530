"""What a metric is, once: which way is better, whether tables show it as a percent, and how
to recompute it from a run's per-example test values (for the paired bootstrap).

Each family declares the metrics it reports (`Family.metrics`, built from the definitions here
and its own); the loop picks the best epoch with the same `Metric` the tables rank rows by and
the statistics resample, so no two places can disagree about a direction. Per-example values
are arrays indexed to (resamples, examples): a resample function returns one value per resample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Arrays = dict[str, np.ndarray]
"""Per-example values of a test split, each indexed to shape (resamples, examples)."""
Resample = Callable[[Arrays], np.ndarray]


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    percent: bool = False
    """Tables show it x 100 (accuracy-like metrics)."""
    resample: Resample | None = None
    """Recomputes it from per-example values; None: not resamplable (no significance test)."""

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    def better(self, score: float, than: float) -> bool:
        return score > than if self.higher_is_better else score < than


def metric_table(*metrics: Metric) -> dict[str, Metric]:
    return {m.name: m for m in metrics}


def mean_of(key: str) -> Resample:
    return lambda e: e[key].mean(axis=1)


def matches(prediction: str) -> Resample:
    return lambda e: (e[prediction] == e["label"]).mean(axis=1)


def _macro(kind: str) -> Resample:
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


def _r2(e: Arrays) -> np.ndarray:
    variance = e["target"].var(axis=1)
    return 1.0 - (e["error"] ** 2).mean(axis=1) / np.where(variance > 0, variance, np.nan)


# Classification, by a text model or a tabular one: predictions against labels.
ACCURACY = Metric("accuracy", True, True, matches("prediction"))
PRECISION_MACRO = Metric("precision_macro", True, True, _macro("precision"))
RECALL_MACRO = Metric("recall_macro", True, True, _macro("recall"))
F1_MACRO = Metric("f1_macro", True, True, _macro("f1"))
AUROC = Metric("auroc", True, True)
CLASSIFICATION = (ACCURACY, PRECISION_MACRO, RECALL_MACRO, F1_MACRO, AUROC)

# Regression: errors on the target's original scale.
MSE = Metric("mse", False, resample=lambda e: (e["error"] ** 2).mean(axis=1))
RMSE = Metric("rmse", False, resample=lambda e: np.sqrt((e["error"] ** 2).mean(axis=1)))
MAE = Metric("mae", False, resample=lambda e: np.abs(e["error"]).mean(axis=1))
R2 = Metric("r2", True, resample=_r2)
REGRESSION = (MSE, RMSE, MAE, R2)
