"""The report table as GitHub Markdown: best bold, second underlined, † for rows that are not
significantly worse than the best, ↑/↓ per metric, mean ± std over seeds, cost columns."""

from __future__ import annotations

from tunebench.report.table import Cell, ReportTable, cost_text, metric_text
from tunebench.tabular.table import format_seconds


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
    if cell.rank == 1:
        return f"**{text}**"
    if cell.rank == 2:
        return f"<ins>{text}</ins>"  # GitHub's Markdown keeps <ins> (underline), not <u>
    return text


def caption_lines(table: ReportTable) -> list[str]:
    """What the marks and numbers mean, and what is missing: shared by every format."""
    lines = [
        "Test metrics (accuracy-like ones in %), mean ± std over seeds; per column the best is "
        "bold and the second best underlined; n = seeds."
    ]
    if table.tested:
        lines.append(
            "† not significantly worse than the column's best (paired bootstrap over the test "
            "examples, seeds averaged, 2,000 resamples, p ≥ 0.05)."
        )
    else:
        lines.append(
            "No significance tests: they need two or more rows per column whose runs stored "
            "per-example test values (runs recorded by older versions did not)."
        )
    if table.failed:
        lines.append(f"{table.failed} run(s) failed: see runs.json.")
    if table.running:
        lines.append(f"{table.running} run(s) still running or interrupted.")
    return lines


def escape(text: str) -> str:
    """User strings (labels, task names) cannot break the table or inject HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
