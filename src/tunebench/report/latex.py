"""The report table as a LaTeX booktabs table: \\textbf best, \\underline second, $^\\dagger$ for
rows not significantly worse than the best. Needs `\\usepackage{booktabs}`."""

from __future__ import annotations

from tunebench.report.cells import Cell
from tunebench.report.table import ReportTable
from tunebench.report.text import caption_lines, cost_text, format_seconds, metric_text
from tunebench.report.trust import cell_marks

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def escape(text: str) -> str:
    """Every LaTeX special character of a user string written as itself."""
    return "".join(_SPECIAL.get(ch, ch) for ch in text)


def render_latex(table: ReportTable) -> str:
    headers = [escape(h) for h in table.key_headers]
    for column in table.tasks:
        arrow = r"$\downarrow$" if column.lower_is_better else r"$\uparrow$"
        headers.append(f"{escape(column.header)} {arrow}")
        if table.timed:
            headers.append("time")
    headers += [f"{escape(c.header)} $\\downarrow$" for c in table.costs] + ["$n$"]
    spec = "l" * len(table.key_headers) + "r" * (len(headers) - len(table.key_headers))
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(headers) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        cells = [escape(k) for k in row.keys]
        for column in table.tasks:
            cell = row.cells[column.key]
            cells.append(marked(metric_text(cell, column.percent), cell))
            if table.timed:
                cells.append(escape(format_seconds(cell.seconds)))
        cells += [marked(cost_text(c.key, row.costs[c.key]), row.costs[c.key]) for c in table.costs]
        cells.append(str(row.n))
        lines.append(" & ".join(cells) + r" \\")
    caption = " ".join(escape(line) for line in caption_lines(table))
    caption = caption.replace("†", r"$^\dagger$").replace("±", r"$\pm$").replace("≥", r"$\geq$")
    caption = latex_marks(caption)
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{caption}}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def latex_marks(text: str) -> str:
    return text.replace("∅", r"$\emptyset$").replace("↗", r"$\nearrow$")


def marked(text: str, cell: Cell) -> str:
    text = escape(text).replace("±", r"$\pm$").replace("—", "--")
    if cell.tied_with_best:
        text += r"$^\dagger$"
    text += latex_marks(cell_marks(cell))
    if cell.rank == 1:
        return rf"\textbf{{{text}}}"
    if cell.rank == 2:
        return rf"\underline{{{text}}}"
    return text
