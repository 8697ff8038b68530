"""Metrics from predictions: what the results table reports.

Each metric function also returns the per-example values its metrics are computed from
(`examples`), so that a report can resample the test examples (a paired bootstrap between
two runs scored on the same examples); `separate_examples` decides what of it is stored.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    precision_recall_fscore_support,
    roc_auc_score,
)


def classification_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    label_names: list[str],
    rows: list | None = None,
) -> dict:
    """Accuracy, macro precision / recall / F1, AUROC (binary) and a per-class report; the
    per-example values carry each example's `row` (its id in the source data) when given."""
    predictions = probabilities.argmax(axis=1)
    all_labels = list(range(len(label_names)))
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predictions, labels=all_labels, average="macro", zero_division=0
    )
    metrics = {
        "accuracy": float(accuracy_score(labels, predictions)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
    }
    if len(label_names) == 2:
        both_present = len(np.unique(labels)) == 2
        metrics["auroc"] = (
            float(roc_auc_score(labels, probabilities[:, 1])) if both_present else None
        )
    metrics["per_class"] = classification_report(
        labels,
        predictions,
        labels=all_labels,
        target_names=label_names,
        output_dict=True,
        zero_division=0,
    )
    metrics["examples"] = with_rows(
        {"prediction": predictions.tolist(), "label": labels.tolist()}, rows
    )
    return metrics


def regression_metrics(
    predictions: np.ndarray, targets: np.ndarray, rows: list | None = None
) -> dict:
    """MSE, RMSE, MAE and R² on the original target scale."""
    errors = predictions.astype(np.float64) - targets.astype(np.float64)
    mse = float(np.mean(errors**2))
    variance = float(np.var(targets))
    return {
        "mse": mse,
        "rmse": mse**0.5,
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1.0 - mse / variance if variance > 0 else None,
        "examples": with_rows(
            {"error": errors.tolist(), "target": targets.astype(np.float64).tolist()}, rows
        ),
    }


def with_rows(examples: dict, rows: list | None) -> dict:
    """Per-example values with the examples' ids in the source data (`row`), so that a user can
    join predictions back to their file: a row index (0-based, header not counted) or a built-in
    data set's own id."""
    return examples if rows is None else {**examples, "row": list(rows)}


def separate_examples(metrics: dict) -> dict:
    """The run's metrics as stored: every metric function also returns per-example values
    under `examples`; the test split's move to `test_examples` (for paired significance
    tests over test examples), the others (validation, a two-step run's step 1) are dropped."""
    test_examples = metrics.get("test", {}).get("examples")
    stored = _without_examples(metrics)
    if test_examples is not None:
        stored["test_examples"] = test_examples
    return stored


def _without_examples(value):
    if isinstance(value, dict):
        return {k: _without_examples(v) for k, v in value.items() if k != "examples"}
    return value
