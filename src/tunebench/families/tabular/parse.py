"""Read a table's role columns once into typed, checked, read-only arrays.

`parse_columns` reads every role column of the whole table and rejects bad data with one message
naming the file, column and row; its result is what the loaders cache. Missing cells: null /
NaN, a blank cell, or (numeric and categorical columns only) one of `MISSING_MARKERS` in any
case. A text cell is missing only when null or blank ("None" may be someone's review).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tunebench.errors import UserError
from tunebench.families.files import MISSING_MARKERS
from tunebench.families.tabular.data import Roles

_NUMERIC_HINT = "declared numeric: fix the cell, or declare the column categorical or text"


@dataclass(frozen=True)
class Columns:
    """The role columns of a whole table, parsed and checked (read-only arrays, one per column).

    numeric: float64 with NaN where missing; categorical: category names (str) or None;
    text: str, "" where missing; target: float64 (regression) or label names (classification).
    """

    numeric: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]
    text: dict[str, np.ndarray]
    target: np.ndarray


def parse_columns(frame: pd.DataFrame, roles: Roles, where: str) -> Columns:
    """Check that the role columns exist and hold what their role needs; parse them."""
    missing = [c for c in (*roles.features, roles.target) if c not in frame.columns]
    if missing:
        have = ", ".join(map(repr, map(str, frame.columns)))
        raise UserError(f"{where} has no column {missing[0]!r}; its columns are: {have}")
    if roles.problem == "regression":
        target = _numeric(frame[roles.target], where, "a regression target needs numbers")
        _no_missing_target(np.isnan(target), roles.target, where)
    else:
        labels = [_category(v) for v in frame[roles.target].tolist()]
        _no_missing_target(np.array([v is None for v in labels]), roles.target, where)
        target = np.array(labels, dtype=object)
    return Columns(
        numeric={c: _frozen(_numeric(frame[c], where, _NUMERIC_HINT)) for c in roles.numeric},
        categorical={
            c: _frozen(np.array([_category(v) for v in frame[c].tolist()], dtype=object))
            for c in roles.categorical
        },
        text={c: _frozen(_texts(frame[c], where)) for c in roles.text},
        target=_frozen(target),
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # cached and shared between loads: nobody may alter it
    return array


def _null(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _blank(value: Any) -> bool:
    return _null(value) or (isinstance(value, str) and not value.strip())


def _missing(value: Any) -> bool:
    return _blank(value) or (isinstance(value, str) and value.strip().lower() in MISSING_MARKERS)


def data_rows(mask: np.ndarray) -> str:
    """'data row 3' or 'data rows 3, 7, 9 (and 12 more)': 1-based, header not counted."""
    rows = (np.flatnonzero(mask) + 1).tolist()
    shown = ", ".join(map(str, rows[:5])) + (
        f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    )
    return f"data row{'s' if len(rows) > 1 else ''} {shown}"


def _no_missing_target(mask: np.ndarray, column: str, where: str) -> None:
    if mask.any():
        raise UserError(f"{where}: target column {column!r} is missing in {data_rows(mask)}")


def _numeric(column: pd.Series, where: str, hint: str) -> np.ndarray:
    """float64 values, NaN where missing; a non-number or an infinity names its row."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.full(len(column), np.nan)
        for i, cell in enumerate(column.tolist()):
            if _missing(cell):
                continue
            try:
                values[i] = float(cell)
            except (TypeError, ValueError):
                raise UserError(
                    f"{where}: column {column.name!r} holds the non-number {cell!r} in data row "
                    f"{i + 1}; {hint}"
                ) from None
    bad = np.isinf(values)
    if bad.any():
        raise UserError(
            f"{where}: column {column.name!r} holds an infinite value in {data_rows(bad)}"
        )
    return values


def _category(value: Any) -> str | None:
    """A cell as a category or label name: integral floats without ".0", strings stripped."""
    if _missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _texts(column: pd.Series, where: str) -> np.ndarray:
    """Texts as str ("" where missing); a column whose values are mostly numbers is refused,
    because embedding "33" with a language model is almost surely a wrong role."""
    cells = column.tolist()
    present = [(i, c) for i, c in enumerate(cells) if not _blank(c)]
    numbers = [(i, c) for i, c in present if _is_number(c)]
    if present and len(numbers) * 2 > len(present):
        row, example = numbers[0]
        raise UserError(
            f"{where}: column {column.name!r} declared text holds numbers ({len(numbers)} of "
            f"{len(present)} values, e.g. {example!r} in data row {row + 1}); declare it "
            "numeric or categorical"
        )
    return np.array(["" if _blank(c) else str(c) for c in cells], dtype=object)
