"""The report table as GitHub Markdown: best bold, second underlined, † for rows that are not
significantly worse than the best, ↑/↓ per metric, mean ± std over seeds, cost columns."""

from __future__ import annotations

from tunebench.report.cells import Cell
from tunebench.report.table import ReportTable
from tunebench.report.text import caption_lines, cost_text, format_seconds, metric_text
from tunebench.report.trust import cell_marks


def render_markdown(table: ReportTable) -> str:
    headers = list(table.key_headers)
    for column in table.tasks:
        headers.append(f"{escape(column.header)} {'↓' if column.lower_is_better else '↑'}")
        if table.timed:
            headers.append("time")
    headers += [f"{c.header} ↓" for c in table.costs] + ["n"]
    aligns = ["---"] * len(table.key_headers) + ["--:"] * (len(headers) - len(table.key_headers))
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(aligns) + "|"]
    for row in table.rows:
        cells = [escape(k) for k in row.keys]
        for column in table.tasks:
            cell = row.cells[column.key]
            cells.append(marked(metric_text(cell, column.percent), cell))
            if table.timed:
                cells.append(format_seconds(cell.seconds))
        cells += [marked(cost_text(c.key, row.costs[c.key]), row.costs[c.key]) for c in table.costs]
        cells.append(str(row.n))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + "  \n".join(caption_lines(table)) + "\n"


def marked(text: str, cell: Cell) -> str:
    if cell.tied_with_best:
        text += " †"
    text += cell_marks(cell)
    if cell.rank == 1:
        return f"**{text}**"
    if cell.rank == 2:
        return f"<ins>{text}</ins>"  # GitHub's Markdown keeps <ins> (underline), not <u>
    return text


def escape(text: str) -> str:
    """User strings (labels, task names) cannot break the table or inject HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
