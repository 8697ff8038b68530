"""Turn a table's raw cells into model-ready arrays: parse and check once, fit on train only.

`parse_columns` reads every role column of the whole table into typed arrays and rejects bad
data with one message naming the file, column and row; its result is what the loaders cache.
`preprocess` then fits every statistic (medians, missing indicators, scaling, category codes,
label names, target scale) on the training rows alone and applies it to all three splits, so
nothing about validation or test leaks into the features.

Missing cells: null / NaN, a blank cell, or (numeric and categorical columns only) one of
`MISSING_MARKERS` in any case. A text cell is missing only when null or blank ("None" may be
someone's review).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.preprocessing import QuantileTransformer

from tunebench.errors import UserError
from tunebench.tabular.data import Roles, TabularData, TabularSplit

NumericTransform = Literal["standard", "quantile"]
MISSING_MARKERS = frozenset({"na", "n/a", "nan", "null", "none", "?"})
MISSING_CODE, UNSEEN_CODE = 0, 1  # categorical codes reserved before the train categories
_NUMERIC_HINT = "declared numeric: fix the cell, or declare the column categorical or text"
QUANTILE_NOISE, QUANTILE_SEED = 1e-3, 0  # as in the FT-Transformer authors' code


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


def preprocess(
    name: str,
    columns: Columns,
    roles: Roles,
    parts: Sequence[np.ndarray],
    transform: NumericTransform,
    where: str,
    data_sha256: str,
) -> TabularData:
    """Fit every statistic on the rows `parts[0]` (train) and apply it to train, validation and
    test (`parts[0..2]`, row indices into `columns`)."""
    numeric_names, numeric = _numeric_features(columns, roles.numeric, parts, transform)
    cardinalities, categorical = _category_codes(columns, roles.categorical, parts)
    label_names, mean, std = None, None, None
    if roles.problem == "classification":
        label_names, targets = _label_ids(columns.target, parts, roles.target, where)
    else:
        mean, std = _target_scale(columns.target[parts[0]], roles.target, where)
        targets = [columns.target[rows].astype(np.float32) for rows in parts]
    train, validation, test = (
        TabularSplit(
            numeric=numeric[i],
            categorical=categorical[i],
            texts={c: columns.text[c][rows].tolist() for c in roles.text},
            target=targets[i],
        )
        for i, rows in enumerate(parts)
    )
    return TabularData(
        name=name,
        problem=roles.problem,
        numeric_features=numeric_names,
        categorical_features=list(roles.categorical),
        cardinalities=cardinalities,
        text_columns=list(roles.text),
        label_names=label_names,
        target_mean=mean,
        target_std=std,
        train=train,
        validation=validation,
        test=test,
        data_sha256=data_sha256,
    )


# --- parsing ----------------------------------------------------------------------------------


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # cached and shared between loads: nobody may alter it
    return array


def _null(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _blank(value: Any) -> bool:
    return _null(value) or (isinstance(value, str) and not value.strip())


def _missing(value: Any) -> bool:
    return _blank(value) or (isinstance(value, str) and value.strip().lower() in MISSING_MARKERS)


def _rows(mask: np.ndarray) -> str:
    """'data row 3' or 'data rows 3, 7, 9 (and 12 more)': 1-based, header not counted."""
    rows = (np.flatnonzero(mask) + 1).tolist()
    shown = ", ".join(map(str, rows[:5])) + (
        f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    )
    return f"data row{'s' if len(rows) > 1 else ''} {shown}"


def _no_missing_target(mask: np.ndarray, column: str, where: str) -> None:
    if mask.any():
        raise UserError(f"{where}: target column {column!r} is missing in {_rows(mask)}")


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
        raise UserError(f"{where}: column {column.name!r} holds an infinite value in {_rows(bad)}")
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


# --- fitting on train, applying to every split -------------------------------------------------


def _numeric_features(
    columns: Columns, names: Sequence[str], parts: Sequence[np.ndarray], transform: NumericTransform
) -> tuple[list[str], list[np.ndarray]]:
    """Median imputation, a 0/1 indicator per column with missing train values, then scaling.

    A column missing only outside train is imputed without an indicator: the model never saw
    the indicator set, so it could not have learned what it means. Indicators stay 0/1.
    """
    if not names:
        return [], [np.zeros((len(rows), 0), np.float32) for rows in parts]
    raw = np.column_stack([columns.numeric[c] for c in names])
    fit = raw[parts[0]]
    seen = ~np.isnan(fit)
    medians = np.array(
        [np.median(col[ok]) if ok.any() else 0.0 for col, ok in zip(fit.T, seen.T, strict=True)]
    )
    flagged = np.flatnonzero((~seen).any(axis=0))
    scale = _scaler(np.where(seen, fit, medians), transform)
    out = []
    for rows in parts:
        absent = np.isnan(raw[rows])
        values = scale(np.where(absent, medians, raw[rows]))
        out.append(np.hstack([values, absent[:, flagged]]).astype(np.float32))
    return [*names, *(f"{names[j]}:missing" for j in flagged)], out


def _scaler(fit: np.ndarray, transform: NumericTransform) -> Callable[[np.ndarray], np.ndarray]:
    """Standardisation or the FT-Transformer paper's normal-output quantile transform, fitted on
    `fit`; a column constant in train maps to 0 everywhere (no division by zero, no NaN)."""
    constant = np.ptp(fit, axis=0) == 0
    if transform == "standard":
        mean, std = fit.mean(axis=0), np.where(constant, 1.0, fit.std(axis=0))
        return lambda x: np.where(constant, 0.0, (x - mean) / std)
    # The authors' code fits on train plus tiny seeded noise (noise / max(std, noise)) so that
    # columns with few distinct values (ages, counts) get spread-out quantiles; the noise only
    # shapes the fit, the features themselves are transformed noise-free.
    n = len(fit)
    quantiles = QuantileTransformer(
        output_distribution="normal",
        n_quantiles=min(max(min(n // 30, 1000), 10), n),
        subsample=10**9,
        random_state=QUANTILE_SEED,
    )
    noise_std = QUANTILE_NOISE / np.maximum(fit.std(axis=0, keepdims=True), QUANTILE_NOISE)
    quantiles.fit(fit + noise_std * np.random.default_rng(QUANTILE_SEED).standard_normal(fit.shape))
    return lambda x: np.where(constant, 0.0, quantiles.transform(x))


def _category_codes(
    columns: Columns, names: Sequence[str], parts: Sequence[np.ndarray]
) -> tuple[list[int], list[np.ndarray]]:
    """(cardinalities, codes per split): 0 = missing, 1 = not seen in train, 2.. = the train
    categories in sorted order. Code 1 never occurs in train: its embedding stays as initialised."""
    cardinalities, table = [], np.zeros((len(columns.target), len(names)), np.int64)
    for j, name in enumerate(names):
        values = columns.categorical[name]
        index = {c: i + 2 for i, c in enumerate(sorted(set(values[parts[0]]) - {None}))}
        cardinalities.append(2 + len(index))
        lookup = {None: MISSING_CODE, **index}
        table[:, j] = [lookup.get(v, UNSEEN_CODE) for v in values]
    return cardinalities, [table[rows] for rows in parts]


def _label_order(name: str) -> tuple[int, int, str]:
    """Sort key of label names, as for text tasks: integer-like ones numerically and first."""
    try:
        return (0, int(name), name)
    except ValueError:
        return (1, 0, name)


def _label_ids(
    labels: np.ndarray, parts: Sequence[np.ndarray], column: str, where: str
) -> tuple[list[str], list[np.ndarray]]:
    """Label names from train (sorted); a validation or test label absent from train is an error."""
    names = sorted(set(labels[parts[0]].tolist()), key=_label_order)
    if len(names) < 2:
        raise UserError(
            f"{where}: target column {column!r} has only one class ({names[0]!r}) in the "
            "training data; classification needs at least two"
        )
    index = {n: i for i, n in enumerate(names)}
    for part, split in zip(parts[1:], ("validation", "test"), strict=True):
        unseen = sorted(set(labels[part].tolist()) - set(names), key=_label_order)
        if unseen:
            raise UserError(
                f"{where}: label {unseen[0]!r} of target column {column!r} occurs in the "
                f"{split} split but not in train; every label needs training rows"
            )
    return names, [np.array([index[v] for v in labels[rows]], np.int64) for rows in parts]


def _target_scale(train: np.ndarray, column: str, where: str) -> tuple[float, float]:
    """Mean and standard deviation of the training targets, for the models to standardise."""
    std = float(train.std())
    if std == 0:
        raise UserError(
            f"{where}: target column {column!r} takes a single value ({train[0]:g}) in the "
            "training data; regression needs it to vary"
        )
    return float(train.mean()), std
