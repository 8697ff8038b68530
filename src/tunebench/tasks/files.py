"""Tasks from a user's own CSV, JSONL / JSON or Parquet file.

The format comes from the suffix (.csv, .jsonl, .json, .parquet). A .json file may hold one
array of objects or one object per line. Columns: `text_column`, optional `text_pair_column`,
`label_column` (strings or integers; label names are the sorted distinct values, integers in
numeric order, and a label's id is its index in that list).

Splits: a column named exactly `split` with values train / validation / test fixes them (without
validation rows, a stratified 10% of train becomes validation); otherwise a stratified
70/10/20 split with a fixed seed. Every mistake in the file is reported with the file and the
column or data row (1-based, header not counted).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tunebench.assets import sha256_files
from tunebench.errors import UserError
from tunebench.tasks.base import TaskData
from tunebench.tasks.splits import random_split, select, stratified_split

if TYPE_CHECKING:
    from tunebench.tasks.config import TaskConfig

SPLIT_COLUMN = "split"
SPLIT_NAMES = ("train", "validation", "test")
SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


def load_file_task(cfg: TaskConfig) -> TaskData:
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
        _require_rows_per_label(ids, names, 3, str(path), "a stratified 70/10/20 split")
        parts = stratified_split(ids, (0.7, 0.1, 0.2))
    train, validation, test = (select(texts, ids, pairs, p) for p in parts)
    return TaskData(cfg.name, names, train, validation, test, sha256_files(path))


def read_table(path: Path) -> pd.DataFrame:
    """The file as a DataFrame with at least one row; CSV cells are read as strings."""
    if not path.is_file():
        raise UserError(f"task file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(
            f"task file {path}: unsupported suffix {suffix!r}; use {', '.join(SUFFIXES)}"
        )
    if path.stat().st_size == 0:
        raise UserError(f"task file {path} is empty")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.DataFrame.from_records(_json_records(path))
    except UserError:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as e:  # arrow and unicode errors included
        raise UserError(f"could not read task file {path}: {e}") from e
    if frame.empty:
        raise UserError(f"task file {path} has no data rows")
    return frame


def _json_records(path: Path) -> list[dict[str, Any]]:
    """One object per line, or (for .json) one array of objects."""
    content = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json" and content.lstrip().startswith("["):
        try:
            records = json.loads(content)
        except json.JSONDecodeError as e:
            raise UserError(f"task file {path} is not valid JSON: {e}") from e
        numbered = list(enumerate(records, start=1))
        what = "element"
    else:
        numbered = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except json.JSONDecodeError as e:
                raise UserError(f"task file {path}: line {number} is not valid JSON: {e}") from e
        what = "line"
    for number, record in numbered:
        if not isinstance(record, dict):
            raise UserError(f"task file {path}: {what} {number} is not a JSON object")
    return [record for _, record in numbered]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _rows(rows: list[int]) -> str:
    more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
    return f"data row {rows[0] + 1}{more}"


def require_columns(frame: pd.DataFrame, path: Path, **columns: str) -> None:
    """UserError naming the first setting (`field=column`) whose column the file lacks."""
    for field, column in columns.items():
        if column not in frame.columns:
            have = ", ".join(map(str, frame.columns))
            raise UserError(f"{path} has no column {column!r} ({field}); its columns are: {have}")


def split_rows(frame: pd.DataFrame, path: Path) -> list[list[int]]:
    """Train / validation / test rows of a file without labels to stratify on: its `split`
    column (without validation rows, a random 10% of train), else a random 70/10/20 split
    with the fixed seed."""
    if SPLIT_COLUMN not in frame.columns:
        if len(frame) < 3:
            raise UserError(f"{path}: {len(frame)} data row(s); a 70/10/20 split needs 3")
        return random_split(len(frame), (0.7, 0.1, 0.2))
    parts = _split_column(frame[SPLIT_COLUMN], path)
    if not parts["validation"]:
        if len(parts["train"]) < 2:
            raise UserError(f"{path}: one 'train' row; taking 10% as validation needs 2")
        fit, val = random_split(len(parts["train"]), (0.9, 0.1))
        parts["train"], parts["validation"] = (
            [parts["train"][j] for j in fit],
            [parts["train"][j] for j in val],
        )
    return [parts[name] for name in SPLIT_NAMES]


def texts_of(column: pd.Series, path: Path) -> list[str]:
    """Texts as strings (numbers are written out); a missing or blank text is an error."""
    texts = ["" if _missing(v) else str(v) for v in column.tolist()]
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:
        raise UserError(f"{path}: column {column.name!r} is empty in {_rows(blank)}")
    return texts


def _label_key(value: Any) -> str:
    """A label as its name: integral numbers without ".0", strings stripped."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _labels(column: pd.Series, path: Path) -> tuple[list[str], list[int]]:
    """(label names, label ids); names sorted, integer-like ones numerically and first."""
    keys = ["" if _missing(v) else _label_key(v) for v in column.tolist()]
    blank = [i for i, k in enumerate(keys) if not k]
    if blank:
        raise UserError(f"{path}: label column {column.name!r} is empty in {_rows(blank)}")
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
    parts = _split_column(column, path)
    train_ids = [ids[i] for i in parts["train"]]
    absent = sorted(set(ids) - set(train_ids))
    if absent:
        raise UserError(
            f"{path}: label {names[absent[0]]!r} has no rows in the 'train' split; "
            "every label needs training rows"
        )
    if not parts["validation"]:
        where = f"{path} ('train' rows)"
        _require_rows_per_label(train_ids, names, 2, where, "taking 10% of train as validation")
        fit, val = stratified_split(train_ids, (0.9, 0.1))
        parts["train"], parts["validation"] = (
            [parts["train"][j] for j in fit],
            [parts["train"][j] for j in val],
        )
    return [parts[name] for name in SPLIT_NAMES]


def _split_column(column: pd.Series, path: Path) -> dict[str, list[int]]:
    """Row indices per split name from the `split` column; train and test must have rows."""
    values = ["" if _missing(v) else str(v).strip().lower() for v in column.tolist()]
    bad = [i for i, v in enumerate(values) if v not in SPLIT_NAMES]
    if bad:
        raise UserError(
            f"{path}: column {SPLIT_COLUMN!r} has {column.tolist()[bad[0]]!r} in {_rows(bad)}; "
            f"allowed values: {', '.join(SPLIT_NAMES)}"
        )
    parts = {name: [i for i, v in enumerate(values) if v == name] for name in SPLIT_NAMES}
    for name in ("train", "test"):
        if not parts[name]:
            raise UserError(f"{path}: column {SPLIT_COLUMN!r} has no {name!r} rows")
    return parts


def _require_rows_per_label(
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
