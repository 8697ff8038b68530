"""Figures of swept settings: a task's metric against each method or training setting that
takes several values among the runs of one method (a sweep, or a study's variants).

Every run is a point (seeds included), with a line through the mean at each value. A numeric
setting spanning more than a factor of 20 (ranks, learning rates) gets a log axis; any other
value (a scheduler, a list of target modules) is a category.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict

import plotly.graph_objects as go

from tunebench.records import RunRecord
from tunebench.report.cells import Column, test_value
from tunebench.report.table import ReportTable

SECTIONS = ("method", "training")


def varied_settings(runs: list[RunRecord]) -> list[str]:
    """`section.setting` keys whose value differs between runs of the same method."""
    by_method: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        by_method[run.method].append(run)
    keys: dict[str, None] = {}
    for group in by_method.values():
        for section in SECTIONS:
            settings = {k for run in group for k in (run.config.get(section) or {})}
            for setting in sorted(settings):
                values = {_text(_value(run, f"{section}.{setting}")) for run in group}
                if len(values) > 1:
                    keys[f"{section}.{setting}"] = None
    return list(keys)


def sweep_figures(table: ReportTable, column: Column) -> list[go.Figure]:
    runs = [
        run
        for row in table.rows
        for run in row.by_column.get(column.key, [])
        if test_value(run, column) is not None
    ]
    return [_figure(runs, key, column) for key in varied_settings(runs)]


def _figure(runs: list[RunRecord], key: str, column: Column) -> go.Figure:
    figure = go.Figure()
    values = [_value(run, key) for run in runs]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    for method in sorted({run.method for run in runs}):
        mine = [run for run in runs if run.method == method]
        by_value: dict[str, list[float]] = defaultdict(list)
        xs = []
        for run in mine:
            x = _value(run, key) if numeric else _text(_value(run, key))
            xs.append(x)
            by_value[json.dumps(x)].append(test_value(run, column))
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=[test_value(run, column) for run in mine],
                mode="markers",
                name=f"{method}: runs",
                opacity=0.5,
            )
        )
        means = sorted((json.loads(x), statistics.fmean(ys)) for x, ys in by_value.items())
        figure.add_trace(
            go.Scatter(
                x=[x for x, _ in means],
                y=[y for _, y in means],
                mode="lines+markers",
                name=f"{method}: mean",
            )
        )
    positive = numeric and min(values) > 0
    log = positive and max(values) / min(values) > 20
    figure.update_layout(
        title=f"{column.key}: {column.metric} against {key}",
        xaxis_title=key,
        xaxis_type="log" if log else ("category" if not numeric else "linear"),
        yaxis_title=f"{column.metric} ({'lower' if column.lower_is_better else 'higher'} is "
        "better)",
        height=420,
    )
    return figure


def _value(run: RunRecord, key: str):
    section, _, setting = key.partition(".")
    return (run.config.get(section) or {}).get(setting)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)
