"""Stability over seeds (seed 001's model stability): per task column and table row, how far
the test metric moves when only the seed changes — standard deviation, lowest and highest,
and the range — as a table and a figure with every seed's run as a point.

Rows with fewer than two seeds are left out: one run says nothing about spread.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import plotly.graph_objects as go

from tunebench.report.cells import Column, test_value
from tunebench.report.markdown import escape
from tunebench.report.plots import axis_title, label
from tunebench.report.table import ReportTable


@dataclass(frozen=True)
class Spread:
    label: str
    values: list[float]
    """The test metric of each seed's run (in % for accuracy-like metrics)."""

    @property
    def std(self) -> float:
        return statistics.stdev(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


def spreads(table: ReportTable, column: Column) -> list[Spread]:
    """Each row's seeds in `column`, for rows with at least two."""
    found = []
    for row in table.rows:
        runs = row.by_column.get(column.key, [])
        values = [v for run in runs if (v := test_value(run, column)) is not None]
        if len(values) >= 2:
            found.append(Spread(label(table, row), values))
    return found


def stability_markdown(table: ReportTable) -> str:
    """One Markdown table per task column with seeds to compare ('' when there is none)."""
    parts = []
    for column in table.tasks:
        found = spreads(table, column)
        if not found:
            continue
        lines = [
            f"### {escape(column.header)}: spread over seeds\n",
            "| Row | n | mean | std | lowest | highest | range |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for s in sorted(found, key=lambda s: s.std):
            mean = statistics.fmean(s.values)
            cells = [mean, s.std, s.low, s.high, s.high - s.low]
            figures = " | ".join(f"{v:.2f}" for v in cells)
            lines.append(f"| {escape(s.label)} | {len(s.values)} | {figures} |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def stability_figure(table: ReportTable, column: Column) -> go.Figure | None:
    """Every seed's test metric per row, as a box with its points; None without seeds."""
    found = spreads(table, column)
    if not found:
        return None
    figure = go.Figure()
    for spread in found:
        figure.add_trace(go.Box(y=spread.values, name=spread.label, boxpoints="all"))
    figure.update_layout(
        title=f"{column.key}: test {column.metric} over seeds (every run a point)",
        yaxis_title=axis_title(column),
        showlegend=False,
        height=440,
    )
    return figure
