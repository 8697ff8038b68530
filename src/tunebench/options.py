"""What the subcommands share: the console they print to, their output formats and the
arguments and options several of them take (one definition, one help text)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Piped output (make demo | tee, CI logs) gets a wide table instead of rich's 80-column default.
console = Console() if sys.stdout.isatty() else Console(width=160)

StudyFile = Annotated[Path, typer.Argument(help="A study YAML file (see examples/).")]
StudyDir = Annotated[Path, typer.Argument(help="A study folder holding results.sqlite.")]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="Default: runs/<study name>.")]
Threads = Annotated[int | None, typer.Option(min=1, help="torch CPU threads (default: all cores).")]
METRIC_HELP = (
    "Test metric shown (default, per task, its family's: accuracy; entity_f1 for token "
    "classification; perplexity for generation; reward_accuracy for preference; tabular: "
    "accuracy or MSE, as in seed 000)."
)
Metric = Annotated[str | None, typer.Option(help=METRIC_HELP)]


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


FormatOption = Annotated[Format, typer.Option("--format", "-f")]
