"""`tunebench report`: a study's comparison tables as Markdown and LaTeX, an HTML page with
plots, and every run as CSV, Parquet and JSON."""

from __future__ import annotations

from pathlib import Path

from tunebench.errors import UserError
from tunebench.report.across import across_markdown
from tunebench.report.budget import NO_BUDGET
from tunebench.report.exports import write_csv, write_json, write_parquet
from tunebench.report.html import render_html
from tunebench.report.latex import render_latex
from tunebench.report.markdown import escape, render_markdown
from tunebench.report.stability import stability_markdown
from tunebench.report.table import build_tables
from tunebench.report.transfer import transfer_markdown
from tunebench.report.verdict import verdicts
from tunebench.report.verdict_table import explained
from tunebench.store import stored_runs


def write_report(
    study_dir: Path, output: Path | None = None, metric: str | None = None
) -> list[Path]:
    """Write report.md, report.tex, report.html and runs.csv / .parquet / .json for the study
    in `study_dir` into `output` (default: `study_dir/report`); return the paths written."""
    records = stored_runs(study_dir)
    if not records:
        raise UserError(f"{study_dir / 'results.sqlite'}: no runs recorded yet")
    folder = output or study_dir / "report"
    folder.mkdir(parents=True, exist_ok=True)
    tables = build_tables(records, metric)
    name = records[0].study
    found = [verdicts(table, NO_BUDGET) for table in tables]
    sentences = [explained(v, NO_BUDGET) for per_table in found for v in per_table]
    verdict = "## Verdict\n\n" + "".join(f"- {escape(s)}\n" for s in sentences)
    verdict += "\n(`tunebench recommend` adds budgets and each task's costs and Pareto fronts.)\n"
    written = {
        "report.md": f"# {name}\n\n{verdict}"
        + _section("Across tasks", across_markdown, found)
        + "\n## Comparison\n\n"
        + "\n".join(render_markdown(t) for t in tables)
        + _section("Stability over seeds", stability_markdown, tables)
        + _section("Transfer to other tasks", transfer_markdown, tables),
        "report.tex": "\n".join(render_latex(t) for t in tables),
        "report.html": render_html(name, tables, records, sentences, found),
    }
    paths = []
    for filename, text in written.items():
        paths.append(_write_text(folder / filename, text))
    with (folder / "runs.json").open("w") as stream:
        write_json(records, stream)
    with (folder / "runs.csv").open("w", newline="") as stream:
        write_csv(records, stream)
    write_parquet(records, folder / "runs.parquet")
    return [*paths, folder / "runs.json", folder / "runs.csv", folder / "runs.parquet"]


def _section(title: str, render, items: list) -> str:
    """A report.md section with what `render` makes of each item (a table, or its verdicts),
    or '' when it makes nothing."""
    body = "\n".join(filter(None, (render(item) for item in items)))
    return f"\n## {title}\n\n{body}" if body else ""


def _write_text(path: Path, text: str) -> Path:
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_text(text, encoding="utf-8")
    staging.rename(path)  # a reader never sees half a file
    return path
