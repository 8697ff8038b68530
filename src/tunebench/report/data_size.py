"""Data-size curves (seed 001's "how do results change with the amount of training data"):
a task's metric and training time against the number of training rows, one line per row of
the table (a method and its settings), when the study ran that task at several sizes — a
sweep of `task.max_train_samples`, whose sizes the table shows as columns of the same task.

The x-axis is the rows the runs trained on (recorded in their provenance as `split_rows`;
`max_train_samples: null` is the whole training split), on a log scale. Each point is the
mean over seeds, with a bar from the lowest to the highest seed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable

import plotly.graph_objects as go

from tunebench.records import RunRecord
from tunebench.report.cells import Column, test_value
from tunebench.report.plots import axis_title, label
from tunebench.report.table import ReportTable


def train_rows(run: RunRecord) -> int | None:
    """How many rows the run trained on: recorded, else its `max_train_samples`."""
    recorded = (run.provenance.get("split_rows") or {}).get("train")
    return recorded or (run.config.get("task") or {}).get("max_train_samples")


def data_size_figures(table: ReportTable) -> list[go.Figure]:
    """Per task run at two sizes or more: its metric, then its training time, against size."""
    figures = []
    for task, columns in _columns_by_task(table).items():
        runs = [run for row in table.rows for c in columns for run in row.by_column.get(c.key, [])]
        if len({train_rows(run) for run in runs} - {None}) < 2:
            continue
        column = columns[0]
        figures.append(
            _curves(
                table,
                columns,
                lambda run, column=column: test_value(run, column),
                f"{task}: test {column.metric} against training rows",
                axis_title(column),
            )
        )
        figures.append(
            _curves(
                table,
                columns,
                lambda run: run.costs.get("train_seconds"),
                f"{task}: training time against training rows",
                "train time (s)",
            )
        )
    return figures


def _columns_by_task(table: ReportTable) -> dict[str, list[Column]]:
    """The table's task columns grouped by the task they measure (one per size)."""
    grouped: dict[str, list[Column]] = defaultdict(list)
    for column in table.tasks:
        task = next((r.task for row in table.rows for r in row.by_column.get(column.key, [])), None)
        if task is not None:
            grouped[task].append(column)
    return grouped


def _curves(
    table: ReportTable,
    columns: list[Column],
    value: Callable[[RunRecord], float | None],
    title: str,
    y_title: str,
) -> go.Figure:
    figure = go.Figure()
    for row in table.rows:
        by_size: dict[int, list[float]] = defaultdict(list)
        for column in columns:
            for run in row.by_column.get(column.key, []):
                size, y = train_rows(run), value(run)
                if size is not None and y is not None:
                    by_size[size].append(y)
        if not by_size:
            continue
        sizes = sorted(by_size)
        means = [statistics.fmean(by_size[s]) for s in sizes]
        figure.add_trace(
            go.Scatter(
                x=sizes,
                y=means,
                mode="lines+markers",
                name=label(table, row),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [max(by_size[s]) - m for s, m in zip(sizes, means, strict=True)],
                    "arrayminus": [m - min(by_size[s]) for s, m in zip(sizes, means, strict=True)],
                },
            )
        )
    figure.update_layout(
        title=f"{title} (mean over seeds, bars: lowest to highest seed)",
        xaxis_title="training rows",
        xaxis_type="log",
        yaxis_title=y_title,
        height=440,
    )
    return figure
