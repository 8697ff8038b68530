"""Tabular tasks: config rules, parsing errors, train-only preprocessing, splits, built-in data."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from tunebench.errors import UserError
from tunebench.families.tabular.config import TabularTaskConfig
from tunebench.families.tabular.data import TabularData, distinct_texts
from tunebench.families.tabular.load import load_tabular_task
from tunebench.families.tabular.tasks import BUILTIN_TABULAR_TASKS

FEATURES = {"numeric": ["x", "z"], "categorical": ["colour"], "text": ["note"]}


def _frame(n: int = 100) -> pd.DataFrame:
    """A small table with every role: numeric x (0..n-1), constant z, a colour, a note, label y."""
    i = np.arange(n)
    return pd.DataFrame(
        {
            "x": i.astype(float),
            "z": np.full(n, 7.0),
            "colour": np.array(["red", "green", "blue"])[i % 3],
            "note": [f"note {k % 10}" for k in i],
            "y": np.where(i % 4 == 0, "b", "a"),
            "amount": i * 2.5,
        }
    )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


def _load(path: Path, **kw) -> TabularData:
    fields = {**FEATURES, "target": "y", "problem": "classification", **kw}
    return load_tabular_task(TabularTaskConfig(name="mine", path=path, **fields))


def _error(path: Path, **kw) -> str:
    with pytest.raises(UserError) as err:
        _load(path, **kw)
    return str(err.value)


def _with_split(frame: pd.DataFrame, test_rows: list[int], validation_rows=()) -> pd.DataFrame:
    split = np.array(["train"] * len(frame), dtype=object)
    split[list(validation_rows)] = "validation"
    split[test_rows] = "test"
    return frame.assign(split=split)


def _equal(a: TabularData, b: TabularData) -> bool:
    """Field-by-field equality, arrays compared by value (dataclass == cannot compare arrays)."""
    for field in dataclasses.fields(TabularData):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.name in ("train", "validation", "test"):
            same = (
                np.array_equal(x.numeric, y.numeric)
                and np.array_equal(x.categorical, y.categorical)
                and np.array_equal(x.target, y.target)
                and x.texts == y.texts
                and x.numeric.dtype == y.numeric.dtype
            )
        else:
            same = x == y
        if not same:
            return False
    return True


# --- config -----------------------------------------------------------------------------------


def test_builtin_config_takes_no_roles_or_path():
    assert TabularTaskConfig(name="adult").numeric_transform == "quantile"
    with pytest.raises(ValidationError, match="target only apply to a task read from a file"):
        TabularTaskConfig(name="adult", target="age")
    with pytest.raises(ValidationError, match="built in and takes no path"):
        TabularTaskConfig(name="adult", path="x.csv")
    with pytest.raises(ValidationError, match="unknown task 'nope'.*tabular.*adult"):
        TabularTaskConfig(name="nope")


def test_file_config_needs_target_problem_and_a_feature(tmp_path):
    path = tmp_path / "t.csv"
    with pytest.raises(ValidationError, match="set target and problem"):
        TabularTaskConfig(name="mine", path=path, numeric=["x"])
    with pytest.raises(ValidationError, match="at least one feature column"):
        TabularTaskConfig(name="mine", path=path, target="y", problem="regression")
    with pytest.raises(ValidationError, match=r"column 'x' is given 2 times \(in numeric, text\)"):
        TabularTaskConfig(
            name="mine", path=path, numeric=["x"], text=["x"], target="y", problem="regression"
        )
    with pytest.raises(ValidationError, match=r"column 'y' is given 2 times \(in numeric, target"):
        TabularTaskConfig(name="mine", path=path, numeric=["y"], target="y", problem="regression")
    with pytest.raises(ValidationError, match="numeric_transform"):
        TabularTaskConfig(name="adult", numeric_transform="minmax")


# --- parsing errors ---------------------------------------------------------------------------


def test_unknown_column_lists_the_existing_ones(tmp_path):
    path = _write(_frame(), tmp_path / "t.csv")
    msg = _error(path, numeric=["x", "Age"])
    assert str(path) in msg and "no column 'Age'" in msg
    assert "'x', 'z', 'colour', 'note', 'y', 'amount'" in msg


def test_text_column_holding_numbers_is_refused(tmp_path):
    path = _write(_frame(), tmp_path / "t.parquet")
    msg = _error(path, text=["amount"])
    assert "column 'amount' declared text holds numbers" in msg and str(path) in msg


def test_numeric_column_with_words_names_the_first_bad_row(tmp_path):
    frame = _frame().astype({"x": object})
    frame.loc[[4, 9], "x"] = "lots"
    msg = _error(_write(frame, tmp_path / "t.csv"))
    assert "column 'x' holds the non-number 'lots' in data row 5" in msg


def test_nan_regression_target_names_column_and_rows(tmp_path):
    frame = _frame()
    frame.loc[[2, 6], "amount"] = np.nan
    msg = _error(_write(frame, tmp_path / "t.parquet"), target="amount", problem="regression")
    assert "target column 'amount' is missing in data rows 3, 7" in msg


def test_single_class_and_empty_file_are_errors(tmp_path):
    frame = _frame().assign(y="a")
    assert "only one class ('a')" in _error(_write(frame, tmp_path / "t.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in _error(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("x,z,colour,note,y\n")
    assert "has no data rows" in _error(header_only)


def test_label_seen_only_in_test_is_named(tmp_path):
    frame = _frame()
    frame.loc[50, "y"] = "c"
    path = _write(_with_split(frame, test_rows=[50, 51, 52]), tmp_path / "t.csv")
    msg = _error(path)
    assert "label 'c'" in msg and "test split but not in train" in msg


# --- preprocessing ----------------------------------------------------------------------------


def test_statistics_come_from_train_only(tmp_path):
    frame = _with_split(_frame(), test_rows=list(range(80, 100)), validation_rows=range(70, 80))
    base = _load(_write(frame, tmp_path / "a.parquet"), numeric_transform="standard")
    wild = frame.copy()
    wild.loc[80:, "x"] = 1e6  # test values far away
    wild.loc[80:, "colour"] = "purple"
    changed = _load(_write(wild, tmp_path / "b.parquet"), numeric_transform="standard")
    for split in ("train", "validation"):
        a, b = getattr(base, split), getattr(changed, split)
        assert np.array_equal(a.numeric, b.numeric) and np.array_equal(a.categorical, b.categorical)
    assert base.cardinalities == changed.cardinalities == [5]  # missing, unseen, 3 colours
    x = base.train.numeric[:, 0]
    assert abs(x.mean()) < 1e-6 and abs(x.std() - 1) < 1e-5  # standardised on train
    assert np.all(changed.test.categorical == 1)  # purple: unseen in train
    assert changed.test.numeric[:, 0].min() > 1000  # standard scaling does not clip


def test_missing_numeric_is_imputed_with_an_indicator(tmp_path):
    frame = _with_split(_frame(), test_rows=list(range(80, 100)), validation_rows=range(70, 80))
    frame["x"] = (frame["x"] ** 2).astype(object)  # skewed: median and mean differ
    frame.loc[[0, 1], "x"] = "NA"
    frame.loc[[2], "x"] = ""
    frame.loc[[85], "z"] = None  # z missing only in test: imputed, no indicator
    data = _load(_write(frame, tmp_path / "t.csv"), numeric_transform="standard")
    assert data.numeric_features == ["x", "z", "x:missing"]
    train = data.train.numeric
    assert train[:3, 2].tolist() == [1, 1, 1] and train[3:, 2].sum() == 0
    observed = np.arange(3, 70, dtype=float) ** 2  # train rows 0..69, three of them missing
    filled = np.r_[observed, [np.median(observed)] * 3]
    expected = (np.median(observed) - filled.mean()) / filled.std()
    assert expected < -0.1 and np.allclose(train[:3, 0], expected, atol=1e-5)
    assert np.all(data.test.numeric[:, 1] == 0) and np.isfinite(data.test.numeric).all()


def test_categorical_codes_reserve_missing_and_unseen(tmp_path):
    frame = _with_split(_frame(), test_rows=[90, 91, 92, 93], validation_rows=[80, 81, 82])
    frame.loc[0, "colour"] = None
    frame.loc[1, "colour"] = "?"
    frame.loc[90, "colour"] = "purple"
    frame.loc[91, "colour"] = None
    data = _load(_write(frame, tmp_path / "t.parquet"))
    assert data.categorical_features == ["colour"] and data.cardinalities == [5]
    assert data.train.categorical[:5, 0].tolist() == [0, 0, 2, 4, 3]  # blue 2, green 3, red 4
    assert data.test.categorical[:2, 0].tolist() == [1, 0]


@pytest.mark.parametrize("transform", ["standard", "quantile"])
def test_constant_column_gives_zeros(tmp_path, transform):
    data = _load(_write(_frame(), tmp_path / "t.parquet"), numeric_transform=transform)
    for split in data.splits.values():
        assert np.all(split.numeric[:, 1] == 0)
        assert split.numeric.dtype == np.float32 and split.categorical.dtype == np.int64


def test_quantile_transform_is_finite_and_monotone(tmp_path):
    frame = _with_split(_frame(), test_rows=[97, 98, 99])
    frame.loc[97, "x"], frame.loc[98, "x"] = -1e9, 1e9  # far outside the train range
    data = _load(_write(frame, tmp_path / "t.parquet"))
    assert all(np.isfinite(s.numeric).all() for s in data.splits.values())
    x = data.train.numeric[:, 0]
    assert np.all(np.diff(x) > 0) and x.min() < -2 and x.max() > 2  # normal-shaped output
    far = data.test.numeric[:2, 0]  # clipped to the transform's bounds, about +-5.2
    assert far[0] == pytest.approx(-5.1993, abs=1e-3) and far[1] == pytest.approx(5.1993, abs=1e-3)


def test_texts_targets_and_distinct_texts(tmp_path):
    frame = _frame(30)
    frame.loc[0, "note"] = None
    frame.loc[1, "note"] = "   "
    frame["title"] = ["same"] * 15 + ["note 5"] * 15  # "note 5" also occurs in `note`
    data = _load(_write(frame, tmp_path / "t.parquet"), text=["note", "title"])
    assert data.text_columns == ["note", "title"] and data.label_names == ["a", "b"]
    texts = [t for s in data.splits.values() for t in s.texts["note"]]
    assert texts.count("") == 2 and len(texts) == 30
    assert distinct_texts(data) == sorted({f"note {k}" for k in range(10)} | {"same"})
    assert all(set(s.target.tolist()) <= {0, 1} for s in data.splits.values())


def test_regression_split_is_stratified_on_target_bins(tmp_path):
    frame = _frame(200)
    data = _load(_write(frame, tmp_path / "t.parquet"), target="amount", problem="regression")
    assert [len(s) for s in data.splits.values()] == [140, 20, 40]
    assert data.label_names is None and data.test.target.dtype == np.float32
    train = data.train.target
    assert data.target_mean == pytest.approx(train.mean()) and data.target_std == pytest.approx(
        train.std(), rel=1e-5
    )
    deciles = np.floor(data.test.target / 50).astype(int)  # amount = 2.5 * row: 10 bins of 20
    assert Counter(deciles.tolist()) == {d: 4 for d in range(10)}


# --- splits, caps, determinism ----------------------------------------------------------------


def test_classification_split_caps_and_determinism(tmp_path):
    frame = _frame(200).assign(note=[f"row {i}" for i in range(200)])  # a text names its row
    path = _write(frame, tmp_path / "t.csv")
    data = _load(path)
    assert [len(s) for s in data.splits.values()] == [140, 20, 40]
    assert Counter(data.test.target.tolist()) == {0: 30, 1: 10}
    assert _equal(data, _load(path))
    small = _load(path, max_train_samples=40, max_eval_samples=8)
    assert Counter(small.train.target.tolist()) == {0: 30, 1: 10}  # proportions kept
    assert Counter(small.test.target.tolist()) == {0: 6, 1: 2}
    other = _load(path, max_train_samples=40, max_eval_samples=8, data_seed=1)
    assert small.train.texts != other.train.texts
    assert small.test.texts == other.test.texts  # eval rows do not follow the seed (their
    # features may: preprocessing is fitted on the training rows actually used)
    assert data.data_sha256 == small.data_sha256 and len(data.data_sha256) == 64


def test_split_column_may_fix_the_splits(tmp_path):
    frame = _with_split(_frame(), test_rows=list(range(0, 100, 5)))
    data = _load(_write(frame, tmp_path / "t.parquet"))
    assert [len(s) for s in data.splits.values()] == [72, 8, 20]  # 10% of train to validation
    bad = frame.assign(split=["train", "dev"] * 50)
    assert "has 'dev' in data row 2" in _error(_write(bad, tmp_path / "bad.parquet"))


def test_edited_file_is_read_again(tmp_path):
    path = _write(_frame(), tmp_path / "t.parquet")
    first = _load(path)
    _write(_frame().assign(x=np.arange(100) * -1.0), path)
    assert not np.array_equal(first.train.numeric, _load(path).train.numeric)


# --- real data --------------------------------------------------------------------------------


@pytest.mark.real
def test_clothing_reviews_rating_real():
    data = load_tabular_task(TabularTaskConfig(name="clothing_reviews_rating"))
    assert data.problem == "regression"
    assert [len(s) for s in data.splits.values()] == [16441, 2348, 4697]  # all 23,486 rows
    targets = np.concatenate([s.target for s in data.splits.values()])
    assert sorted(set(targets.tolist())) == [1, 2, 3, 4, 5]
    assert Counter(targets.tolist())[5] == 13131
    assert data.text_columns == ["Title", "Review Text"]
    missing = Counter(t == "" for s in data.splits.values() for t in s.texts["Title"])
    assert missing[True] == 3810
    assert "Recommended IND" not in data.numeric_features + data.categorical_features
    assert len(distinct_texts(data)) == 36619


@pytest.mark.real
def test_adult_and_california_real():
    adult = load_tabular_task(TabularTaskConfig(name="adult"))
    assert adult.problem == "classification" and adult.label_names == ["<=50K", ">50K"]
    assert [len(s) for s in adult.splits.values()] == [26049, 6512, 16281]
    assert Counter(adult.test.target.tolist()) == {0: 12435, 1: 3846}  # the official adult.test
    assert adult.text_columns == [] and len(adult.numeric_features) == 6
    housing = load_tabular_task(TabularTaskConfig(name="california_housing"))
    assert housing.problem == "regression" and housing.categorical_features == []
    assert [len(s) for s in housing.splits.values()] == [13210, 3303, 4127]
    assert set(BUILTIN_TABULAR_TASKS) == {
        "clothing_reviews_rating",
        "clothing_reviews_recommend",
        "adult",
        "california_housing",
    }
