"""The one run path: every run of every family, start to finish, in whatever process runs it.

`run_one` claims the run in the store (with its provenance and data hash; a run another live
process holds is left to it), `execute`s it while a heartbeat says its owner is alive, and
records the outcome: completed with its metrics, costs and history, or failed with its reason
(`unsupported`, `diverged`, `out_of_memory`, or `error` with a traceback log); an outcome the
store cannot take is kept in a pending file (pending.py). `execute` holds
what every family shares: the accelerator, peak-memory metering, loading the data, handing the
family its `RunContext`, writing the checkpoint, and assembling the costs.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from tunebench.errors import UserError
from tunebench.families.context import RunContext
from tunebench.families.registry import family_for
from tunebench.owners import HEARTBEAT_SECONDS, Owner, this_process
from tunebench.pending import record_outcome
from tunebench.provenance import collect_provenance
from tunebench.records import NewRun
from tunebench.store import ResultsStore
from tunebench.study.schema import StudyConfig
from tunebench.study.spec import RunSpec
from tunebench.training import metering
from tunebench.training.clock import elapsed, stopped_since
from tunebench.training.config import TrainingConfig
from tunebench.training.costs import Measured, run_costs, validation_seconds
from tunebench.training.loop import RunFailed, StepCallback
from tunebench.training.metrics import separate_examples
from tunebench.training.optim import make_accelerator
from tunebench.training.subnormals import subnormals_flushed


@dataclass
class RunOutcome:
    metrics: dict
    costs: dict
    history: list[dict]


def execute(
    spec: RunSpec,
    folder: Path | None = None,
    save_checkpoints: bool = False,
    on_step: StepCallback | None = None,
) -> RunOutcome:
    """Train and test one run. `folder` is the study's (its cache and checkpoints live there);
    without one (benchmarks) the cache is a temporary folder, removed afterwards."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="tunebench-run-") as scratch:
            return execute(spec, Path(scratch), save_checkpoints, on_step)
    family = family_for(spec.task)
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    with metering.PeakHostMemory() as host_memory, subnormals_flushed() as flushed:
        accelerator = make_accelerator(spec.training or TrainingConfig())
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        data = family.load(spec.task)
        context = RunContext(spec, family, data, accelerator, on_step, folder / "cache")
        result = family.train_and_test(context)
        checkpoint = result.checkpoint
        if checkpoint is None:
            checkpoint = metering.trainable_state(result.model) if result.model else {}
        if save_checkpoints and checkpoint:
            target = checkpoint_file(folder, spec.run_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            save_file(checkpoint, target)
    measured = Measured(
        eval_seconds=result.test_seconds + validation_seconds(result.outcome),
        wall_seconds=elapsed(wall_started),
        peak_host_mb=host_memory.peak_mb,
        processes=accelerator.num_processes,
        peak_flops=metering.machine_peak_flops(accelerator.device),
    )
    per_token = None
    if result.backbone is not None:
        per_token = (result.token_model or result.model, result.backbone)
    costs = run_costs(result.outcome, result.model, per_token, spec.training, checkpoint, measured)
    history = result.history
    if history is None:
        history = result.outcome.history if result.outcome else []
    machine = {
        "stopped_seconds": stopped_since(wall_started),  # left out of the times above
        "cpu_seconds": time.process_time() - cpu_started,  # with cpu_threads: a busy machine
        "cpu_threads": torch.get_num_threads(),
        "flush_denormal": flushed,  # subnormal floats read and written as zero (CPU)
    }
    return RunOutcome(result.metrics, {**costs, **result.costs, **machine}, history)


def checkpoint_file(folder: Path, run_id: str) -> Path:
    """Where `save_checkpoints` keeps a run's trainable tensors (and `export` reads them)."""
    return folder / "checkpoints" / run_id / "trainable.safetensors"


def run_one(
    spec: RunSpec,
    study_name: str,
    folder: Path,
    save_checkpoints: bool,
    store: ResultsStore,
    on_step: StepCallback | None,
) -> tuple[str, str | None]:
    """Claim the run, train it and record its outcome; returns (status, reason): `completed`,
    `failed` with its reason (one failing run never stops a study), `held` (another live
    process trains it; the reason names that process) or `skipped` (completed meanwhile)."""
    data = family_for(spec.task).load(spec.task)
    provenance = {**collect_provenance(), "data_sha256": data.data_sha256}
    run = new_run(spec, study_name, {**provenance, "split_rows": split_rows(data)})
    owner = this_process()
    claim = _claim(store, run, owner)
    if claim == "completed":
        return "skipped", None
    if claim != "claimed":
        return "held", claim.describe()
    with heartbeat(store.path, run.run_id, owner):
        outcome = _attempt(spec, folder, save_checkpoints, on_step)
    record_outcome(store, folder, run, outcome, owner)
    return outcome["status"], outcome["reason"]


def split_rows(data: Any) -> dict[str, int]:
    """Rows in each split as the run sees them (after `max_train_samples` and the like): what
    a data-size figure puts on its x-axis."""
    splits = {name: getattr(data, name, None) for name in ("train", "validation", "test")}
    return {name: len(split.ids) for name, split in splits.items() if hasattr(split, "ids")}


def _attempt(spec: RunSpec, folder: Path, save_checkpoints: bool, on_step) -> dict[str, Any]:
    """The run's outcome as the store records it: completed with its results, or failed with
    its reason (`unsupported`, `diverged`, `out_of_memory`, or `error` with a traceback log)."""
    try:
        outcome = execute(spec, folder, save_checkpoints, on_step)
    except RunFailed as failure:
        return _failed(str(failure))
    except torch.OutOfMemoryError as error:
        return _failed(f"out_of_memory: {error}")
    except Exception as error:  # noqa: BLE001 - a broken run must not stop the study
        log = folder / "logs" / f"{spec.run_id}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text(traceback.format_exc())
        return _failed(f"error: {type(error).__name__}: {error} (traceback: {log})")
    metrics = separate_examples(outcome.metrics)
    return {
        "status": "completed",
        "metrics": metrics,
        "costs": outcome.costs,
        "history": outcome.history,
        "reason": None,
    }


def _failed(reason: str) -> dict[str, Any]:
    return {"status": "failed", "metrics": {}, "costs": {}, "history": [], "reason": reason}


def _claim(store: ResultsStore, run: NewRun, owner: Owner):
    try:
        return store.claim(run, owner)
    except sqlite3.OperationalError as error:
        raise UserError(f"{store.path}: cannot record run {run.run_id} ({error})") from error


def new_run(spec: RunSpec, study_name: str, provenance: dict) -> NewRun:
    return NewRun(
        spec.run_id,
        study_name,
        spec.backbone or "none",
        spec.task.name,
        spec.method.name if spec.method else "none",
        spec.seed,
        spec.flat(),
        provenance,
    )


def record_failure(store: ResultsStore, spec: RunSpec, study_name: str, reason: str) -> None:
    """A run whose process died before it recorded an outcome (a killed worker, a failed
    Slurm job) is recorded as failed, unless it completed or a live process holds it."""
    run, owner = new_run(spec, study_name, collect_provenance()), this_process()
    if store.claim(run, owner) == "claimed":
        store.finish(run.run_id, **_failed(reason), owner=owner)


@contextmanager
def heartbeat(path: Path, run_id: str, owner: Owner) -> Iterator[None]:
    """Refresh the run's heartbeat every HEARTBEAT_SECONDS while the block runs, from a thread
    with its own connection, so that other processes know its owner is alive."""
    stop = threading.Event()

    def beat() -> None:
        with ResultsStore(path) as store:
            while not stop.wait(HEARTBEAT_SECONDS):
                with suppress(sqlite3.Error):  # a missed beat is not a lost result
                    store.heartbeat(run_id, owner)

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_in_worker(
    spec_data: dict, study_data: dict, output_dir: str, threads: int | None = None
) -> tuple[str, str | None]:
    """One run in a worker process (parallel or Slurm), recorded in the study's store."""
    if threads:
        torch.set_num_threads(threads)
    study = StudyConfig.model_validate(study_data)
    spec = RunSpec.model_validate(spec_data)
    folder = Path(output_dir)
    with ResultsStore(folder / "results.sqlite") as store:
        return run_one(spec, study.name, folder, study.save_checkpoints, store, None)
