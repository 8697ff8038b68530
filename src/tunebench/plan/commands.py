"""`tunebench plan STUDY.yaml`: per run, predicted train and eval time, peak memory, trainable
parameters and checkpoint size, and the study's total, before anything trains."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import psutil
import typer
from rich.table import Table

from tunebench.errors import UserError
from tunebench.options import Format, FormatOption, Output, StudyFile, Threads, console
from tunebench.plan.predict import Prediction, predict
from tunebench.report.text import format_seconds, human_count


def plan(
    study_file: StudyFile,
    output: Output = None,
    threads: Threads = None,
    probe: Annotated[
        bool, typer.Option(help="Run probes for runs the cache and the store cannot predict.")
    ] = True,
    reprobe: Annotated[
        bool,
        typer.Option(
            "--reprobe",
            help="Run those probes again even where cached (e.g. measured on a busy machine).",
        ),
    ] = False,
    format: FormatOption = Format.table,
) -> None:
    """Predict each run's costs and the study's total without training it (a few probe steps
    per run, cached per machine). See docs/plan.md."""
    from tunebench.quiet import quiet_libraries
    from tunebench.study.checks import checked_runs
    from tunebench.study.load import load_study

    if format is Format.csv:
        raise UserError("--format: plan prints table, markdown or json")
    study = load_study(study_file)
    folder = output or Path("runs") / study.name
    runs = checked_runs(study, folder, study_file)
    quiet_libraries()
    workers = getattr(study.executor, "workers", 1)
    per_run = threads or _threads(study.executor)
    predictions = predict(runs, folder, per_run, probe, again=reprobe)
    if format is Format.json:
        json.dump([_record(p, workers) for p in predictions], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    console.print(_table(predictions, workers))
    console.print(summary(predictions, workers, study.executor.name))


def run_plan(study: Any, folder: Path, runs: list, threads: int | None) -> str:
    """What `tunebench run` prints before it starts: the plan's total from the store and the
    probe cache only (it runs no probe; `tunebench plan` does)."""
    workers = getattr(study.executor, "workers", 1)
    predictions = predict(runs, folder, threads or _threads(study.executor), run_probes=False)
    return "plan: " + summary(predictions, workers, study.executor.name)


def _threads(executor: Any) -> int:
    if hasattr(executor, "threads"):
        return executor.threads()
    return os.cpu_count() or 1


def available_mb() -> float:
    return psutil.virtual_memory().available / 2**20


def fits(prediction: Prediction, workers: int) -> bool | None:
    """Whether `workers` runs of this size fit the machine's free memory now."""
    peak = prediction.costs.get("peak_host_mb")
    return None if peak is None else peak * workers <= available_mb()


def summary(predictions: list[Prediction], workers: int, executor: str) -> str:
    """The study's predicted total and what the plan itself cost."""
    pending = [p for p in predictions if p.pending]
    seconds = sum(p.costs.get("wall_seconds") or 0.0 for p in pending) / max(workers, 1)
    unknown = [p for p in pending if p.costs.get("wall_seconds") is None]
    probed = {p.probe_key: p.probe_seconds for p in predictions if p.probe_key}
    too_big = [p for p in pending if fits(p, workers) is False]
    known = len(pending) - len(unknown)
    total = format_seconds([seconds]) if known else "unknown"
    counted = f"the {known} of {len(pending)}" if unknown and known else f"{len(pending)}"
    lines = [
        f"total: {total} for {counted} runs still to run "
        f"({executor} executor, {workers} at a time); {len(predictions) - len(pending)} done."
    ]
    if unknown:
        lines.append(
            f"{len(unknown)} run(s) without a prediction (failing, or not probed yet: "
            "`tunebench plan` probes them)."
        )
    if probed:
        cost = sum(probed.values())
        lines.append(
            f"probes: {len(probed)} run now for {len(predictions)} runs, "
            f"{format_seconds([cost])} (cached on this machine: the next plan reuses them)."
        )
    if busy := _busy_probes(pending):
        lines.append(busy)
    if elsewhere := sorted({p.measured_on for p in pending if p.measured_on}):
        count = sum(p.measured_on is not None for p in pending)
        lines.append(
            f"{count} run(s) predicted from their other seeds, recorded on another machine "
            f"({', '.join(elsewhere)}): this one may be faster or slower (`tunebench plan` "
            "prints each run's source)."
        )
    if too_big:
        lines.append(
            f"{len(too_big)} run(s) may not fit: predicted peak × {workers} > "
            f"{available_mb():,.0f} MB free now."
        )
    return "\n".join(lines)


BUSY_SHARE = 0.1
"""A probe during which other processes kept more than this share of the machine's cores busy
was measured on a busy machine: its times hold that contention."""


def _busy_probes(pending: list[Prediction]) -> str | None:
    """One line on the predictions that come from probes measured on a busy machine."""
    cores = os.cpu_count() or 1
    loads = [p.other_cores for p in pending if (p.other_cores or 0.0) > BUSY_SHARE * cores]
    if not loads:
        return None
    return (
        f"{len(loads)} run(s) predicted from probes that ran while other work kept up to "
        f"{max(loads):.1f} of this machine's {cores} cores busy: those predictions hold that "
        "contention (on an idle machine the runs are faster); `--reprobe` measures them again."
    )


def _table(predictions: list[Prediction], workers: int) -> Table:
    table = Table()
    headers = ["run", "from", "train", "eval", "peak RAM MB", "trainable", "checkpoint MB"]
    for header in [*headers, "fits"]:
        table.add_column(header, justify="left" if header in ("run", "from") else "right")
    for p in predictions:
        costs = p.costs
        table.add_row(
            p.spec.label(),
            p.source,
            _seconds(costs["train_seconds"]),
            _seconds(costs["eval_seconds"]),
            "—" if costs["peak_host_mb"] is None else f"{costs['peak_host_mb']:,.0f}",
            "—" if costs["trainable_params"] is None else human_count(costs["trainable_params"]),
            "—" if costs["checkpoint_mb"] is None else f"{costs['checkpoint_mb']:.2f}",
            {True: "yes", False: "NO", None: "—"}[fits(p, workers)],
        )
    return table


def _seconds(value: float | None) -> str:
    return "—" if value is None else format_seconds([value])


def _record(prediction: Prediction, workers: int) -> dict[str, Any]:
    return {
        "run_id": prediction.spec.run_id,
        "label": prediction.spec.label(),
        "source": prediction.source,
        "measured_on": prediction.measured_on,
        **prediction.costs,
        "probe_other_cores": prediction.other_cores,
        "fits": fits(prediction, workers),
    }
