"""Several `tunebench run` processes on one study folder cooperate: each run is trained once,
a run held by a live process is left to it (and waited for), a killed process's run is taken
over, and nothing recorded is overwritten. Then a bounded soak: random kills of studies and of
their workers, concurrent processes, resumes (TUNEBENCH_SOAK_CYCLES sets how many cycles)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from tunebench.store import ResultsStore

HOOKS = Path(__file__).parent / "hooks"
STUDY = """
name: shared
backbones: [{lm}]
tasks: [{{name: words, path: {task}}}]
methods: [frozen, {{name: lora, r: 4}}]
seeds: [0, 1, 2, 3]
training: {{epochs: {epochs}, batch_size: 8, max_length: 24}}
"""


def _study(tiny_assets, tmp_path, epochs: int = 6) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(
        STUDY.format(lm=tiny_assets / "lm", task=tiny_assets / "task.csv", epochs=epochs)
    )
    return path


def _start(study: Path, out: Path, log: Path, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TUNEBENCH_TRAIN_LOG": str(log),
        "PYTHONPATH": os.pathsep.join([str(HOOKS), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "tunebench.cli", "run", str(study), "-o", str(out), *extra]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _trainings(log: Path) -> Counter:
    """How often each run's training ran to its end."""
    lines = log.read_text().split("\n") if log.exists() else []
    return Counter(line.split()[1] for line in lines if line.startswith("end "))


def _holding(store_path: Path, pid: int, timeout: float = 120.0) -> str:
    """Wait until process `pid` (or one of its workers) holds a run; its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store_path.exists():
            pids = {pid, *(worker.pid for worker in _workers_of(pid))}
            # the file exists a moment before its tables: one transaction creates them
            with (
                ResultsStore(store_path, readonly=True) as store,
                contextlib.suppress(sqlite3.OperationalError),
            ):
                for record in store.runs("running"):
                    owner, _ = store.holder(record.run_id)
                    if owner is not None and owner.pid in pids:
                        return record.run_id
        time.sleep(0.2)
    raise AssertionError(f"process {pid} never held a run")


def _check(out: Path, log: Path, runs: int) -> None:
    """Every run completed once, no completed run trained again, the store intact."""
    with ResultsStore(out / "results.sqlite") as store:
        records = store.runs()
    assert len(records) == runs and {r.status for r in records} == {"completed"}
    completed_trainings = _trainings(log)
    assert set(completed_trainings) == {r.run_id for r in records}
    assert max(completed_trainings.values()) == 1, completed_trainings
    integrity = sqlite3.connect(out / "results.sqlite").execute("PRAGMA integrity_check")
    assert integrity.fetchone()[0] == "ok"


PARALLEL = ("--executor", "parallel", "--workers", "2")


@pytest.mark.parametrize(
    ("first_executor", "second_executor"),
    [("local", "local"), ("local", "parallel"), ("parallel", "local")],
)
def test_two_processes_on_one_folder_train_each_run_once(
    tiny_assets, tmp_path, first_executor, second_executor
):
    """Started in either order: the second finds runs held by the first and leaves them."""
    study, out, log = _study(tiny_assets, tmp_path), tmp_path / "out", tmp_path / "train.log"
    first = _start(study, out, log, *(PARALLEL if first_executor == "parallel" else ()))
    _holding(out / "results.sqlite", first.pid)
    other = _start(study, out, log, *(PARALLEL if second_executor == "parallel" else ()))
    outputs = [first.communicate(timeout=600)[0], other.communicate(timeout=600)[0]]
    assert [first.returncode, other.returncode] == [0, 0], outputs
    _check(out, log, 8)
    completed_by = [int(text.split(" completed now")[0].split(": ")[-1]) for text in outputs]
    assert sum(completed_by) == 8  # each process trained its share, none twice


def test_a_killed_process_leaves_its_run_to_the_other(tiny_assets, tmp_path):
    # runs long enough that the first process is still busy when the second has started
    study, out, log = _study(tiny_assets, tmp_path, 40), tmp_path / "out", tmp_path / "train.log"
    first = _start(study, out, log)
    _holding(out / "results.sqlite", first.pid)
    second = _start(study, out, log)
    held = _holding(out / "results.sqlite", second.pid)
    second.kill()  # kill -9 while it trains `held`
    second.wait()
    output = first.communicate(timeout=600)[0]
    assert first.returncode == 0, output
    _check(out, log, 8)
    assert _trainings(log)[held] == 1  # taken over and trained to its end once, by the first


def test_soak_random_kills_and_concurrent_processes(tiny_assets, tmp_path):
    cycles = int(os.environ.get("TUNEBENCH_SOAK_CYCLES", "2"))
    rng = random.Random(0)
    for cycle in range(cycles):
        out, log = tmp_path / f"out{cycle}", tmp_path / f"train{cycle}.log"
        study = _study(tiny_assets, tmp_path, epochs=rng.choice([4, 8]))
        processes = [_start(study, out, log), _start(study, out, log, "--executor", "parallel")]
        time.sleep(rng.uniform(3.0, 10.0))
        victim = rng.choice(processes + _workers(processes[1]))
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(victim.pid).send_signal(signal.SIGKILL)
        for process in processes:
            process.communicate(timeout=600)
        resumed = _start(study, out, log)  # whatever was lost is done now, and only that
        assert resumed.wait(timeout=600) == 0, resumed.communicate()[0]
        _check(out, log, 8)


def _workers(parent: subprocess.Popen) -> list:
    return _workers_of(parent.pid)


def _workers_of(pid: int) -> list:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_a_result_the_store_cannot_take_is_kept_and_recorded_next_time(
    tiny_assets, tmp_path, monkeypatch
):
    import io

    from rich.console import Console

    from tunebench import pending
    from tunebench.errors import UserError
    from tunebench.study import run_path
    from tunebench.study.load import load_study
    from tunebench.study.runner import run_study

    study = load_study(_study(tiny_assets, tmp_path, epochs=1))
    out = tmp_path / "out"
    real_finish = ResultsStore.finish

    def full_disk(self, run_id, status, *args, **kwargs):
        if status == "completed":
            raise sqlite3.OperationalError("database or disk is full")
        return real_finish(self, run_id, status, *args, **kwargs)

    trained = []
    real_execute = run_path.execute
    monkeypatch.setattr(
        run_path,
        "execute",
        lambda spec, *a, **k: trained.append(spec.run_id) or real_execute(spec, *a, **k),
    )
    monkeypatch.setattr(ResultsStore, "finish", full_disk)
    monkeypatch.setattr(pending, "RETRY_SECONDS", 0.0)
    with pytest.raises(
        UserError, match=r"could not record run \w+ .*database or disk is full.*kept in"
    ):
        run_study(study, out, Console(file=io.StringIO()))
    (kept,) = (out / "pending").glob("*.json")
    assert trained == [kept.stem]  # the study stopped after the first result it could not write
    monkeypatch.setattr(ResultsStore, "finish", real_finish)
    log = Console(file=io.StringIO())
    summary = run_study(study, out, log)
    assert "recorded 1 result(s) kept in" in log.file.getvalue()
    assert not list((out / "pending").glob("*.json"))
    assert (summary.skipped, summary.completed) == (1, 7)
    assert trained.count(kept.stem) == 1  # imported, not trained again
    with ResultsStore(out / "results.sqlite") as store:
        assert store.record(kept.stem).metrics["test"]["accuracy"] >= 0


def test_a_full_disk_at_the_end_of_a_run_loses_no_result(tiny_assets, tmp_path, monkeypatch):
    """A real write failure (the store's file may not grow: EFBIG, as on a full disk): the
    result goes to a pending file, one line says so, exit 2; the next run records it."""
    study, out, log = _study(tiny_assets, tmp_path, epochs=1), tmp_path / "out", tmp_path / "t.log"
    monkeypatch.setenv("TUNEBENCH_FULL_DISK_AT_FINISH", "1")
    monkeypatch.setattr("tunebench.pending.RETRY_SECONDS", 0.0)
    full = _start(study, out, log)
    output = full.communicate(timeout=600)[0]
    assert full.returncode == 2, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "kept in" in errors[0] and "Traceback" not in output
    (kept,) = (out / "pending").glob("*.json")
    monkeypatch.delenv("TUNEBENCH_FULL_DISK_AT_FINISH")
    resumed = _start(study, out, log)
    assert resumed.wait(timeout=600) == 0, resumed.communicate()[0]
    _check(out, log, 8)
    assert _trainings(log)[kept.stem] == 1


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root to become nobody")
def test_a_read_only_study_folder_is_one_line_before_anything_runs(tiny_assets, tmp_path):
    import pwd
    import shutil
    import tempfile

    try:
        pwd.getpwnam("nobody")
        subprocess.run([sys.executable, "-c", "import tunebench"], user="nobody", check=True)
    except (KeyError, OSError, subprocess.CalledProcessError):
        pytest.skip("user 'nobody' cannot run this Python (its files are not readable to it)")
    shared = Path(tempfile.mkdtemp(prefix="tunebench-ro-"))
    try:
        shutil.copytree(tiny_assets, shared / "assets")
        study = _study(shared / "assets", shared, epochs=1)
        out, log = shared / "out", shared / "t.log"
        assert _start(study, out, log).wait(timeout=600) == 0  # a finished study, as root
        before = (out / "results.sqlite").read_bytes()
        (shared / "cache").mkdir()
        os.chmod(shared / "cache", 0o777)
        for path in [shared, *shared.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chmod(shared / "cache", 0o777)
        env = {
            **os.environ,
            "TUNEBENCH_CACHE": str(shared / "cache"),
            "HOME": str(shared / "cache"),
        }
        done = subprocess.run(
            [sys.executable, "-m", "tunebench.cli", "run", str(study), "-o", str(out)],
            capture_output=True,
            text=True,
            user="nobody",
            env=env,
            timeout=600,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.count("\n") == 1 and str(out) in done.stderr, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert (out / "results.sqlite").read_bytes() == before
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_a_store_that_cannot_be_written_is_one_message_before_training(
    tiny_assets, tmp_path, monkeypatch
):
    """Where no other user can run this Python, the read-only case as SQLite reports it."""
    import io

    from rich.console import Console

    from tunebench.errors import UserError
    from tunebench.study.load import load_study
    from tunebench.study.runner import run_study

    def read_only(self, *args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(ResultsStore, "__init__", read_only)
    out = tmp_path / "out"
    with pytest.raises(UserError, match="cannot write the study's folder or store .*readonly"):
        run_study(load_study(_study(tiny_assets, tmp_path)), out, Console(file=io.StringIO()))
    assert not (out / "results.sqlite").exists()
