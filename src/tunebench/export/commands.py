"""The `export` and `predict` subcommands (registered on the app in cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from tunebench.quiet import quiet_libraries

console = Console(stderr=True)


def export(
    study_dir: Annotated[Path, typer.Argument(help="A study's output folder (runs/<name>).")],
    run_id: Annotated[str, typer.Argument(help="The run's id (tunebench results --format json).")],
    out_dir: Annotated[Path, typer.Argument(help="A new (or empty) folder to write.")],
    merge: Annotated[
        bool, typer.Option(help="lora / ia3: write merged weights, not an adapter.")
    ] = False,
) -> None:
    """Write a run's trained model in its method's standard format (a PEFT adapter folder, a
    save_pretrained model folder, or our bottleneck-adapter folder) with its tokenizer, head
    and tunebench.json; needs the study's `save_checkpoints: true`. See docs/export.md."""
    from tunebench.export.folder import export_run

    quiet_libraries()
    written = export_run(study_dir, run_id, out_dir, merge)
    console.print(f"exported run {run_id} ({written} format) to {out_dir}")


def predict(
    export_dir: Annotated[Path, typer.Argument(help="A folder written by `tunebench export`.")],
    data_file: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet with the task's text.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The CSV to write.")],
) -> None:
    """Predict with an exported run: a classifier's label and class probabilities, or a
    generation run's greedy text, one output row per input row."""
    from tunebench.export.predict import predict_file

    quiet_libraries()
    with Progress(console=console, transient=True) as progress:
        count = predict_file(export_dir, data_file, output, progress)
    console.print(f"{count} predictions written to {output}")
