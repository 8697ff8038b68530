"""The comparison table every report format renders: rows, per-task cells, costs, ranks, tests.

Rows are what the terminal table shows: backbone / method for text studies, LM / downstream /
pipeline for tabular ones (seed 000's Table 2). A cell is the test metric over seeds (mean,
std, n), its rank in the column (1 = best, 2 = second; ties share a rank) and the paired
bootstrap p-value against the column's best row. Cost columns are ranked too (lower is better).
Renderers (`markdown.py`, `latex.py`, `html.py`) only decide how this looks.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from tunebench.report.stats import paired_bootstrap_p
from tunebench.results import (
    human_count,
    is_percent,
    lower_is_better,
    method_labels,
    task_metrics,
)
from tunebench.store import RunRecord
from tunebench.tabular import table as tabular

SIGNIFICANCE = 0.05


@dataclass
class Cell:
    mean: float | None
    std: float | None
    n: int
    rank: int | None = None
    p: float | None = None
    """Paired bootstrap p-value against the column's best row (None: the best, or no test)."""
    seconds: list[float] = field(default_factory=list)
    """Tabular studies: mean training seconds of each step."""

    @property
    def tied_with_best(self) -> bool:
        """Not significantly worse than the best row (p >= 0.05)."""
        return self.rank != 1 and self.p is not None and self.p >= SIGNIFICANCE


@dataclass(frozen=True)
class Column:
    key: str
    """A task's name, or a cost's key in `costs`."""
    header: str
    lower_is_better: bool
    percent: bool = False
    metric: str = ""


COSTS = (
    Column("train_seconds", "train time", True),
    Column("peak_host_mb", "peak RAM MB", True),
    Column("trainable_params", "trainable params", True),
    Column("checkpoint_mb", "checkpoint MB", True),
)


@dataclass
class Row:
    keys: list[str]
    cells: dict[str, Cell]
    """task -> its metric's cell"""
    costs: dict[str, Cell]
    """cost key -> mean over the row's runs (peak RAM: max)"""
    runs: list[RunRecord]
    n: int


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
    """Tabular studies: each task also has a time column (training seconds of each step)."""


def build_table(records: list[RunRecord], metric: str | None = None) -> ReportTable:
    completed = [r for r in records if r.status == "completed"]
    if tabular.is_tabular(records):
        headers = ["LM", "Downstream", "Pipeline"]
        metrics = tabular.task_metrics(completed, metric)
        labels = tabular.row_labels(completed)
        key = {
            r.run_id: ["—" if r.backbone == "none" else r.backbone, *labels[r.run_id]]
            for r in completed
        }
    else:
        headers = ["Backbone", "Method"]
        metrics = task_metrics(completed, metric)
        labels = method_labels(completed)
        key = {r.run_id: [r.backbone, labels[r.run_id]] for r in completed}
    groups: dict[tuple[str, ...], list[RunRecord]] = {}
    for r in completed:
        groups.setdefault(tuple(key[r.run_id]), []).append(r)
    tasks = [
        Column(task, f"{task} {m}", lower_is_better(m), is_percent(m), m)
        for task, m in metrics.items()
    ]
    rows = [_row(list(keys), runs, metrics) for keys, runs in groups.items()]
    tested = False
    for column in tasks:
        tested |= _rank_and_test(rows, column, metrics[column.key])
    for cost in COSTS:
        _rank([row.costs[cost.key] for row in rows], lower=True)
    costs = [c for c in COSTS if any(row.costs[c.key].mean is not None for row in rows)]
    failed = sum(r.status == "failed" for r in records)
    running = sum(r.status == "running" for r in records)
    timed = tabular.is_tabular(records)
    return ReportTable(headers, tasks, costs, rows, tested, failed, running, timed)


def _row(keys: list[str], runs: list[RunRecord], metrics: dict[str, str]) -> Row:
    cells = {}
    for task, metric in metrics.items():
        mine = [r for r in runs if r.task == task]
        values = [r.metrics.get("test", {}).get(metric) for r in mine]
        cell = _stats(values)
        steps = [r.costs.get("step_seconds") or [] for r in mine]
        cell.seconds = [statistics.fmean(s) for s in zip(*steps, strict=False)]
        cells[task] = cell
    costs = {c.key: _stats([r.costs.get(c.key) for r in runs]) for c in COSTS}
    peaks = [r.costs.get("peak_host_mb") for r in runs if r.costs.get("peak_host_mb") is not None]
    costs["peak_host_mb"].mean = max(peaks) if peaks else None  # what a machine must have
    costs["peak_host_mb"].std = None
    return Row(keys, cells, costs, runs, len({r.seed for r in runs}))


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


def _rank_and_test(rows: list[Row], column: Column, metric: str) -> bool:
    cells = [row.cells[column.key] for row in rows]
    _rank(cells, column.lower_is_better)
    best = [row for row in rows if row.cells[column.key].rank == 1]
    if not best:
        return False
    best_examples = _examples(best[0], column.key)
    tested = False
    for row in rows:
        cell = row.cells[column.key]
        if cell.rank == 1 or cell.mean is None:
            continue
        if _same_test_set(best[0], row, column.key):
            cell.p = paired_bootstrap_p(
                metric, best_examples, _examples(row, column.key), column.lower_is_better
            )
            tested |= cell.p is not None
    return tested


def _examples(row: Row, task: str) -> list[dict]:
    return [
        r.metrics["test_examples"]
        for r in row.runs
        if r.task == task and "test_examples" in r.metrics
    ]


def _same_test_set(a: Row, b: Row, task: str) -> bool:
    """Runs are paired only if they were scored on the same examples: same task settings and
    the same data."""

    def identity(row: Row) -> set[str]:
        return {
            repr((r.config.get("task"), r.provenance.get("data_sha256")))
            for r in row.runs
            if r.task == task
        }

    return len(identity(a) | identity(b)) == 1


def metric_text(cell: Cell, percent: bool) -> str:
    """`97.17 ± 0.48` (percent metrics x 100), `0.4783 ± 0.0027`, or an em dash."""
    if cell.mean is None:
        return "—"
    scale, spec = (100, ".2f") if percent else (1, ".4f")
    text = format(cell.mean * scale, spec)
    if cell.std is not None:
        text += f" ± {format(cell.std * scale, spec)}"
    return text


def cost_text(key: str, cell: Cell) -> str:
    if cell.mean is None:
        return "—"
    if key == "train_seconds":
        return tabular.format_seconds([cell.mean])
    if key == "trainable_params":
        return human_count(cell.mean)
    return format(cell.mean, ".0f" if key == "peak_host_mb" else ".2f")
