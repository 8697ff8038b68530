"""The report's interactive figures (plotly), one set per task column of the table.

- quality against cost (train time, peak memory, trainable parameters), the Pareto front
  (rows no other row beats on both) drawn as a line through its points;
- the metric per row with a 95% confidence interval over seeds (Student's t);
- the training loss of every run against its optimiser steps.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tunebench.report.cells import Column, Row
from tunebench.report.table import ReportTable
from tunebench.report.verdict import ci95, pareto_front

LABELLED_POINTS = 12
"""Up to this many rows, cost plots write each row's label beside its point."""
COSTS = (
    ("train_seconds", "train time (s)", False),
    ("peak_host_mb", "peak RAM (MB)", False),
    ("trainable_params", "trainable parameters", True),
)


def label(row: Row) -> str:
    return " / ".join(row.keys)


def cost_figure(table: ReportTable, column: Column) -> go.Figure:
    figure = make_subplots(rows=1, cols=len(COSTS), subplot_titles=[t for _, t, _ in COSTS])
    scale = 100 if column.percent else 1
    for k, (key, title, log) in enumerate(COSTS, start=1):
        rows = [
            r
            for r in table.rows
            if r.cells[column.key].mean is not None and r.costs[key].mean is not None
        ]
        points = [(r.costs[key].mean, r.cells[column.key].mean * scale) for r in rows]
        if log:
            rows_points = [(r, p) for r, p in zip(rows, points, strict=True) if p[0] > 0]
            rows, points = [r for r, _ in rows_points], [p for _, p in rows_points]
        figure.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="markers+text" if len(rows) <= LABELLED_POINTS else "markers",
                text=[label(r) for r in rows],
                textposition="top center",
                textfont={"size": 9},
                hovertemplate="%{text}<br>%{x}<br>%{y}<extra></extra>",
                marker={"size": 9},
                name="runs",
                showlegend=k == 1,
                legendgroup="runs",
            ),
            row=1,
            col=k,
        )
        front = pareto_front(points, column.lower_is_better)
        figure.add_trace(
            go.Scatter(
                x=[points[i][0] for i in front],
                y=[points[i][1] for i in front],
                mode="lines+markers",
                text=[label(rows[i]) for i in front],
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
    figure.update_yaxes(title_text=_axis(column), row=1, col=1)
    figure.update_layout(title=f"{column.key}: quality against cost", height=420)
    return figure


def interval_figure(table: ReportTable, column: Column) -> go.Figure:
    """Mean per row with a 95% t-interval over its seeds (none with one seed)."""
    scale = 100 if column.percent else 1
    rows = [r for r in table.rows if r.cells[column.key].mean is not None]
    half_widths = [(ci95(row.cells[column.key]) or 0.0) * scale for row in rows]
    figure = go.Figure(
        go.Bar(
            x=[label(r) for r in rows],
            y=[r.cells[column.key].mean * scale for r in rows],
            error_y={"type": "data", "array": half_widths, "visible": True},
            hovertemplate="%{x}<br>%{y}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{column.key}: {column.metric} per row, 95% confidence interval over seeds",
        yaxis_title=_axis(column),
        height=420,
    )
    return figure


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
                        name=f"{label(row)} (seed {run.seed})",
                    )
                )
    figure.update_layout(
        title=f"{column.key}: training loss", xaxis_title="step", yaxis_title="loss", height=420
    )
    return figure


def _axis(column: Column) -> str:
    arrow = "lower is better" if column.lower_is_better else "higher is better"
    return f"{column.metric}{' (%)' if column.percent else ''}, {arrow}"
