"""Stratified, seeded splitting and subsetting, shared by every family's built-in and file tasks.

Written out rather than delegated to scikit-learn so the rule is simple to state in the docs:
each class is shuffled with the seed and cut by the split fractions (largest-remainder rounding,
and at least one row per class in every split), and a subset takes each class in proportion.
Indices come back sorted, so a split keeps the source's row order and the same inputs always
give byte-identical splits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

SPLIT_SEED = 0  # fixed: official splits never change with a study's data_seed


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Integers proportional to `weights` that sum to `total` (largest remainder, ties by order)."""
    w = np.asarray(weights, dtype=float)
    quotas = total * w / w.sum()
    counts = np.floor(quotas).astype(int)
    short = total - int(counts.sum())
    order = np.argsort(-(quotas - counts), kind="stable")
    counts[order[:short]] += 1
    return counts.tolist()


def stratified_split(
    labels: Sequence[int], fractions: Sequence[float], seed: int = SPLIT_SEED
) -> list[list[int]]:
    """Row indices for each part; every class appears in every part.

    Raises ValueError when a class has fewer rows than there are parts (callers that read user
    data check this first and name the label).
    """
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    for cls in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == cls))
        if len(rows) < len(fractions):
            raise ValueError(f"class {cls} has {len(rows)} rows, fewer than {len(fractions)}")
        sizes = apportion(len(rows), fractions)
        for i, size in enumerate(sizes):
            if size == 0:  # give the empty part one row from the largest
                sizes[int(np.argmax(sizes))] -= 1
                sizes[i] = 1
        for part, chunk in zip(parts, np.split(rows, np.cumsum(sizes)[:-1]), strict=True):
            part.extend(chunk.tolist())
    return [sorted(p) for p in parts]


def stratified_subset(labels: Sequence[int], n: int, seed: int) -> list[int]:
    """`n` row indices drawn per class in proportion to its size; all rows if `n` >= len."""
    y = np.asarray(labels)
    if n >= len(y):
        return list(range(len(y)))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    chosen: list[int] = []
    for cls, take in zip(classes, apportion(n, counts), strict=True):
        chosen.extend(rng.permutation(np.flatnonzero(y == cls))[:take].tolist())
    return sorted(chosen)


def random_split(n: int, fractions: Sequence[float], seed: int = SPLIT_SEED) -> list[list[int]]:
    """Row indices for each part of `n` unlabelled rows: shuffled with the seed, cut by the
    fractions (largest-remainder rounding), each part sorted."""
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum(apportion(n, fractions))[:-1]
    return [sorted(part.tolist()) for part in np.split(order, cuts)]


def random_subset(n_total: int, n: int | None, seed: int) -> list[int] | None:
    """`n` sorted row indices drawn with `seed`, or None when `n` keeps every row."""
    if n is None or n >= n_total:
        return None
    return sorted(np.random.default_rng(seed).permutation(n_total)[:n].tolist())


@dataclass(frozen=True)
class Rows:
    """A split as equal-length columns (lists); subclasses declare the columns, among them
    `ids`: each row's identity in the source data (its index in a user's file, 0-based, header
    not counted; or a built-in data set's own id), carried into the stored predictions."""

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def take(self, rows: list[int]):
        """The same split type holding only `rows`, in their order, in fresh lists."""
        return type(self)(
            **{f.name: [getattr(self, f.name)[i] for i in rows] for f in fields(self)}
        )


def limit(data, max_train: int | None, max_eval: int | None, data_seed: int):
    """Random subsets (train seeded by `data_seed`, validation and test by the fixed split
    seed, so every run of a study is scored on the same examples) of a task whose splits are
    `Rows`."""
    parts = {}
    for split, n, seed in (
        ("train", max_train, data_seed),
        ("validation", max_eval, SPLIT_SEED),
        ("test", max_eval, SPLIT_SEED),
    ):
        rows = random_subset(len(getattr(data, split)), n, seed)
        if rows is not None:
            parts[split] = getattr(data, split).take(rows)
    return dataclasses.replace(data, **parts)
