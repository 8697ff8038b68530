"""Classification tasks from a user's own CSV, JSONL / JSON or Parquet file.

Columns: `text_column`, optional `text_pair_column`, `label_column` (strings or integers; label
names are the sorted distinct values, integers in numeric order, and a label's id is its index
in that list). Splits: a `split` column with values train / validation / test fixes them
(without validation rows, a stratified 10% of train becomes validation); otherwise a stratified
70/10/20 split with the fixed seed. A row's id is its index in the file (0-based, header not
counted).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from tunebench.assets import sha256_files
from tunebench.errors import UserError
from tunebench.families.classification.data import Raw, TaskData
from tunebench.families.files import (
    SPLIT_COLUMN,
    SPLIT_NAMES,
    data_rows,
    missing_mark,
    read_table,
    require_columns,
    split_column,
    texts_of,
)
from tunebench.families.splits import stratified_split


def load_file_task(cfg) -> TaskData:
    """Read, check and split the file named by `cfg.path`."""
    path = Path(cfg.path).expanduser()
    frame = read_table(path)
    columns = {"text_column": cfg.text_column, "label_column": cfg.label_column}
    if cfg.text_pair_column is not None:
        columns["text_pair_column"] = cfg.text_pair_column
    require_columns(frame, path, **columns)
    texts = texts_of(frame[cfg.text_column], path)
    pairs = None if cfg.text_pair_column is None else texts_of(frame[cfg.text_pair_column], path)
    names, ids = _labels(frame[cfg.label_column], path)
    if SPLIT_COLUMN in frame.columns:
        parts = _given_split(frame[SPLIT_COLUMN], ids, names, path)
    else:
        require_rows_per_label(ids, names, 3, str(path), "a stratified 70/10/20 split")
        parts = stratified_split(ids, (0.7, 0.1, 0.2))
    raw = Raw(
        tuple(texts),
        None if pairs is None else tuple(pairs),
        tuple(ids),
        tuple(names),
        sha256_files(path),
        tuple(range(len(texts))),
    )
    return raw.split(cfg.name, parts)


def _label_key(value: Any) -> str:
    """A label as its name: integral numbers without ".0", strings stripped."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _labels(column: pd.Series, path: Path) -> tuple[list[str], list[int]]:
    """(label names, label ids); names sorted, integer-like ones numerically and first."""
    keys = ["" if missing_mark(v) else _label_key(v) for v in column.tolist()]
    blank = [i for i, k in enumerate(keys) if not k]
    if blank:
        raise UserError(
            f"{path}: label column {column.name!r} is empty or missing (NaN, NA, null, ...) in "
            f"{data_rows(blank)}; fill or remove those rows"
        )
    names = sorted(set(keys), key=lambda k: (0, int(k), k) if _is_int(k) else (1, 0, k))
    if len(names) < 2:
        raise UserError(
            f"{path}: label column {column.name!r} has only one class ({names[0]!r}); "
            "classification needs at least two"
        )
    index = {name: i for i, name in enumerate(names)}
    return names, [index[k] for k in keys]


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _given_split(
    column: pd.Series, ids: list[int], names: list[str], path: Path
) -> list[list[int]]:
    """Row indices per split from the `split` column."""
    parts = split_column(column, path)
    train_ids = [ids[i] for i in parts["train"]]
    absent = sorted(set(ids) - set(train_ids))
    if absent:
        raise UserError(
            f"{path}: label {names[absent[0]]!r} has no rows in the 'train' split; "
            "every label needs training rows"
        )
    if not parts["validation"]:
        where = f"{path} ('train' rows)"
        require_rows_per_label(train_ids, names, 2, where, "taking 10% of train as validation")
        fit, val = stratified_split(train_ids, (0.9, 0.1))
        parts["train"], parts["validation"] = (
            [parts["train"][j] for j in fit],
            [parts["train"][j] for j in val],
        )
    return [parts[name] for name in SPLIT_NAMES]


def require_rows_per_label(
    ids: list[int], names: list[str], need: int, where: str, why: str
) -> None:
    """UserError naming the first label with fewer than `need` rows."""
    counts = Counter(ids)
    for label, count in sorted(counts.items()):
        if count < need:
            raise UserError(
                f"{where}: label {names[label]!r} has only {count} row(s); {why} needs at "
                f"least {need} per label"
            )
