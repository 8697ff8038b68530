"""Run a study: every run of the grid, resumably, recording each result as it finishes.

Completed runs are skipped on a re-run; failed and interrupted ones (left 'running' by a killed
process) are tried again. One failing run never stops the study: its reason is recorded.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
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

from tunebench.backbones import load_config
from tunebench.config import RunSpec, StudyConfig, expand
from tunebench.distributed import FollowerStore, process_state
from tunebench.errors import UserError
from tunebench.executors import LocalExecutor, ParallelExecutor, run_parallel, run_slurm
from tunebench.generative.runner import execute_generative
from tunebench.provenance import collect_provenance
from tunebench.runner import execute
from tunebench.store import ResultsStore, utc_now
from tunebench.sweeps import example_points
from tunebench.tabular import TabularTaskConfig, load_tabular_task
from tunebench.tabular.grid import TabularRunSpec, TabularStudyConfig, expand_tabular
from tunebench.tabular.pipelines import execute_tabular
from tunebench.tasks import AnyTaskConfig, load_task
from tunebench.tracking import Tracker, open_trackers
from tunebench.training.loop import RunFailed
from tunebench.training.metrics import separate_examples
from tunebench.tuning import run_tpe


@dataclass
class StudySummary:
    total: int
    skipped: int
    completed: int
    failed: int


def run_study(
    study: StudyConfig | TabularStudyConfig, output_dir: Path, console: Console
) -> StudySummary:
    tpe = getattr(study, "sweep", None) is not None and study.sweep.strategy == "tpe"
    runs = expand(study, example_points(study.sweep)) if tpe else _runs(study)
    # Bad data or an unknown backbone stops the study before any training, with one message.
    for task in {spec.task.model_dump_json(): spec.task for spec in runs}.values():
        _load_data(task)
    for backbone in dict.fromkeys(spec.backbone for spec in runs if spec.backbone):
        load_config(backbone, study.trust_remote_code)
    state = process_state()
    if state.num_processes > 1 and not isinstance(study.executor, LocalExecutor):
        raise UserError("executor: a study under `accelerate launch` runs with `local` only")
    if state.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "study.yaml").write_text(
            yaml.safe_dump(study.model_dump(mode="json"), sort_keys=False)
        )
        ResultsStore(output_dir / "results.sqlite").close()  # its schema, made once
    else:
        console = Console(quiet=True)
    state.wait_for_everyone()
    summary = StudySummary(0, 0, 0, 0)
    with ResultsStore(output_dir / "results.sqlite") as main_store, _progress(console) as progress:
        store = main_store if state.is_main_process else FollowerStore(main_store)
        overall = progress.add_task("runs", total=0, loss="")
        trackers = open_trackers(study.report_to, study.name, output_dir)
        trackers = trackers if state.is_main_process else []

        def finished(spec, status: str, reason: str | None) -> None:
            progress.advance(overall)
            if status == "completed":
                summary.completed += 1
            else:
                summary.failed += 1
                if store.status(spec.run_id) is None:  # its worker failed before starting it
                    _start(store, spec, study, collect_provenance())
                if store.status(spec.run_id) != "failed":  # ... or died before recording it
                    store.finish(spec.run_id, "failed", {}, {}, [], reason=reason)
                label = _run_label(spec)
                console.print(f"[red]run {spec.run_id} ({label}) failed:[/red] {reason}")
            record = store.record(spec.run_id)
            if status == "completed" and not console.is_terminal:
                console.print(_completed_line(spec, record, summary))
            _track(trackers, record, console)

        def run_batch(specs: list) -> None:
            """Run those of `specs` not completed yet, through the study's executor."""
            state.wait_for_everyone()  # under accelerate launch: every process reads the same
            done = store.completed_ids()
            state.wait_for_everyone()  # ... before the main process writes again
            todo = [spec for spec in specs if spec.run_id not in done]
            summary.total += len(specs)
            summary.skipped += len(specs) - len(todo)
            progress.update(overall, total=summary.total)
            progress.advance(overall, len(specs) - len(todo))
            _execute(todo, study, output_dir, store, progress, finished)
            state.wait_for_everyone()

        if tpe:
            run_tpe(study, store, run_batch, _batch_width(study))
        else:
            run_batch(runs)
    return summary


def _track(trackers: list[Tracker], record, console: Console) -> None:
    """Send a finished run to the study's trackers; one that fails only warns."""
    for tracker in trackers:
        try:
            tracker.log(record)
        except Exception as error:  # noqa: BLE001 - the store has the result; go on
            name = type(tracker).__name__
            console.print(f"[yellow]{name} could not log run {record.run_id}: {error}[/yellow]")


def _execute(todo, study, output_dir: Path, store: ResultsStore, progress, finished) -> None:
    if isinstance(study.executor, LocalExecutor):
        _run_here(todo, study, output_dir, store, progress, finished)
    elif todo:
        jobs = [_job(spec, study, output_dir) for spec in todo]

        def on_done(index: int, status: str, reason: str | None) -> None:
            finished(todo[index], status, reason)

        if isinstance(study.executor, ParallelExecutor):
            since = utc_now()

            def started(index: int) -> bool:
                """Started by this pool (a run interrupted earlier is `running` too)."""
                record = store.record(todo[index].run_id)
                return record is not None and record.started_at >= since

            run_parallel(study.executor, jobs, run_in_worker, on_done, started)
        else:
            run_slurm(study.executor, jobs, run_in_worker, on_done, output_dir / "slurm")


def _batch_width(study: StudyConfig) -> int:
    """How many TPE points to run at once: as many as the executor runs in parallel."""
    executor = study.executor
    if isinstance(executor, ParallelExecutor):
        return executor.workers
    return 1 if isinstance(executor, LocalExecutor) else executor.array_parallelism


def _run_here(todo, study, output_dir: Path, store: ResultsStore, progress, finished) -> None:
    """The local executor: one run after another, each with its own progress bar."""
    for spec in todo:
        steps = progress.add_task(_run_label(spec), total=None, loss="")

        def on_step(step: int, total: int, loss: float | None, steps=steps) -> None:
            shown = f"loss {loss:.4f}" if loss is not None else ""
            progress.update(steps, completed=step, total=total, loss=shown)

        status, reason = _run_one(spec, study, output_dir, store, on_step)
        progress.remove_task(steps)
        finished(spec, status, reason)


def _job(spec, study, output_dir: Path) -> tuple:
    """What a worker process needs to run `spec`: plain data, so it pickles anywhere."""
    tabular = isinstance(spec, TabularRunSpec)
    return spec.model_dump(mode="json"), tabular, study.model_dump(mode="json"), str(output_dir)


def run_in_worker(
    spec_data: dict, tabular: bool, study_data: dict, output_dir: str, threads: int | None = None
) -> tuple[str, str | None]:
    """One run in a worker process (parallel or Slurm), recorded in the study's store."""
    if threads:
        torch.set_num_threads(threads)
    study = (TabularStudyConfig if tabular else StudyConfig).model_validate(study_data)
    spec = (TabularRunSpec if tabular else RunSpec).model_validate(spec_data)
    folder = Path(output_dir)
    with ResultsStore(folder / "results.sqlite") as store:
        return _run_one(spec, study, folder, store, None)


def _runs(study: StudyConfig | TabularStudyConfig) -> list[RunSpec | TabularRunSpec]:
    return expand_tabular(study) if isinstance(study, TabularStudyConfig) else expand(study)


def _load_data(task: AnyTaskConfig | TabularTaskConfig):
    return load_tabular_task(task) if isinstance(task, TabularTaskConfig) else load_task(task)


def _run_one(spec, study, output_dir: Path, store: ResultsStore, on_step):
    data = _load_data(spec.task)
    _start(store, spec, study, {**collect_provenance(), "data_sha256": data.data_sha256})
    tabular = isinstance(spec, TabularRunSpec)
    try:
        if tabular:
            outcome = execute_tabular(spec, output_dir / "cache", on_step)
        else:
            checkpoints = output_dir / "checkpoints" / spec.run_id
            run = execute if spec.task.family == "classification" else execute_generative
            outcome = run(spec, checkpoints if study.save_checkpoints else None, on_step)
    except RunFailed as failure:
        return _fail(store, spec, str(failure))
    except torch.OutOfMemoryError as error:
        return _fail(store, spec, f"out_of_memory: {error}")
    except Exception as error:  # noqa: BLE001 - a broken run must not stop the study
        log = output_dir / "logs" / f"{spec.run_id}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text(traceback.format_exc())
        return _fail(store, spec, f"error: {type(error).__name__}: {error} (traceback: {log})")
    metrics = separate_examples(outcome.metrics)
    store.finish(spec.run_id, "completed", metrics, outcome.costs, outcome.history)
    return "completed", None


def _start(store: ResultsStore, spec, study, provenance: dict) -> None:
    store.start(
        spec.run_id,
        study.name,
        spec.backbone or "none",
        spec.task.name,
        spec.method.name if spec.method else "none",
        spec.seed,
        spec.model_dump(mode="json"),
        provenance,
    )


def _fail(store: ResultsStore, spec: RunSpec, reason: str):
    store.finish(spec.run_id, "failed", {}, {}, [], reason=reason)
    return "failed", reason


def _completed_line(spec, record, summary: StudySummary) -> str:
    """A run's line in a log: without a terminal the progress bars do not show, and a study
    left running in the background should still say how far it is."""
    done = summary.skipped + summary.completed + summary.failed
    wall = record.costs.get("wall_seconds")
    took = f" in {wall / 60:.1f} min" if wall is not None else ""
    return f"[{done}/{summary.total}] completed{took}: {_run_label(spec)}"


def _run_label(spec: RunSpec | TabularRunSpec) -> str:
    if isinstance(spec, TabularRunSpec):
        parts = [spec.backbone or "no LM", spec.task.name, spec.downstream.name, spec.label]
        return " · ".join(parts) + f" · seed {spec.seed}"
    settings = spec.method.model_dump(exclude={"name"})
    shown = ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None)
    method = f"{spec.method.name}({shown})" if shown else spec.method.name
    return f"{spec.backbone} · {spec.task.name} · {method} · seed {spec.seed}"


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
