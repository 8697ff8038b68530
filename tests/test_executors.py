"""Executors and reliability: parallel workers and submitit's local executor on one store,
`kill -9` mid-study then resume, a worker that dies, a run out of memory."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from rich.console import Console

from tunebench.store import ResultsStore
from tunebench.study.executors import ParallelExecutor, run_parallel
from tunebench.study.expand import expand
from tunebench.study.load import first_points, load_study
from tunebench.study.runner import run_study


def _study(tiny_assets: Path, folder: Path, methods: list, **extra) -> Path:
    study = {
        "name": "exec",
        "backbones": [str(tiny_assets / "lm")],
        "tasks": [{"name": "mine", "path": str(tiny_assets / "task.csv")}],
        "methods": methods,
        "training": {"epochs": 1, "batch_size": 8, "max_length": 32},
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    return folder / "study.yaml"


RANKS = [{"name": "lora", "r": r} for r in (2, 4, 8)]


def _completed(folder: Path) -> dict[str, str]:
    with ResultsStore(folder / "results.sqlite") as store:
        return {r.run_id: r.started_at for r in store.runs("completed")}


def _intact(database: Path) -> bool:
    with sqlite3.connect(database) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_study_and_its_runs_survive_the_trip_to_a_worker(example):
    """A worker gets the study and each run as JSON; built-in tasks (whose dumps name every
    file-only field at its default) and tpe sweeps included."""
    study = load_study(example)
    again = type(study).model_validate(study.model_dump(mode="json"))
    assert again == study
    specs = expand(study, first_points(study))
    for spec in specs:
        assert type(spec).model_validate(spec.model_dump(mode="json")).run_id == spec.run_id


@pytest.mark.parametrize(
    "executor",
    [
        {"name": "parallel", "workers": 2, "threads_per_worker": 1},
        {"name": "slurm", "cluster": "local", "timeout_min": 10},
    ],
    ids=["parallel", "submitit-local"],
)
def test_a_lora_rank_sweep_through_another_executor(tiny_assets, tmp_path, executor):
    study = load_study(_study(tiny_assets, tmp_path, RANKS, executor=executor))
    summary = run_study(study, tmp_path / "run", Console(quiet=True))
    assert (summary.completed, summary.failed) == (3, 0)
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        runs = store.runs()
    assert sorted(r.config["method"]["r"] for r in runs) == [2, 4, 8]
    assert all(r.status == "completed" and r.metrics["test"]["accuracy"] >= 0 for r in runs)
    assert _intact(tmp_path / "run" / "results.sqlite")
    again = run_study(study, tmp_path / "run", Console(quiet=True))  # resumes: nothing to do
    assert (again.skipped, again.completed) == (3, 0)


def test_kill_9_mid_study_loses_and_repeats_nothing(tiny_assets, tmp_path):
    methods = [{"name": "lora", "r": r} for r in (1, 2, 3, 4, 5, 6)]
    study_file = _study(tiny_assets, tmp_path, methods)
    folder = tmp_path / "run"
    command = [sys.executable, "-m", "tunebench.cli", "run", str(study_file), "-o", str(folder)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if (folder / "results.sqlite").exists() and len(_completed(folder)) >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the study ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert _intact(folder / "results.sqlite")
    before = _completed(folder)
    assert 2 <= len(before) < 6
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    after = _completed(folder)
    assert len(after) == 6  # every run completed ...
    assert {run_id: after[run_id] for run_id in before} == before  # ... and none run twice
    with ResultsStore(folder / "results.sqlite") as store:
        assert len(store.runs()) == 6


def _dies_on_the_second(index: int, marks: str, threads: int) -> tuple[str, str | None]:
    Path(marks, str(index)).touch()  # it started
    if index == 1:
        os._exit(3)  # as the kernel's out-of-memory killer would end it
    time.sleep(0.5)
    return "completed", None


def test_a_worker_that_dies_fails_its_run_and_the_others_still_run(tmp_path):
    outcomes = {}
    executor = ParallelExecutor(workers=1, threads_per_worker=1)

    def on_done(index, status, reason):
        outcomes[index] = (status, reason)

    def started(index):
        return (tmp_path / str(index)).exists()

    jobs = [(i, str(tmp_path)) for i in range(4)]
    run_parallel(executor, jobs, _dies_on_the_second, on_done, started)
    assert outcomes[1][0] == "failed" and "worker process ended abruptly" in outcomes[1][1]
    assert {i: outcomes[i] for i in (0, 2, 3)} == dict.fromkeys((0, 2, 3), ("completed", None))


def _sleeps_long(index: int, marks: str, threads: int) -> tuple[str, str | None]:
    Path(marks, f"{index}-{os.getpid()}").touch()  # this run started, in this worker
    time.sleep(120)
    return "completed", None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C; kill, a scheduler
def test_stopping_the_study_process_ends_its_workers_and_starts_no_queued_run(tmp_path, stop):
    study = (
        "import signal, sys; sys.path.insert(0, sys.argv[1])\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # even if CI ignores it\n"
        "from test_executors import _sleeps_long\n"
        "from tunebench.study.executors import ParallelExecutor, run_parallel\n"
        "jobs = [(i, sys.argv[2]) for i in range(6)]\n"
        "run_parallel(ParallelExecutor(workers=2, threads_per_worker=1), jobs, _sleeps_long,"
        " lambda *done: None, lambda index: False)\n"
    )
    tests = str(Path(__file__).parent)
    process = subprocess.Popen(
        [sys.executable, "-c", study, tests, str(tmp_path)], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list(tmp_path.iterdir())) < 2:
            time.sleep(0.2)
        workers = [int(mark.name.split("-")[1]) for mark in tmp_path.iterdir()]
        assert len(workers) == 2, "the workers did not start"
        process.send_signal(stop)
        process.wait(timeout=60)  # not after the queued runs' 120 s sleeps
    finally:
        process.kill()  # a failed check leaves nothing running
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), "a worker outlived its study"
    assert len(list(tmp_path.iterdir())) == 2, "a queued run started after the stop"


def _alive(pid: int) -> bool:
    """Running, not gone or a zombie that its new parent has yet to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_run_out_of_memory_is_recorded_and_the_study_goes_on(tiny_assets, tmp_path, monkeypatch):
    import tunebench.study.run_path as study_module

    real_execute = study_module.execute

    def execute(spec, *args, **kwargs):
        if spec.method.r == 4:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_execute(spec, *args, **kwargs)

    monkeypatch.setattr(study_module, "execute", execute)
    summary = run_study(
        load_study(_study(tiny_assets, tmp_path, RANKS)), tmp_path / "run", Console(quiet=True)
    )
    assert (summary.completed, summary.failed) == (2, 1)
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        (failed,) = store.runs("failed")
    assert failed.reason.startswith("out_of_memory") and failed.config["method"]["r"] == 4


def test_executor_entries_and_command_line_overrides(tiny_assets, tmp_path):
    from tunebench.errors import UserError
    from tunebench.study.schema import override_executor

    study = load_study(_study(tiny_assets, tmp_path, RANKS, executor="parallel"))
    assert study.executor == ParallelExecutor(workers=2)
    assert override_executor(study, None, 4).executor.workers == 4
    assert override_executor(study, "local", None).executor.name == "local"
    with pytest.raises(UserError, match="--executor: 'nope' is not one of local, parallel"):
        override_executor(study, "nope", None)
    with pytest.raises(UserError, match="workers"):
        override_executor(study, None, 0)
    with pytest.raises(UserError, match="executor.timeout_min: Input should be greater than 0"):
        load_study(
            _study(tiny_assets, tmp_path, RANKS, executor={"name": "slurm", "timeout_min": 0})
        )


def test_a_run_that_diverges_is_recorded_and_the_study_goes_on(tiny_assets, tmp_path):
    methods = [
        {"name": "lora", "r": 2},
        {"name": "full", "training": {"learning_rate": 1.0e30, "log_every": 1}},
    ]
    summary = run_study(
        load_study(_study(tiny_assets, tmp_path, methods)), tmp_path / "run", Console(quiet=True)
    )
    assert (summary.completed, summary.failed) == (1, 1)
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        (failed,) = store.runs("failed")
        (completed,) = store.runs("completed")
    assert failed.method == "full" and failed.reason.startswith("diverged")
    assert completed.method == "lora"
