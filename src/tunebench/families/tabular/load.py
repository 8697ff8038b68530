"""`load_tabular_task`, the one entry point that turns a tabular task config (built-in or a
user's table) into preprocessed splits.

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

import numpy as np
import pandas as pd

from tunebench import assets
from tunebench.assets import sha256_files
from tunebench.errors import UserError
from tunebench.families.files import read_table
from tunebench.families.splits import SPLIT_SEED, stratified_split, stratified_subset
from tunebench.families.tabular.data import Problem, Roles, TabularData
from tunebench.families.tabular.parse import Columns, parse_columns
from tunebench.families.tabular.preprocess import preprocess
from tunebench.families.tabular.tasks import BUILTIN_TABULAR_TASKS, BuiltinTabularTask

SPLIT_COLUMN = "split"
SPLIT_NAMES = ("train", "validation", "test")
TARGET_BINS = 10  # regression strata: target quantile bins


def load_tabular_task(cfg) -> TabularData:
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
