"""The table in a terminal (rich): best bold, second underlined, † for rows not significantly
worse than the best, the caption below."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from tunebench.report.cells import Cell, Column
from tunebench.report.table import ReportTable
from tunebench.report.text import caption_lines, cost_text, format_seconds, metric_text
from tunebench.report.trust import cell_marks


def render_terminal(table: ReportTable) -> Table:
    shown = Table(caption="\n".join(caption_lines(table)), caption_justify="left")
    for header in table.key_headers:
        shown.add_column(header, no_wrap=True)
    for column in table.tasks:
        arrow = "↓" if column.lower_is_better else "↑"
        shown.add_column(_header(column, arrow), justify="right", overflow="fold")
        if table.timed:
            shown.add_column("time", justify="right", no_wrap=True)
    for cost in table.costs:
        shown.add_column(f"{cost.header} ↓", justify="right", no_wrap=True)
    shown.add_column("n", justify="right")
    for row in table.rows:
        cells = [Text(k) for k in row.keys]  # Text, not str: labels may hold `[...]`, markup
        for column in table.tasks:
            cell = row.cells[column.key]
            cells.append(_marked(metric_text(cell, column.percent), cell))
            if table.timed:
                cells.append(Text(format_seconds(cell.seconds)))
        cells += [
            _marked(cost_text(c.key, row.costs[c.key]), row.costs[c.key]) for c in table.costs
        ]
        cells.append(Text(str(row.n)))
        shown.add_row(*cells)
    return shown


def _marked(text: str, cell: Cell) -> Text:
    if cell.tied_with_best:
        text += " †"
    text += cell_marks(cell)
    style = "bold" if cell.rank == 1 else "underline" if cell.rank == 2 else ""
    return Text(text, style=style)


def _header(column: Column, arrow: str) -> str:
    """`task metric ↑`; a column of a task with settings (a data-size sweep's) puts the task
    and each setting on a line of its own, which a header cut to the column's width would
    hide."""
    header = f"{column.header} {arrow}"
    if " " not in column.key:
        return header
    metric = column.header.removeprefix(column.key).strip()
    return "\n".join([*column.key.split(" "), f"{metric} {arrow}"])
