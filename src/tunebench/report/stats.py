"""Is a row of a results table significantly worse than the best row? A paired bootstrap.

Every run stores per-example values of its test split (`metrics.test_examples`). Two groups
of runs (table rows, each a set of seeds) scored on the same test examples are compared by
resampling the examples with replacement: on each resample each run's metric is recomputed
from its per-example values, averaged over the row's seeds, and the rows' difference taken.
The two-sided p-value is twice the share of resamples on which the worse row comes out ahead
(or level), so p < 0.05 means the best row's lead survives 95% of resamplings of the test set.
Rows are paired only when their runs saw the same test examples (same task settings and data).
How a metric is recomputed from per-example values is the metric's own (`Metric.resample`).
"""

from __future__ import annotations

import numpy as np

from tunebench.metrics import Metric

SIGNIFICANCE = 0.05
RESAMPLES = 2000
SEED = 0


def resampled(metric: Metric, runs: list[dict[str, list]], indices: np.ndarray) -> np.ndarray:
    """`metric` of each resample (rows of `indices`), averaged over `runs` (a row's seeds)."""
    values = []
    for examples in runs:
        arrays = {
            key: np.asarray(column)[indices] for key, column in examples.items() if key != "row"
        }
        values.append(metric.resample(arrays))
    return np.mean(values, axis=0)


def paired_bootstrap_p(
    metric: Metric | None,
    best: list[dict[str, list]],
    other: list[dict[str, list]],
    resamples: int = RESAMPLES,
) -> float | None:
    """Two-sided p-value that `other` is as good as `best` on `metric`, or None when the test
    cannot be made (a metric that is not per-example, missing or mismatched examples)."""
    runs = [*best, *other]
    if metric is None or metric.resample is None or not best or not other:
        return None
    sizes = {len(column) for examples in runs for column in examples.values()}
    if len(sizes) != 1 or not sizes.pop():
        return None
    n = len(next(iter(runs[0].values())))
    indices = np.random.default_rng(SEED).integers(0, n, size=(resamples, n))
    try:
        lead = resampled(metric, best, indices) - resampled(metric, other, indices)
    except KeyError:  # runs recorded without the values this metric needs
        return None
    if not metric.higher_is_better:
        lead = -lead
    lead = lead[~np.isnan(lead)]
    if not len(lead):
        return None
    return float(min(1.0, 2 * np.mean(lead <= 0)))
