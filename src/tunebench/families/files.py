"""Reading a user's own CSV, JSONL / JSON or Parquet file, for every family.

The format comes from the suffix (.csv, .jsonl, .json, .parquet). A .json file may hold one
array of objects or one object per line. Splits: a column named exactly `split` with values
train / validation / test fixes them; otherwise the family splits the rows with the fixed seed
(`split_rows`: random 70/10/20; classification stratifies by label). Every mistake in the file
is reported with the file and the column or data row (1-based, header not counted).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from tunebench.errors import UserError
from tunebench.families.splits import random_split

SPLIT_COLUMN = "split"
SPLIT_NAMES = ("train", "validation", "test")
SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


def read_table(path: Path) -> pd.DataFrame:
    """The file as a DataFrame with at least one row; CSV cells are read as strings."""
    if path.is_dir():
        raise UserError(f"task file {path} is a folder; give a CSV, JSONL or Parquet file")
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
    except pd.errors.ParserError as e:
        raise UserError(f"could not read task file {path}: {_ragged(str(e))}") from e
    except (ValueError, OSError) as e:  # arrow and unicode errors included
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


def _ragged(message: str) -> str:
    """pandas' "Expected 2 fields in line 5, saw 3" in the data-row numbering of every other
    message (1-based, header not counted)."""
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if found is None:
        return message
    fields, line, seen = (int(g) for g in found.groups())
    return f"data row {line - 1} (line {line}) has {seen} fields, the header {fields}"


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


MISSING_MARKERS = frozenset({"na", "n/a", "nan", "null", "none", "?"})
"""Cells that mean "no value" in a label or category column (any case)."""


def missing_mark(value: Any) -> bool:
    """A missing cell, blank, or one of MISSING_MARKERS: what a label column may not hold."""
    if missing(value):
        return True
    return isinstance(value, str) and value.strip().lower() in {"", *MISSING_MARKERS}


def data_rows(rows: list[int]) -> str:
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
    parts = split_column(frame[SPLIT_COLUMN], path)
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
    texts = ["" if missing(v) else str(v) for v in column.tolist()]
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank:
        raise UserError(f"{path}: column {column.name!r} is empty in {data_rows(blank)}")
    return texts


def split_column(column: pd.Series, path: Path) -> dict[str, list[int]]:
    """Row indices per split name from the `split` column; train and test must have rows."""
    values = ["" if missing(v) else str(v).strip().lower() for v in column.tolist()]
    bad = [i for i, v in enumerate(values) if v not in SPLIT_NAMES]
    if bad:
        raise UserError(
            f"{path}: column {SPLIT_COLUMN!r} has {column.tolist()[bad[0]]!r} in {data_rows(bad)}; "
            f"allowed values: {', '.join(SPLIT_NAMES)}"
        )
    parts = {name: [i for i, v in enumerate(values) if v == name] for name in SPLIT_NAMES}
    for name in ("train", "test"):
        if not parts[name]:
            raise UserError(f"{path}: column {SPLIT_COLUMN!r} has no {name!r} rows")
    return parts


def list_cell(value: Any) -> list | None:
    """A cell holding a list: a JSON array in a CSV or JSONL string, a Parquet list, a list;
    None for anything else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if hasattr(value, "tolist"):  # a Parquet list cell
        value = value.tolist()
    return value if isinstance(value, list) else None


def options_cell(value: Any, row: int, column: str, path: Path) -> list[str]:
    """A cell of options: a list of at least two non-empty texts (in CSV: a JSON array),
    stripped; UserError naming the file, column and data row otherwise."""
    options = list_cell(value)
    if options is None or len(options) < 2 or not all(str(o).strip() for o in options):
        raise UserError(
            f"{path}: column {column!r}, data row {row + 1}: options must be a list of at least "
            'two non-empty texts (in a CSV file, a JSON array such as ["yes", "no"])'
        )
    return [str(o).strip() for o in options]


def jsonl(path: Path) -> list[dict]:
    """A packaged JSON-lines file (one object per line)."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
