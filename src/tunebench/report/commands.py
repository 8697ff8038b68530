"""The `results`, `report` and `recommend` subcommands (registered on the app in cli.py)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from tunebench.errors import UserError
from tunebench.options import Format, FormatOption, Metric, StudyDir, console
from tunebench.store import stored_runs


def results(
    study_dir: StudyDir,
    format: FormatOption = Format.table,
    metric: Metric = None,
) -> None:
    """Show a study's results: a comparison table (terminal or Markdown), or JSON / CSV per run."""
    from tunebench.report import exports

    records = stored_runs(study_dir)
    if format is Format.json:
        exports.write_json(records, sys.stdout)
    elif format is Format.csv:
        exports.write_csv(records, sys.stdout)
    else:
        from tunebench.report.markdown import render_markdown
        from tunebench.report.table import build_tables
        from tunebench.report.terminal import render_terminal

        for table in build_tables(records, metric):
            if format is Format.markdown:
                sys.stdout.write(render_markdown(table) + "\n")
            else:
                console.print(render_terminal(table))


def import_runs(
    runs_file: Annotated[
        Path, typer.Argument(help="A JSON list of runs, as `results -f json` writes.")
    ],
    study_dir: Annotated[Path, typer.Argument(help="The study folder whose store receives them.")],
) -> None:
    """Add exported runs (`tunebench results DIR -f json`, a report's runs.json, docs/data/*.json)
    to a study's results store, so that the study resumes on another machine without running
    them again. Completed runs only; a run the store already holds completed is left as it is."""
    from tunebench.records import RunRecord
    from tunebench.store import ResultsStore

    try:
        items = json.loads(runs_file.read_text())
        records = [RunRecord(**item) for item in items]
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"{runs_file}: not a JSON list of exported runs ({error})") from None
    completed = [r for r in records if r.status == "completed"]
    study_dir.mkdir(parents=True, exist_ok=True)
    with ResultsStore(study_dir / "results.sqlite") as store:
        added = sum(store.add(record) for record in completed)
    console.print(
        f"{runs_file}: {added} runs added to {study_dir / 'results.sqlite'}, "
        f"{len(completed) - added} already there, {len(records) - len(completed)} not completed "
        "(left out)"
    )


def report(
    study_dir: StudyDir,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Default: <study_dir>/report.")
    ] = None,
    metric: Metric = None,
) -> None:
    """Write the study's report: Markdown and LaTeX tables, an HTML page with plots, and every
    run as CSV, Parquet and JSON."""
    from tunebench.report.write import write_report

    for path in write_report(study_dir, output, metric):
        console.print(f"wrote {path}")


def recommend(
    study_dir: StudyDir,
    max_memory: Annotated[
        str | None, typer.Option(help="Largest peak RAM a run may need: 1700MB, 2GB.")
    ] = None,
    max_train_time: Annotated[
        str | None, typer.Option(help="Longest training time: 90s, 30min, 1.5h.")
    ] = None,
    max_trainable_params: Annotated[
        str | None, typer.Option(help="Most trainable parameters: 500K, 1M.")
    ] = None,
    max_checkpoint_size: Annotated[
        str | None, typer.Option(help="Largest checkpoint: 5MB, 1GB.")
    ] = None,
    backbone: Annotated[
        list[str] | None,
        typer.Option(help="Only this backbone's runs (repeat for several): a verdict per model."),
    ] = None,
    by_backbone: Annotated[
        bool,
        typer.Option(help="A verdict per backbone and task; Across tasks then spans both."),
    ] = False,
    metric: Metric = None,
    format: FormatOption = Format.table,
) -> None:
    """Per task, the best method within a budget, the methods tied with it, the Pareto front of
    quality against each cost and one sentence of advice; with several tasks, how each method
    does across them. See docs/results-format.md."""
    from tunebench.report import verdict_table
    from tunebench.report.budget import parse_budget
    from tunebench.report.table import build_tables
    from tunebench.report.verdict import verdicts

    budget = parse_budget(max_memory, max_train_time, max_trainable_params, max_checkpoint_size)
    if format is Format.csv:
        raise UserError("--format: recommend prints table, markdown or json")
    records = stored_runs(study_dir)
    if backbone:
        records = _of_backbones(records, backbone, study_dir)
    groups = {None: records}
    if by_backbone:
        groups = {name: [r for r in records if r.backbone == name] for name in _backbones(records)}
    found = []
    for name, runs in groups.items():
        for table in build_tables(runs, metric):
            found += [replace(v, backbone=name) for v in verdicts(table, budget)]
    if format is Format.json:
        json.dump(verdict_table.to_json(found, budget), sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif format is Format.markdown:
        sys.stdout.write(verdict_table.render_markdown(found, budget))
    else:
        console.print(verdict_table.render_terminal(found, budget))


def _backbones(records: list) -> list[str]:
    return sorted({r.backbone for r in records})


def _of_backbones(records: list, names: list[str], study_dir: Path) -> list:
    """The runs of the named backbones (as the study names them); UserError for a name the
    study does not hold."""
    held = _backbones(records)
    unknown = [name for name in names if name not in held]
    if unknown:
        raise UserError(
            f"--backbone: {study_dir} has no runs of {unknown[0]!r}; its backbones are: "
            + ", ".join(held)
        )
    return [r for r in records if r.backbone in names]
