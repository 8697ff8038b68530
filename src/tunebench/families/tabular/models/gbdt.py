"""Gradient-boosted trees (LightGBM): the baseline any tabular deep model has to beat.

Two uses: trees on the language model's text embeddings (the embeddings become plain numeric
columns), and trees without a language model, on TF-IDF features of the text (`tfidf_features`).
Categorical codes are declared categorical to LightGBM, dense or scipy-sparse input alike (a
sparse CSR matrix keeps its categorical splits; the tests check both). Training stops early on
the validation split and predicts with the best iteration. `deterministic=True` with a fixed
seed and thread count gives bit-identical models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from tunebench.families.tabular.models.configs import GBDTConfig

Problem = Literal["regression", "classification"]


class TreeData(TypedDict):
    """One split's features; the torch models' inputs as numpy / scipy arrays."""

    x_num: np.ndarray
    """(n, n_num) float; n_num may be 0."""
    x_cat: np.ndarray
    """(n, n_cat) int codes; declared categorical to LightGBM."""
    texts: Sequence[np.ndarray | sp.spmatrix | sp.sparray]
    """One (n, d_i) block per text column: embeddings, or sparse TF-IDF from `tfidf_features`."""
    y: NotRequired[np.ndarray]
    """Regression values or class ids in [0, n_classes); needed to fit, not to predict."""


@dataclass(frozen=True)
class FittedGBDT:
    booster: lgb.Booster
    problem: Problem
    n_classes: int | None


def _matrix(data: TreeData) -> tuple[np.ndarray | sp.csr_matrix, list[str]]:
    """Categorical columns first (indices 0..n_cat-1), then numeric, then text blocks."""
    x_cat, x_num, texts = data["x_cat"], data["x_num"], list(data["texts"])
    names = [f"cat_{i}" for i in range(x_cat.shape[1])] + [
        f"num_{i}" for i in range(x_num.shape[1])
    ]
    names += [f"text{j}_{k}" for j, block in enumerate(texts) for k in range(block.shape[1])]
    blocks = [x_cat.astype(np.float64), x_num.astype(np.float64), *texts]
    if any(sp.issparse(block) for block in texts):
        return sp.hstack(blocks, format="csr", dtype=np.float64), names
    return np.hstack(blocks), names


def _params(config: GBDTConfig, problem: Problem, n_classes: int | None) -> dict[str, object]:
    if problem == "regression":
        objective: dict[str, object] = {"objective": "regression", "metric": "l2"}
    elif n_classes == 2:
        objective = {"objective": "binary", "metric": "binary_logloss"}
    else:
        objective = {"objective": "multiclass", "metric": "multi_logloss", "num_class": n_classes}
    return {
        **objective,
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "seed": config.seed,
        "num_threads": config.num_threads,
        "deterministic": True,
        "force_row_wise": True,  # LightGBM's advice with deterministic=True
        "verbosity": -1,
    }


def fit_gbdt(
    config: GBDTConfig,
    problem: Problem,
    train: TreeData,
    validation: TreeData,
    n_classes: int | None = None,
) -> FittedGBDT:
    """Boost up to `n_estimators` rounds, stopping when validation loss stalls."""
    if (problem == "classification") != (n_classes is not None):
        raise ValueError("n_classes is required for classification and only for it")
    if n_classes is not None and n_classes < 2:
        raise ValueError(f"classification needs at least 2 classes, got {n_classes}")
    categorical = list(range(train["x_cat"].shape[1]))
    x_train, names = _matrix(train)
    x_valid, _ = _matrix(validation)
    params = _params(config, problem, n_classes)
    train_set = lgb.Dataset(
        x_train, train["y"], feature_name=names, categorical_feature=categorical, params=params
    )
    valid_set = lgb.Dataset(x_valid, validation["y"], reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.n_estimators,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    return FittedGBDT(booster, problem, n_classes)


def predict(model: FittedGBDT, data: TreeData) -> np.ndarray:
    """Regression: (n,) values. Classification: (n, n_classes) probabilities."""
    x, _ = _matrix(data)
    out = model.booster.predict(x, num_iteration=model.booster.best_iteration)
    if model.problem == "classification" and model.n_classes == 2:
        out = np.column_stack([1 - out, out])
    return np.asarray(out)


def tfidf_features(
    train_texts: Sequence[str], *other_texts: Sequence[str], max_features: int = 1000
) -> list[sp.csr_matrix]:
    """TF-IDF of one text column, vocabulary and IDF fitted on `train_texts` alone.

    Returns the train matrix, then one matrix per `other_texts` split (same columns; a word
    never seen in training has no column). Sublinear term frequency, float32.
    """
    vectorizer = TfidfVectorizer(max_features=max_features, sublinear_tf=True, dtype=np.float32)
    return [vectorizer.fit_transform(train_texts)] + [
        vectorizer.transform(texts) for texts in other_texts
    ]
