"""Turn a table's parsed columns (parse.py) into model-ready arrays, fitted on train only.

`preprocess` fits every statistic (medians, missing indicators, scaling, category codes, label
names, target scale) on the training rows alone and applies it to all three splits, so nothing
about validation or test leaks into the features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.preprocessing import QuantileTransformer

from tunebench.errors import UserError
from tunebench.families.tabular.data import NumericTransform, Roles, TabularData, TabularSplit
from tunebench.families.tabular.parse import Columns

MISSING_CODE, UNSEEN_CODE = 0, 1  # categorical codes reserved before the train categories
QUANTILE_NOISE, QUANTILE_SEED = 1e-3, 0  # as in the FT-Transformer authors' code


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
            ids=rows.tolist(),
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
