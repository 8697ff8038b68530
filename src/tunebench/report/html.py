"""The self-contained HTML report: one file that opens from disk with no network.

plotly.js is inlined; each figure's data is embedded as JSON with `</` escaped so no user
string can close the script element; every user string in the page itself (row labels, task
names, provenance) goes through `html.escape`.
"""

from __future__ import annotations

import html
import importlib.resources
import json
from collections import Counter

from tunebench.records import RunRecord, json_safe
from tunebench.report import across, plots, sweep_plots
from tunebench.report.cells import Cell
from tunebench.report.data_size import data_size_figures
from tunebench.report.stability import stability_figure
from tunebench.report.table import ReportTable
from tunebench.report.text import caption_lines, cost_text, format_seconds, metric_text
from tunebench.report.transfer import transfer_figures
from tunebench.report.trust import cell_marks
from tunebench.report.verdict import TaskVerdict

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:nth-child(-n+KEYS), td:nth-child(-n+KEYS) { text-align: left; }
thead th { border-bottom: 2px solid #444; }
.second { text-decoration: underline; }
.caption { color: #555; font-size: 0.85em; }
.figure { margin: 1.5em 0; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.8em; }
"""


def render_html(
    name: str,
    tables: list[ReportTable],
    records: list[RunRecord],
    advice: list[str],
    verdicts: list[list[TaskVerdict]],
) -> str:
    """The report page; `advice` is the verdict's sentence per task (advice.py), `verdicts`
    each table's task verdicts (for the summary across tasks)."""
    figures = []
    for table in tables:
        for column in table.tasks:
            figures += [
                plots.cost_figure(table, column),
                plots.interval_figure(table, column),
                plots.loss_figure(table, column),
                *sweep_plots.sweep_figures(table, column),
                stability_figure(table, column),
            ]
        figures += data_size_figures(table) + transfer_figures(table)
    figures = [f for f in figures if f is not None]
    divs = "\n".join(_figure(i, f) for i, f in enumerate(figures))
    statuses = Counter(r.status for r in records)
    summary = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    style = _STYLE.replace("KEYS", str(max(len(t.key_headers) for t in tables)))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)} — tunebench report</title>
<style>{style}</style>
<script>{_plotly_js()}</script>
</head><body>
<h1>{html.escape(name)}</h1>
<p>{len(records)} runs: {html.escape(summary)}.</p>
<h2>Verdict</h2>
<ul>{"".join(f"<li>{html.escape(line)}</li>" for line in advice)}</ul>
{"".join(_across(found) for found in verdicts)}
<h2>Comparison</h2>
{"".join(_table(table) for table in tables)}
<h2>Figures</h2>
{divs}
<h2>Provenance</h2>
{_provenance(records)}
</body></html>
"""


def _across(verdicts: list[TaskVerdict]) -> str:
    """The summary across a table's tasks (across.py), or '' for one task."""
    rows = across.across_tasks(verdicts)
    if not rows:
        return ""
    headers = [verdicts[0].label_header, *across.HEADERS]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in across.cells(row)) + "</tr>"
        for row in rows
    )
    return (
        f"<h3>Across tasks</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f"</table><p class='caption'>{html.escape(across.LEGEND)}</p>"
    )


def _table(table: ReportTable) -> str:
    head = [html.escape(h) for h in table.key_headers]
    for column in table.tasks:
        arrow = "↓" if column.lower_is_better else "↑"
        head.append(f"{html.escape(column.header)} {arrow}")
        if table.timed:
            head.append("time")
    head += [f"{html.escape(c.header)} ↓" for c in table.costs] + ["n"]
    rows = []
    for row in table.rows:
        cells = [f"<td>{html.escape(k)}</td>" for k in row.keys]
        for column in table.tasks:
            cell = row.cells[column.key]
            cells.append(_cell(metric_text(cell, column.percent), cell))
            if table.timed:
                cells.append(f"<td>{html.escape(format_seconds(cell.seconds))}</td>")
        cells += [_cell(cost_text(c.key, row.costs[c.key]), row.costs[c.key]) for c in table.costs]
        cells.append(f"<td>{row.n}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = "<br>".join(html.escape(line) for line in caption_lines(table))
    header = "".join(f"<th>{h}</th>" for h in head)
    return (
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="caption">{caption}</p>'
    )


def _cell(text: str, cell: Cell) -> str:
    shown = html.escape(text) + (" †" if cell.tied_with_best else "") + cell_marks(cell)
    if cell.rank == 1:
        shown = f"<b>{shown}</b>"
    elif cell.rank == 2:
        shown = f'<span class="second">{shown}</span>'
    title = (
        f' title="paired bootstrap p = {cell.p:.3g} against the best"' if cell.p is not None else ""
    )
    return f"<td{title}>{shown}</td>"


def _figure(index: int, figure) -> str:
    data = _script_json(figure.to_plotly_json())
    return (
        f'<div class="figure" id="figure-{index}"></div>\n'
        f"<script>(function() {{ const f = {data}; "
        f"Plotly.newPlot('figure-{index}', f.data, f.layout, {{responsive: true}}); }})();</script>"
    )


def _provenance(records: list[RunRecord]) -> str:
    """What every run shares (versions, machine, commit), then what differs per run."""
    completed = [r.provenance for r in records if r.provenance]
    if not completed:
        return "<p>none recorded</p>"
    shared = {k: v for k, v in completed[0].items() if all(p.get(k) == v for p in completed)}
    varying = sorted({k for p in completed for k in p} - set(shared))
    text = json.dumps(json_safe(shared), indent=2, sort_keys=True)
    more = f"<p>Differs between runs: {html.escape(', '.join(varying))}.</p>" if varying else ""
    return f"<pre>{html.escape(text)}</pre>{more}"


def _script_json(value) -> str:
    """JSON that is safe inside a <script> element: `</` and `<!--` cannot appear."""
    text = json.dumps(json_safe(value), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _plotly_js() -> str:
    return (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_text(
        encoding="utf-8"
    )
