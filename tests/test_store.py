"""The results store keeps every recorded run through crashes and concurrent writers."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import sqlite3
import time
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from tunebench.errors import UserError
from tunebench.families.labels import method_labels
from tunebench.owners import STALE_SECONDS as STALE
from tunebench.owners import Owner, this_process
from tunebench.records import NewRun, RunRecord
from tunebench.store import ResultsStore
from tunebench.training.config import ADDED_LATER

METRICS = {"test": {"accuracy": 0.1 + 0.2, "loss": 1 / 3}, "validation": {"accuracy": 0.5}}
COSTS = {"train_seconds": 12.5, "peak_host_mb": 812.25, "trainable_params": 74_500}


def _run(run_id: str, seed: int = 0) -> NewRun:
    return NewRun(
        run_id,
        study="demo",
        backbone="bert-tiny",
        task="sst2",
        method="lora",
        seed=seed,
        config={"method": {"name": "lora", "r": 8}, "lr": 1e-4},
        provenance={"versions": {"torch": "2.13.0"}},
    )


def _start(store: ResultsStore, run_id: str, seed: int = 0, owner: Owner | None = None) -> str:
    return store.claim(_run(run_id, seed), owner or this_process())


def _write_runs(path: Path, prefix: str, count: int) -> None:
    """Worker for the concurrency test (module level so spawn can import it)."""
    with ResultsStore(path) as store:
        for i in range(count):
            run_id = f"{prefix}-{i}"
            _start(store, run_id, seed=i)
            status = "failed" if i % 5 == 0 else "completed"
            store.finish(run_id, status, METRICS, COSTS, [{"step": i, "loss": 0.5}])


def _write_forever(path: Path, conn: Connection) -> None:
    """Worker for the kill test: reports each run id only after its finish() committed."""
    history = [{"step": step, "loss": 1.0 / (step + 1)} for step in range(500)]
    with ResultsStore(path) as store:
        for i in range(1_000_000):
            run_id = f"run-{i}"
            _start(store, run_id, seed=i)
            store.finish(run_id, "completed", METRICS, COSTS, history)
            conn.send(run_id)


def test_round_trip(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "study" / "results.sqlite") as store:
        _start(store, "r1", seed=3)
        assert store.status("r1") == "running"
        store.finish("r1", "completed", METRICS, COSTS, [{"step": 1, "loss": 0.7}])

    with ResultsStore(tmp_path / "study" / "results.sqlite") as store:
        [record] = store.runs()
    assert isinstance(record, RunRecord)
    assert (record.run_id, record.study, record.status, record.reason) == (
        "r1",
        "demo",
        "completed",
        None,
    )
    assert (record.backbone, record.task, record.method, record.seed) == (
        "bert-tiny",
        "sst2",
        "lora",
        3,
    )
    assert record.metrics == METRICS  # floats exact, not rounded
    assert record.costs == COSTS
    assert record.config == {"method": {"name": "lora", "r": 8}, "lr": 1e-4}
    assert record.provenance == {"versions": {"torch": "2.13.0"}}
    assert record.history == [{"step": 1, "loss": 0.7}]
    assert record.started_at <= record.finished_at
    assert record.started_at.endswith("+00:00")


def test_nan_and_inf_are_stored_as_null(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    with ResultsStore(path) as store:
        _start(store, "r1")
        store.finish("r1", "failed", {"test": {"loss": math.nan}}, {"mfu": math.inf}, [math.nan])
        [record] = store.runs()
    assert record.metrics == {"test": {"loss": None}}
    assert record.costs == {"mfu": None}
    assert record.history == [None]
    raw = sqlite3.connect(path).execute("SELECT metrics FROM runs").fetchone()[0]
    assert raw == '{"test": {"loss": null}}'


def test_start_replaces_a_failed_run(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        _start(store, "r1")
        store.finish("r1", "failed", {}, {}, [], reason="CUDA out of memory")
        assert store.status("r1") == "failed"
        _start(store, "r1", seed=7)
        [record] = store.runs()
    assert (record.status, record.reason, record.seed, record.metrics) == ("running", None, 7, {})
    assert record.finished_at is None


def test_completed_ids_status_and_filter(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        for run_id in ("a", "b", "c"):
            _start(store, run_id)
        store.finish("a", "completed", METRICS, COSTS, [])
        store.finish("b", "failed", {}, {}, [], reason="diverged")
        assert store.completed_ids() == {"a"}
        assert store.status("c") == "running"
        assert store.status("never") is None
        assert [r.run_id for r in store.runs()] == ["a", "b", "c"]
        assert [r.run_id for r in store.runs("failed")] == ["b"]
        with pytest.raises(KeyError):
            store.finish("never", "completed", {}, {}, [])


def test_a_file_that_is_not_sqlite_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    path.write_text("run_id,accuracy\nr1,0.9\n" * 100)
    with pytest.raises(UserError, match="results.sqlite"):
        ResultsStore(path)


def test_an_sqlite_file_without_runs_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE things (x)")
    with pytest.raises(UserError, match="other.db"):
        ResultsStore(path)


def test_two_processes_write_one_store(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"  # created by whichever worker opens it first
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_write_runs, args=(path, p, 50)) for p in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0]

    with ResultsStore(path) as store:
        records = store.runs()
        assert len(records) == 100
        for record in records:
            index = int(record.run_id.split("-")[1])
            assert record.status == ("failed" if index % 5 == 0 else "completed")
            assert record.seed == index
        assert len(store.completed_ids()) == 80


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_writer_loses_nothing_it_recorded(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    spawn = multiprocessing.get_context("spawn")
    receiver, sender = spawn.Pipe(duplex=False)
    child = spawn.Process(target=_write_forever, args=(path, sender))
    child.start()
    sender.close()
    reported = []
    while len(reported) < 30:  # the child is mid-write nearly all the time
        assert receiver.poll(30), "the writer reported nothing for 30 s"
        reported.append(receiver.recv())
    time.sleep(0.013)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    with contextlib.suppress(EOFError):  # ids sent before the kill are still in the pipe
        while receiver.poll():
            reported.append(receiver.recv())

    with ResultsStore(path) as store:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        completed = store.completed_ids()
        assert set(reported) <= completed
        assert all(r.history and r.metrics == METRICS for r in store.runs("completed"))


NEW_TRAINING = {"epochs": 2, **ADDED_LATER["training"]}


def test_a_run_recorded_before_a_setting_existed_reads_as_its_default(tmp_path: Path) -> None:
    """Tables compare recorded settings: an old run must not differ from a new one by a key it
    lacks (training/config.py ADDED_LATER)."""
    with ResultsStore(tmp_path / "results.sqlite") as store:
        for run_id, training in [("old", {"epochs": 2}), ("new", dict(NEW_TRAINING))]:
            store.claim(
                NewRun(run_id, "demo", "bert-tiny", "sst2", "lora", 0, {"training": training}, {}),
                this_process(),
            )
        assert store.record("old").config["training"] == NEW_TRAINING
        assert method_labels(store.runs()) == {"old": "lora", "new": "lora"}


def _owner(**changes) -> Owner:
    """An owner like this process, with `changes` (another token, pid or host)."""
    me = this_process()
    fields = {"host": me.host, "pid": me.pid, "started": me.started, "token": "other", **changes}
    return Owner(**fields)


def test_a_claim_never_takes_a_completed_run(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        assert _start(store, "r1") == "claimed"
        store.finish("r1", "completed", METRICS, COSTS, [], owner=this_process())
        assert _start(store, "r1", owner=_owner(pid=1, token="new")) == "completed"
        assert store.record("r1").metrics == METRICS


def test_a_live_owner_keeps_its_run_and_a_dead_one_loses_it(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        alive = _owner()  # this very process, under another token: alive
        assert _start(store, "r1", owner=alive) == "claimed"
        assert _start(store, "r1") == alive  # held: not taken
        dead = _owner(pid=2**22 + 12345, token="dead")  # no such process on this host
        assert _start(store, "r2", owner=dead) == "claimed"
        assert _start(store, "r2") == "claimed"  # taken over
        assert store.holder("r2")[0] == this_process()


def test_an_owner_on_another_host_lives_while_its_heartbeat_is_fresh(tmp_path: Path) -> None:
    from tunebench import owners

    remote = _owner(host="node-7", token="remote")
    with ResultsStore(tmp_path / "results.sqlite") as store:
        assert _start(store, "r1", owner=remote) == "claimed"
        assert _start(store, "r1") == remote
        store.heartbeat("r1", remote)
        _, beat = store.holder("r1")
        later = datetime.fromisoformat(beat) + timedelta(seconds=1 + STALE)
        assert not owners.is_alive(remote, beat, now=later)
        assert owners.is_alive(remote, beat)


def test_finish_records_nothing_over_another_owners_run(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        assert _start(store, "r1", owner=_owner()) == "claimed"
        assert not store.finish("r1", "completed", METRICS, COSTS, [], owner=this_process())
        assert store.status("r1") == "running"


def test_a_store_of_schema_1_is_brought_up_to_date_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    columns = (
        "run_id TEXT PRIMARY KEY, study TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, "
        "backbone TEXT NOT NULL, task TEXT NOT NULL, method TEXT NOT NULL, seed INTEGER NOT "
        "NULL, config TEXT NOT NULL, metrics TEXT NOT NULL, costs TEXT NOT NULL, provenance "
        "TEXT NOT NULL, history TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT"
    )
    old.execute(f"CREATE TABLE runs ({columns})")
    old.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    old.execute(
        "INSERT INTO runs VALUES ('old', 's', 'completed', NULL, 'b', 't', 'lora', 0, '{}', "
        "'{\"test\": {\"accuracy\": 0.9}}', '{}', '{}', '[]', '2026-01-01', '2026-01-01')"
    )
    old.commit()
    old.close()
    with ResultsStore(path, readonly=True) as store:  # reading needs no migration
        assert store.completed_ids() == {"old"}
    with ResultsStore(path) as store:
        assert store.record("old").metrics == {"test": {"accuracy": 0.9}}
        assert _start(store, "new") == "claimed"
        assert _start(store, "old") == "completed"
    version = sqlite3.connect(path).execute("SELECT value FROM meta").fetchone()[0]
    assert version == "2"
