"""Cross-task transfer (seed 001's generalisation to unseen data sets): for each row of the
table (a method and its settings), a matrix of the test metric with the task the model was
trained on as its row and the task it was tested on as its column. The diagonal is each task's
own test split; the rest comes from the tasks' `eval_tasks` (`metrics.transfer`). Each cell is
the mean over seeds. For decoder families the `frozen` row is the zero-shot model.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

import plotly.graph_objects as go

from tunebench.report.markdown import escape
from tunebench.report.plots import label
from tunebench.report.table import ReportTable


@dataclass(frozen=True)
class TransferMatrix:
    label: str
    metric: str
    trained: list[str]
    tested: list[str]
    values: dict[tuple[str, str], float]
    """(trained on, tested on) -> mean over seeds (in % for accuracy-like metrics)."""


def transfer_matrices(table: ReportTable) -> list[TransferMatrix]:
    """One matrix per row whose runs were tested on other tasks."""
    matrices = []
    for row in table.rows:
        cells: dict[tuple[str, str], list[float]] = defaultdict(list)
        metric = None
        for column in table.tasks:
            scale = 100 if column.percent else 1
            for run in row.by_column.get(column.key, []):
                metric = metric or column.metric
                tested = {run.task: run.metrics.get("test", {}), **run.metrics.get("transfer", {})}
                for task, values in tested.items():
                    if values.get(column.metric) is not None:
                        cells[(run.task, task)].append(values[column.metric] * scale)
        if metric is None or all(trained == tested for trained, tested in cells):
            continue
        values = {key: statistics.fmean(found) for key, found in cells.items()}
        trained = list(dict.fromkeys(t for t, _ in values))
        tested = trained + [t for t in dict.fromkeys(t for _, t in values) if t not in trained]
        matrices.append(TransferMatrix(label(table, row), metric, trained, tested, values))
    return matrices


def transfer_markdown(table: ReportTable) -> str:
    """Each matrix as a Markdown table ('' when no run was tested on another task)."""
    parts = []
    for matrix in transfer_matrices(table):
        lines = [
            f"### {escape(matrix.label)}: test {escape(matrix.metric)}, trained on (rows) and "
            "tested on (columns)\n",
            "| trained on | " + " | ".join(escape(t) for t in matrix.tested) + " |",
            "|---|" + "--:|" * len(matrix.tested),
        ]
        for trained in matrix.trained:
            cells = [_number(matrix.values.get((trained, t))) for t in matrix.tested]
            lines.append(f"| {escape(trained)} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def transfer_figures(table: ReportTable) -> list[go.Figure]:
    """Each matrix as a heatmap with its numbers."""
    figures = []
    for matrix in transfer_matrices(table):
        z = [[matrix.values.get((t, u)) for u in matrix.tested] for t in matrix.trained]
        text = [[_number(v) for v in row] for row in z]
        heatmap = go.Heatmap(z=z, x=matrix.tested, y=matrix.trained, text=text)
        figure = go.Figure(heatmap.update(texttemplate="%{text}", colorscale="Blues"))
        figure.update_layout(
            title=f"{matrix.label}: test {matrix.metric} by training task (rows) and test task",
            xaxis_title="tested on",
            yaxis_title="trained on",
            yaxis_autorange="reversed",
            height=120 + 60 * len(matrix.trained),
        )
        figures.append(figure)
    return figures


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
