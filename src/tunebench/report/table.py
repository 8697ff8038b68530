"""The one table builder: what `tunebench results` and `tunebench report` show, in every format.

Rows come from the family's layout (`Family.layout`): backbone / method for most families, LM /
downstream / pipeline for tabular ones (seed 000's Table 2, with each step's time per task). A
study whose tasks use different layouts gets one table per layout. A cell is a task's test
metric over seeds (mean, std, n), its rank in the column (1 = best, 2 = second; ties share a
rank) and the paired bootstrap p-value against the column's best row. Cost columns are ranked
too (lower is better). Which way is better, and whether a metric is a percent, comes from the
family's metric registry. Renderers (terminal.py, markdown.py, latex.py, html.py) only decide
how it looks.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from tunebench.errors import UserError
from tunebench.families.labels import RowLayout, differing_settings
from tunebench.families.registry import recorded_family
from tunebench.metrics import Metric
from tunebench.records import RunRecord
from tunebench.report.cells import COSTS, Cell, Column, Row
from tunebench.report.stats import paired_bootstrap_p
from tunebench.report.trust import mark_trust


@dataclass
class ReportTable:
    key_headers: list[str]
    tasks: list[Column]
    """Column.key is the task, Column.metric its metric."""
    costs: list[Column]
    rows: list[Row]
    tested: bool
    """Whether any cell got a p-value (runs recorded with per-example values)."""
    failed: int
    running: int
    timed: bool = False
    """Each task also has a time column (training seconds of each step)."""


def build_tables(records: list[RunRecord], metric: str | None = None) -> list[ReportTable]:
    """One table per row layout among the study's families, in order of first run."""
    completed = [r for r in records if r.status == "completed"]
    _check_metric(completed, metric)
    by_layout: dict[RowLayout, list[RunRecord]] = {}
    for record in records:
        by_layout.setdefault(recorded_family(record).layout, []).append(record)
    if not by_layout:
        return [ReportTable(["Backbone", "Method"], [], [], [], False, 0, 0)]
    return [_table(layout, mine, metric) for layout, mine in by_layout.items()]


def build_table(records: list[RunRecord], metric: str | None = None) -> ReportTable:
    """The study's table (its first, when its families use several layouts)."""
    return build_tables(records, metric)[0]


def _table(layout: RowLayout, records: list[RunRecord], requested: str | None) -> ReportTable:
    completed = [r for r in records if r.status == "completed"]
    columns = task_columns(completed)
    metrics = task_metrics(completed, columns, requested)
    keys = layout.keys(completed)
    groups: dict[tuple[str, ...], list[RunRecord]] = {}
    for r in completed:
        groups.setdefault(tuple(keys[r.run_id]), []).append(r)
    tasks = [
        Column(task, f"{task} {m.name}", not m.higher_is_better, m.percent, m.name, m)
        for task, m in metrics.items()
    ]
    rows = [_row(list(k), runs, metrics, columns, layout.costs) for k, runs in groups.items()]
    tested = False
    for column in tasks:
        tested |= _rank_and_test(rows, column)
        mark_trust(rows, column)
    for key in layout.costs:
        _rank([row.costs[key] for row in rows], lower=True)
    costs = [COSTS[k] for k in layout.costs if any(row.costs[k].mean is not None for row in rows)]
    failed = sum(r.status == "failed" for r in records)
    running = sum(r.status == "running" for r in records)
    headers = list(layout.headers)
    return ReportTable(headers, tasks, costs, rows, tested, failed, running, layout.step_times)


def _task(record: RunRecord) -> dict:
    """The task as the run recorded it ({} for a record without one)."""
    task = record.config.get("task") if isinstance(record.config, dict) else None
    return task if isinstance(task, dict) else {}


def task_columns(records: list[RunRecord]) -> dict[str, str]:
    """run_id -> its task column: the task's name, plus `key=value` for each task setting in
    which runs of that task differ (a study re-run with more training data keeps its earlier
    runs), so that runs on different data are never averaged as if they were seeds."""
    settings = differing_settings(records, lambda r: r.task, _task_settings)
    return {r.run_id: f"{r.task} {settings[r.run_id]}".rstrip() for r in records}


def _task_settings(record: RunRecord) -> dict:
    """The task's settings, a size cap that is not set read as `all` (the whole split)."""
    settings = {k: v for k, v in _task(record).items() if k != "name"}
    for cap in ("max_train_samples", "max_eval_samples"):
        if cap in settings and settings[cap] is None:
            settings[cap] = "all"
    return settings


def task_metrics(
    records: list[RunRecord], columns: dict[str, str], requested: str | None
) -> dict[str, Metric]:
    """task column -> the test metric it shows: `requested` where the task's runs report it,
    else the task's family's default (accuracy, entity F1, perplexity, MSE for regression...)."""
    shown: dict[str, Metric] = {}
    for r in records:
        if columns[r.run_id] in shown:
            continue
        family = recorded_family(r)
        reported = r.metrics.get("test", {})
        if requested is not None and requested in reported and requested in family.metrics:
            shown[columns[r.run_id]] = family.metric(requested)
        else:
            shown[columns[r.run_id]] = family.metric(family.report_metric(_task(r)))
    return shown


def _check_metric(records: list[RunRecord], requested: str | None) -> None:
    """`--metric NAME` that no task of the study reports is a mistake, not an empty column."""
    if requested is None or not records:
        return
    reported = {m for r in records for m in r.metrics.get("test", {})}
    if requested not in reported:
        names = ", ".join(sorted(m for m in reported if not m.startswith("per_")))
        raise UserError(
            f"--metric: no run of this study reports {requested!r} (they report {names})"
        )


def _row(
    keys: list[str],
    runs: list[RunRecord],
    metrics: dict[str, Metric],
    columns: dict[str, str],
    costs: tuple[str, ...],
) -> Row:
    cells, by_column = {}, {}
    for task, metric in metrics.items():
        mine = by_column[task] = [r for r in runs if columns[r.run_id] == task]
        cell = _stats([r.metrics.get("test", {}).get(metric.name) for r in mine])
        steps = [r.costs.get("step_seconds") or [] for r in mine]
        cell.seconds = [statistics.fmean(s) for s in zip(*steps, strict=False)]
        cells[task] = cell
    row_costs = {key: _stats([r.costs.get(key) for r in runs]) for key in costs}
    if "peak_host_mb" in row_costs:  # what a machine must have: the largest, not the mean
        peaks = [r.costs["peak_host_mb"] for r in runs if r.costs.get("peak_host_mb") is not None]
        row_costs["peak_host_mb"] = Cell(max(peaks) if peaks else None, None, len(peaks))
    if "trainable_params" in row_costs:
        total = _stats([r.costs.get("total_params") for r in runs]).mean
        trainable = row_costs["trainable_params"].mean
        if total and trainable is not None:
            row_costs["trainable_params"].share = trainable / total
    return Row(keys, cells, row_costs, runs, len({r.seed for r in runs}), by_column)


def _stats(values: list[float | None]) -> Cell:
    present = [v for v in values if v is not None]
    mean = statistics.fmean(present) if present else None
    std = statistics.stdev(present) if len(present) >= 2 else None
    return Cell(mean, std, len(present))


def _rank(cells: list[Cell], lower: bool) -> None:
    """Rank 1 for the best mean, 2 for the second best (ties share), when 2+ rows have one."""
    means = sorted({c.mean for c in cells if c.mean is not None}, reverse=not lower)
    if len([c for c in cells if c.mean is not None]) < 2:
        return
    for cell in cells:
        if cell.mean is not None and cell.mean in means[:2]:
            cell.rank = means.index(cell.mean) + 1


def _rank_and_test(rows: list[Row], column: Column) -> bool:
    cells = [row.cells[column.key] for row in rows]
    _rank(cells, column.lower_is_better)
    best = [row for row in rows if row.cells[column.key].rank == 1]
    if not best:
        return False
    best_examples = best[0].examples(column.key)
    tested = False
    for row in rows:
        cell = row.cells[column.key]
        if cell.rank == 1 or cell.mean is None:
            continue
        if best[0].same_test_set(row, column.key):
            cell.p = paired_bootstrap_p(column.definition, best_examples, row.examples(column.key))
            tested |= cell.p is not None
    return tested
