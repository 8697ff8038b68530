"""The downstream trainer on synthetic tables: it learns, restores its best epoch, stops early."""

import numpy as np
import pytest
import torch

from tunebench.families.tabular.models import DOWNSTREAM_MODELS, FTTransformerConfig, MLPConfig
from tunebench.families.tabular.train import (
    DownstreamTrainingConfig,
    Features,
    evaluate_downstream,
    train_downstream,
)
from tunebench.training.config import TrainingConfig
from tunebench.training.metrics import regression_metrics
from tunebench.training.optim import make_accelerator

ACCELERATOR = make_accelerator(TrainingConfig())


def table(n: int, seed: int, problem: str) -> Features:
    """y depends on a numeric column, a category and a 4-wide 'text embedding'."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 2)).astype(np.float32)
    categorical = rng.integers(2, 5, size=(n, 1)).astype(np.int64)
    text = rng.normal(size=(n, 4)).astype(np.float32)
    signal = numeric[:, 0] + (categorical[:, 0] == 3) + text[:, 1]
    target = (signal > 0.5).astype(np.int64) if problem == "classification" else signal * 3 + 10
    return Features(
        numeric,
        categorical,
        [text],
        target.astype(np.int64 if problem == "classification" else np.float32),
    )


def build(name: str, d_out: int):
    torch.manual_seed(0)
    model = DOWNSTREAM_MODELS[name]
    config = (
        FTTransformerConfig(n_blocks=1, d_block=32)
        if name == "ft_transformer"
        else MLPConfig(n_blocks=1, d_block=32)
    )
    return model.build(config, n_num=2, cat_cardinalities=[5], text_dims=[4], d_out=d_out)


FAST = DownstreamTrainingConfig(max_epochs=30, patience=5, batch_size=64, learning_rate=3e-3)


@pytest.mark.parametrize("name", ["ft_transformer", "mlp"])
def test_regression_learns_on_the_original_scale(name):
    train, validation = table(512, 0, "regression"), table(128, 1, "regression")
    mean, std = float(train.target.mean()), float(train.target.std())
    model = build(name, 1)
    outcome = train_downstream(
        model, "regression", train, validation, FAST, 0, ACCELERATOR, mean, std
    )
    baseline = regression_metrics(np.full(128, mean), validation.target)["rmse"]
    assert outcome.best_validation["rmse"] < 0.5 * baseline
    assert outcome.best_validation["r2"] > 0.7


@pytest.mark.parametrize("name", ["ft_transformer", "mlp"])
def test_classification_learns(name):
    train, validation = table(512, 0, "classification"), table(128, 1, "classification")
    model = build(name, 2)
    outcome = train_downstream(model, "classification", train, validation, FAST, 0, ACCELERATOR)
    assert outcome.best_validation["accuracy"] > 0.85


def test_best_epoch_is_restored_and_patience_stops():
    train, validation = table(256, 0, "regression"), table(64, 1, "regression")
    mean, std = float(train.target.mean()), float(train.target.std())
    model = build("mlp", 1)
    config = DownstreamTrainingConfig(max_epochs=200, patience=3, batch_size=64, learning_rate=3e-3)
    reports = []
    outcome = train_downstream(
        model,
        "regression",
        train,
        validation,
        config,
        0,
        ACCELERATOR,
        mean,
        std,
        on_step=lambda step, total, loss: reports.append((step, total, loss)),
    )
    epochs = sum("validation" in entry for entry in outcome.history)
    assert epochs == outcome.best_epoch + 1 + 3 or epochs == 200  # patience 3 stopped it
    # the loop's progress reports: every 10 steps, of 4 steps per epoch x 200 epochs
    assert reports and all(total == 4 * 200 and step % 10 == 0 for step, total, _ in reports)
    assert [loss for *_, loss in reports] == [h["loss"] for h in outcome.history if "loss" in h]
    again = evaluate_downstream(model, "regression", validation, config, mean, std)
    assert again["rmse"] == pytest.approx(outcome.best_validation["rmse"], rel=1e-6)


def test_regression_metrics_by_hand():
    metrics = regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 3.0]))
    assert metrics["mse"] == pytest.approx(2 / 3)
    assert metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["rmse"] == pytest.approx((2 / 3) ** 0.5)
    assert metrics["r2"] == pytest.approx(1 - (2 / 3) / np.var([1.0, 3.0, 3.0]))
