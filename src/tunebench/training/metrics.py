"""Classification metrics from predicted probabilities: what the results table reports."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    precision_recall_fscore_support,
    roc_auc_score,
)

HIGHER_IS_BETTER = {
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "auroc",
    "r2",
    "accuracy_norm",
    "exact_match",
    "rouge1",
    "rouge2",
    "rougeL",
    "reward_accuracy",
    "reward_margin",
    "logp_accuracy",
}


def classification_metrics(
    probabilities: np.ndarray, labels: np.ndarray, label_names: list[str]
) -> dict:
    """Accuracy, macro precision / recall / F1, AUROC (binary) and a per-class report."""
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
    return metrics


LOWER_IS_BETTER = {"mse", "rmse", "mae", "loss", "perplexity", "chosen_perplexity"}


def regression_metrics(predictions: np.ndarray, targets: np.ndarray) -> dict:
    """MSE, RMSE, MAE and R² on the original target scale."""
    errors = predictions.astype(np.float64) - targets.astype(np.float64)
    mse = float(np.mean(errors**2))
    variance = float(np.var(targets))
    return {
        "mse": mse,
        "rmse": mse**0.5,
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1.0 - mse / variance if variance > 0 else None,
    }
