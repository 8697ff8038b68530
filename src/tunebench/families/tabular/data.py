"""What a loaded tabular task hands to the downstream models: model-ready arrays per split.

Everything here is already preprocessed (fitted on train only, see `preprocess`), so a model
never touches raw cells: numeric features are float32 and on a common scale, categorical
features are integer codes with 0 = missing and 1 = unseen in training, and text cells are
plain strings ("" where the cell was missing) for the language model to embed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Problem = Literal["regression", "classification"]
NumericTransform = Literal["standard", "quantile"]


@dataclass(frozen=True)
class Roles:
    """Which column plays which part: the features by kind, the target, the problem type."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    text: tuple[str, ...]
    target: str
    problem: Problem

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical, *self.text)


@dataclass(frozen=True)
class TabularSplit:
    """One split: numeric (n, n_num) float32, categorical codes (n, n_cat) int64, texts per
    column (one string per row), target (float32 for regression, int64 class ids otherwise),
    and each row's index in the source file (0-based, header not counted)."""

    numeric: np.ndarray
    categorical: np.ndarray
    texts: dict[str, list[str]]
    target: np.ndarray
    ids: list[int]

    def __len__(self) -> int:
        return len(self.target)


@dataclass(frozen=True)
class TabularData:
    """A loaded tabular task: three fixed, preprocessed splits and what the models need to size
    themselves (feature names, category counts, labels or target scale) plus the data's hash.

    `numeric_features` names the columns of `numeric`, missing indicators included ("Age:missing");
    `cardinalities[i]` is the number of codes of categorical feature i (2 reserved + the
    categories seen in train); `target_mean` / `target_std` (regression only) are train
    statistics for the models to standardise the target with.
    """

    name: str
    problem: Problem
    numeric_features: list[str]
    categorical_features: list[str]
    cardinalities: list[int]
    text_columns: list[str]
    label_names: list[str] | None
    target_mean: float | None
    target_std: float | None
    train: TabularSplit
    validation: TabularSplit
    test: TabularSplit
    data_sha256: str

    @property
    def splits(self) -> dict[str, TabularSplit]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    @property
    def d_out(self) -> int:
        """A model's output width: one logit per class, or one number."""
        return len(self.label_names) if self.problem == "classification" else 1


def distinct_texts(data: TabularData) -> list[str]:
    """Every distinct non-empty text over all text columns and splits, sorted.

    A frozen backbone embeds each of these exactly once; sorting makes the order independent of
    splits, sample caps and column order, so the same texts always come in the same order.
    """
    seen = {t for split in data.splits.values() for col in split.texts.values() for t in col}
    seen.discard("")
    return sorted(seen)
