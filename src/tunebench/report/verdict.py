"""Which method for this task and this budget? The verdict `tunebench recommend` prints and
the report opens with.

Per task column of a results table: every row's quality (mean over seeds with a 95% Student-t
interval) and its costs *on that task* (train time: mean; peak RAM: max; trainable parameters
and checkpoint size: mean). Rows over the budget or no better than the trivial baseline
(trust.py) cannot be chosen. The best of the rest is chosen; rows not significantly worse
than it (the paired bootstrap of stats.py, p ≥ 0.05) are tied with it. The Pareto front of
each cost holds the rows (better than trivial) that no other row beats on both quality and
that cost. advice.py says it in one sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy import stats

from tunebench.report.budget import Budget
from tunebench.report.cells import Cell, Column, Row
from tunebench.report.stats import SIGNIFICANCE, paired_bootstrap_p
from tunebench.report.table import ReportTable

PARETO_COSTS = ("train_seconds", "peak_host_mb", "trainable_params", "checkpoint_mb")


@dataclass
class Choice:
    """A table row as a candidate on one task."""

    label: str
    task: str
    row: Row
    cell: Cell
    costs: dict[str, float | None]
    over_budget: str | None = None
    """Why it is over the budget, or None."""
    p: float | None = None
    """Paired bootstrap p-value against the chosen row (None: the chosen one, or no test)."""

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.row.by_column[self.task]]

    @property
    def interval(self) -> float | None:
        return ci95(self.cell)


@dataclass
class TaskVerdict:
    column: Column
    label_header: str
    """What the choices' labels name: `Method`, or `Backbone / Method`."""
    choices: list[Choice]
    """Every row with a score on the task, in table order."""
    best: Choice | None
    tied: list[Choice] = field(default_factory=list)
    pareto: dict[str, list[Choice]] = field(default_factory=dict)
    """cost key -> the front, cheapest first."""
    backbone: str | None = None
    """The one backbone whose runs the verdict compared (`recommend --by-backbone`), or None."""

    @property
    def title(self) -> str:
        """The task column, after its backbone where the verdict is one backbone's."""
        return f"{self.backbone} · {self.column.key}" if self.backbone else self.column.key

    @property
    def trivial(self) -> list[Choice]:
        return [c for c in self.choices if c.cell.no_better_than_trivial]


def ci95(cell: Cell) -> float | None:
    """Half-width of the 95% Student-t interval of the mean over seeds (None below 2 seeds)."""
    if cell.std is None or cell.n < 2:
        return None
    return float(stats.t.ppf(0.975, cell.n - 1) * cell.std / math.sqrt(cell.n))


def verdicts(table: ReportTable, budget: Budget) -> list[TaskVerdict]:
    """One verdict per task column of the table."""
    shown = shown_keys(table.rows)
    header = " / ".join(table.key_headers[i] for i in shown)
    labels = [" / ".join(row.keys[i] for i in shown) for row in table.rows]
    return [_verdict(table, column, labels, header, budget) for column in table.tasks]


def _verdict(
    table: ReportTable, column: Column, labels: list[str], header: str, budget: Budget
) -> TaskVerdict:
    choices = []
    for index, row in enumerate(table.rows):
        cell = row.cells[column.key]
        if cell.mean is None:
            continue
        costs = task_costs(row, column.key)
        choices.append(Choice(labels[index], column.key, row, cell, costs, budget.over(costs)))
    eligible = [c for c in choices if c.over_budget is None and not c.cell.no_better_than_trivial]
    if not eligible:
        return TaskVerdict(column, header, choices, None)
    sign = -1 if column.lower_is_better else 1
    best = max(eligible, key=lambda c: sign * c.cell.mean)
    for choice in choices:
        if choice is not best and best.row.same_test_set(choice.row, column.key):
            choice.p = paired_bootstrap_p(
                column.definition, best.row.examples(column.key), choice.row.examples(column.key)
            )
    tied = [c for c in eligible if c is not best and c.p is not None and c.p >= SIGNIFICANCE]
    trusted = [c for c in choices if not c.cell.no_better_than_trivial]
    pareto = {key: _front(trusted, key, column.lower_is_better) for key in PARETO_COSTS}
    return TaskVerdict(column, header, choices, best, tied, {k: v for k, v in pareto.items() if v})


def task_costs(row: Row, task: str) -> dict[str, float | None]:
    """The row's costs on one task: mean train time, parameters and checkpoint; max peak RAM."""
    runs = row.by_column[task]

    def values(key: str) -> list[float]:
        return [r.costs[key] for r in runs if r.costs.get(key) is not None]

    costs = {}
    for key in PARETO_COSTS:
        found = values(key)
        if found:
            costs[key] = max(found) if key == "peak_host_mb" else sum(found) / len(found)
        else:
            costs[key] = None
    return costs


def shown_keys(rows: list[Row]) -> list[int]:
    """The key cells a label needs: those that differ between rows (`lora r=8`, not
    `minilm-l6 / lora r=8` when every row has the same backbone); the last when none do."""
    if not rows:
        return [0]
    width = len(rows[0].keys)
    return [i for i in range(width) if len({row.keys[i] for row in rows}) > 1] or [width - 1]


def _front(choices: list[Choice], key: str, lower_is_better: bool) -> list[Choice]:
    points = [c for c in choices if c.costs.get(key) is not None]
    front = pareto_front([(c.costs[key], c.cell.mean) for c in points], lower_is_better)
    return [points[i] for i in front]


def pareto_front(points: list[tuple[float, float]], lower_y: bool) -> list[int]:
    """Indices of the points no other point beats on both: lower x (a cost) and better y;
    in order of x."""

    def cheapest_then_best(i: int) -> tuple[float, float]:
        x, y = points[i]
        return x, y if lower_y else -y

    order = sorted(range(len(points)), key=cheapest_then_best)
    front, best = [], None
    for i in order:
        y = points[i][1]
        if best is None or (y < best if lower_y else y > best):
            front.append(i)
            best = y
    return front
