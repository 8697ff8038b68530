"""The report's interactive figures (plotly), one set per task column of the table.

- quality against each cost on that task (train time, peak memory, trainable parameters), the
  Pareto front (rows no other row beats on both, rows no better than trivial left out) drawn
  as a labelled line through its points;
- the metric per row as a dot with a 95% confidence interval over seeds (Student's t), on an
  axis fitted to the data;
- the training loss of every run against its optimiser steps.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tunebench.report.cells import Column, Row
from tunebench.report.table import ReportTable
from tunebench.report.verdict import ci95, pareto_front, shown_keys, task_costs

FRONT_LABELS = ("top left", "bottom right")
"""Cost plots write labels beside the Pareto front's points only (the others show theirs on
hover), alternating above and below the front's line so that neighbours do not overlap."""
COSTS = (
    ("train_seconds", "train time (s)", False),
    ("peak_host_mb", "peak RAM (MB)", False),
    ("trainable_params", "trainable parameters", True),
)


def label(table: ReportTable, row: Row) -> str:
    """The row's key cells that differ between the table's rows (`lora r=8`, without a
    backbone every row shares): short labels crowd a figure less."""
    return " / ".join(row.keys[i] for i in shown_keys(table.rows))


def cost_figure(table: ReportTable, column: Column) -> go.Figure:
    figure = make_subplots(rows=1, cols=len(COSTS), subplot_titles=[t for _, t, _ in COSTS])
    for k, (key, title, log) in enumerate(COSTS, start=1):
        rows, points = _points(table, column, key, log)
        figure.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="markers",
                text=[label(table, r) for r in rows],
                hovertemplate="%{text}<br>%{x}<br>%{y}<extra></extra>",
                marker={"size": 9},
                name="runs",
                showlegend=k == 1,
                legendgroup="runs",
            ),
            row=1,
            col=k,
        )
        trusted = [i for i, r in enumerate(rows) if not r.cells[column.key].no_better_than_trivial]
        front = pareto_front([points[i] for i in trusted], column.lower_is_better)
        front = [trusted[i] for i in front]
        figure.add_trace(
            go.Scatter(
                x=[points[i][0] for i in front],
                y=[points[i][1] for i in front],
                mode="lines+markers+text",
                text=[label(table, rows[i]) for i in front],
                textposition=[FRONT_LABELS[n % 2] for n in range(len(front))],
                textfont={"size": 9},
                hovertemplate="Pareto front: %{text}<extra></extra>",
                line={"dash": "dot"},
                marker={"size": 12, "symbol": "star"},
                name="Pareto front",
                showlegend=k == 1,
                legendgroup="front",
            ),
            row=1,
            col=k,
        )
        figure.update_xaxes(title_text=title, type="log" if log else "linear", row=1, col=k)
    figure.update_yaxes(title_text=axis_title(column), row=1, col=1)
    figure.update_layout(title=f"{column.key}: quality against cost", height=420)
    return figure


def _points(
    table: ReportTable, column: Column, key: str, log: bool
) -> tuple[list[Row], list[tuple[float, float]]]:
    """The rows with a score and a cost `key` on this task (positive on a log axis), and their
    (cost on this task, score) points."""
    scale = 100 if column.percent else 1
    rows, points = [], []
    for row in table.rows:
        cost = task_costs(row, column.key)[key]
        mean = row.cells[column.key].mean
        if mean is not None and cost is not None and (cost > 0 or not log):
            rows.append(row)
            points.append((cost, mean * scale))
    return rows, points


def interval_figure(table: ReportTable, column: Column) -> go.Figure:
    """Mean per row as a dot with its 95% t-interval over seeds (none with one seed), on an
    axis fitted to the intervals (bars from zero make 96% and 98.6% look alike); rows no
    better than the trivial baseline are grey."""
    scale = 100 if column.percent else 1
    rows = [r for r in table.rows if r.cells[column.key].mean is not None]
    means = [r.cells[column.key].mean * scale for r in rows]
    half_widths = [(ci95(row.cells[column.key]) or 0.0) * scale for row in rows]
    trivial = [r.cells[column.key].no_better_than_trivial for r in rows]
    figure = go.Figure(
        go.Scatter(
            x=[label(table, r) for r in rows],
            y=means,
            mode="markers",
            # one colour for the bars: they would take the markers' list, which plotly.js refuses
            error_y={"type": "data", "array": half_widths, "visible": True, "color": "#444"},
            marker={"size": 10, "color": ["#999" if t else "#1f77b4" for t in trivial]},
            hovertemplate="%{x}<br>%{y}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{column.key}: {column.metric} per row, 95% confidence interval over seeds "
        "(grey: no better than trivial)",
        yaxis={"title": axis_title(column), "range": fitted_range(means, half_widths)},
        height=420,
    )
    return figure


def fitted_range(values: list[float], half_widths: list[float]) -> list[float] | None:
    """An axis range holding every interval with 8% of its span to spare on each side."""
    if not values:
        return None
    low = min(v - h for v, h in zip(values, half_widths, strict=True))
    high = max(v + h for v, h in zip(values, half_widths, strict=True))
    pad = 0.08 * (high - low) or 0.05 * abs(high) or 1.0
    return [low - pad, high + pad]


def loss_figure(table: ReportTable, column: Column) -> go.Figure:
    figure = go.Figure()
    for row in table.rows:
        for run in row.by_column.get(column.key, []):
            points = [h for h in run.history if "loss" in h and "step" in h]
            if points:
                figure.add_trace(
                    go.Scatter(
                        x=[h["step"] for h in points],
                        y=[h["loss"] for h in points],
                        mode="lines+markers",
                        name=f"{label(table, row)} (seed {run.seed})",
                    )
                )
    figure.update_layout(
        title=f"{column.key}: training loss", xaxis_title="step", yaxis_title="loss", height=420
    )
    return figure


def axis_title(column: Column) -> str:
    """`accuracy (%), higher is better`: a task column's metric as an axis title."""
    arrow = "lower is better" if column.lower_is_better else "higher is better"
    return f"{column.metric}{' (%)' if column.percent else ''}, {arrow}"
