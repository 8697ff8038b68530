"""Run a study: every run of the grid, resumably, recording each result as it finishes.

Completed runs are skipped on a re-run; failed and interrupted ones (left 'running' by a killed
process) are tried again. One failing run never stops the study: its reason is recorded. Before
any training, the study passes `checks.checked_runs`, so a bad file or an unknown model stops it
with one message.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tunebench import interrupt
from tunebench.errors import UserError
from tunebench.owners import this_process
from tunebench.pending import import_pending
from tunebench.records import utc_now
from tunebench.store import ResultsStore
from tunebench.study.checks import checked_runs
from tunebench.study.distributed import FollowerStore, process_state
from tunebench.study.executors import LocalExecutor, ParallelExecutor, run_parallel, run_slurm
from tunebench.study.run_path import record_failure, run_in_worker, run_one
from tunebench.study.spec import RunSpec
from tunebench.study.tpe import run_tpe
from tunebench.tracking import Tracker, open_trackers

WAIT_SECONDS = 5.0
"""How often a run held by another live process is looked at again."""


@dataclass
class StudySummary:
    total: int
    skipped: int
    completed: int
    failed: int
    elsewhere: int = 0
    """Runs another process held and completed while this one waited for them."""


def run_study(
    study,
    output_dir: Path,
    console: Console,
    source: Path | None = None,
    runs: list[RunSpec] | None = None,
) -> StudySummary:
    """Run (or resume) `study` into `output_dir`; `source` is its file, named in messages.
    `runs`: what `checked_runs` returned, when the caller checked the study already."""
    if runs is None:
        runs = checked_runs(study, output_dir, source)
    state = process_state()
    if state.num_processes > 1 and not isinstance(study.executor, LocalExecutor):
        raise UserError("executor: a study under `accelerate launch` runs with `local` only")
    if state.is_main_process:
        _prepare_folder(study, output_dir, console)
    else:
        console = Console(quiet=True)
    state.wait_for_everyone()
    summary = StudySummary(0, 0, 0, 0)
    with ResultsStore(output_dir / "results.sqlite") as main_store, _progress(console) as progress:
        store = main_store if state.is_main_process else FollowerStore(main_store)
        trackers = open_trackers(study.report_to, study.name, output_dir)
        session = _Session(study, output_dir, store, console, progress, summary, state, trackers)
        if study.sweep is not None and study.sweep.strategy == "tpe":
            run_tpe(study, store, session.run_batch, _batch_width(study))
        else:
            session.run_batch(runs)
    return summary


def _prepare_folder(study, output_dir: Path, console: Console) -> None:
    """The study's folder, its study.yaml and its store (schema made once), and the results an
    earlier invocation could not record (pending.py) imported into it."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with ResultsStore(output_dir / "results.sqlite") as store:
            imported = import_pending(store, output_dir, this_process())
        (output_dir / "study.yaml").write_text(
            yaml.safe_dump(study.model_dump(mode="json"), sort_keys=False)
        )
    except (OSError, sqlite3.OperationalError) as error:
        raise UserError(
            f"{output_dir}: cannot write the study's folder or store ({error})"
        ) from None
    if imported:
        console.print(f"recorded {imported} result(s) kept in {output_dir / 'pending'}")


@dataclass
class _Session:
    """One invocation of a study: its store, progress bars and trackers, and the tally."""

    study: object
    output_dir: Path
    store: ResultsStore
    console: Console
    progress: Progress
    summary: StudySummary
    state: object
    trackers: list[Tracker]
    held: list[tuple[RunSpec, str]] = field(default_factory=list)
    """Runs another live process held in the current pass, with who holds them."""

    def __post_init__(self) -> None:
        self.overall = self.progress.add_task("runs", total=0, loss="")
        if not self.state.is_main_process:
            self.trackers = []

    def run_batch(self, specs: list[RunSpec]) -> None:
        """Run those of `specs` not completed yet, through the study's executor. Runs another
        live process holds are waited for, and taken over if that process stops."""
        self.state.wait_for_everyone()  # under accelerate launch: every process reads the same
        done = self.store.completed_ids()
        self.state.wait_for_everyone()  # ... before the main process writes again
        todo = [spec for spec in specs if spec.run_id not in done]
        self.summary.total += len(specs)
        self.summary.skipped += len(specs) - len(todo)
        self.progress.update(self.overall, total=self.summary.total)
        self.progress.advance(self.overall, len(specs) - len(todo))
        while todo:
            self.held = []
            if isinstance(self.study.executor, LocalExecutor):
                self._run_here(todo)
            else:
                self._run_elsewhere(todo)
            todo = self._wait_for(self.held)
        self.state.wait_for_everyone()

    def _wait_for(self, held: list[tuple[RunSpec, str]]) -> list[RunSpec]:
        """After a pause, the held runs that are still not completed (to be claimed again)."""
        if not held:
            return []
        holders = ", ".join(sorted({reason for _, reason in held}))
        self.console.print(f"waiting for {len(held)} run(s) held by {holders}")
        time.sleep(WAIT_SECONDS)
        done = self.store.completed_ids()
        for spec, _ in held:
            if spec.run_id in done:
                self.summary.elsewhere += 1
                self.progress.advance(self.overall)
        return [spec for spec, _ in held if spec.run_id not in done]

    def finished(self, spec: RunSpec, status: str, reason: str | None) -> None:
        if status == "held":
            self.held.append((spec, reason))
            return
        self.progress.advance(self.overall)
        store = self.store
        if status == "skipped":  # completed by another process between reading and claiming
            self.summary.elsewhere += 1
            return
        if status == "completed":
            self.summary.completed += 1
        else:
            self.summary.failed += 1
            if store.status(spec.run_id) != "failed":  # its process died before recording it
                record_failure(store, spec, self.study.name, reason)
            self.console.print(f"[red]run {spec.run_id} ({spec.label()}) failed:[/red] {reason}")
        record = store.record(spec.run_id)
        if status == "completed" and not self.console.is_terminal:
            self.console.print(_completed_line(spec, record, self.summary))
        _track(self.trackers, record, self.console)

    def _run_here(self, todo: list[RunSpec]) -> None:
        """The local executor: one run after another, each with its own progress bar."""
        study = self.study
        for spec in todo:
            interrupt.check()
            steps = self.progress.add_task(spec.label(), total=None, loss="")

            def on_step(step: int, total: int, loss: float | None, steps=steps) -> None:
                interrupt.check()  # a Ctrl-C that Python lost in a finaliser stops here
                shown = f"loss {loss:.4f}" if loss is not None else ""
                self.progress.update(steps, completed=step, total=total, loss=shown)

            status, reason = run_one(
                spec, study.name, self.output_dir, study.save_checkpoints, self.store, on_step
            )
            self.progress.remove_task(steps)
            self.finished(spec, status, reason)

    def _run_elsewhere(self, todo: list[RunSpec]) -> None:
        """Worker processes or a Slurm array, each job one run recorded in the store."""
        study_data = self.study.model_dump(mode="json")
        jobs = [(spec.model_dump(mode="json"), study_data, str(self.output_dir)) for spec in todo]

        def on_done(index: int, status: str, reason: str | None) -> None:
            self.finished(todo[index], status, reason)

        executor = self.study.executor
        if isinstance(executor, ParallelExecutor):
            since = utc_now()

            def started(index: int) -> bool:
                """Started by this pool (a run interrupted earlier is `running` too)."""
                record = self.store.record(todo[index].run_id)
                return record is not None and record.started_at >= since

            run_parallel(executor, jobs, run_in_worker, on_done, started)
        else:
            run_slurm(executor, jobs, run_in_worker, on_done, self.output_dir / "slurm")


def _track(trackers: list[Tracker], record, console: Console) -> None:
    """Send a finished run to the study's trackers; one that fails only warns."""
    for tracker in trackers:
        try:
            tracker.log(record)
        except Exception as error:  # noqa: BLE001 - the store has the result; go on
            name = type(tracker).__name__
            console.print(f"[yellow]{name} could not log run {record.run_id}: {error}[/yellow]")


def _batch_width(study) -> int:
    """How many TPE points to run at once: as many as the executor runs in parallel."""
    executor = study.executor
    if isinstance(executor, ParallelExecutor):
        return executor.workers
    return 1 if isinstance(executor, LocalExecutor) else executor.array_parallelism


def _completed_line(spec: RunSpec, record, summary: StudySummary) -> str:
    """A run's line in a log: without a terminal the progress bars do not show, and a study
    left running in the background should still say how far it is."""
    done = summary.skipped + summary.completed + summary.failed
    wall = record.costs.get("wall_seconds")
    took = f" in {wall / 60:.1f} min" if wall is not None else ""
    return f"[{done}/{summary.total}] completed{took}: {spec.label()}"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[loss]}"),
        console=console,
    )
