"""The results store: one SQLite file (`results.sqlite`) per study, one row per run.

Why SQLite: a run's record must survive the process being killed at any moment, and several
processes — worker processes, or several `tunebench run`s on one folder, on one machine or
many — may write the same study at once. SQLite in WAL mode gives both: every write below is a
single transaction, a killed writer leaves at most an uncommitted transaction behind (rolled
back on the next open), and concurrent writers queue on the file lock for up to
`BUSY_TIMEOUT_MS` instead of failing.

A run is owned. `claim` is one write transaction that never takes a `completed` row and takes
a `running` one only when its owner is gone (owners.py); the owner refreshes the row's
heartbeat while it trains, and `finish` records its outcome only while it still owns the run.
So every run is trained once however many processes share the folder.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from tunebench.errors import UserError
from tunebench.owners import Owner, is_alive
from tunebench.records import COLUMNS, NewRun, RunRecord, dumps, record_from_row, utc_now

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 60_000

# Separate statements: `executescript` would commit the surrounding transaction.
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    study TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    reason TEXT,
    backbone TEXT NOT NULL,
    task TEXT NOT NULL,
    method TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    costs TEXT NOT NULL,
    provenance TEXT NOT NULL,
    history TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    owner TEXT,
    heartbeat_at TEXT
)""",
    "CREATE INDEX runs_by_status ON runs (status)",
)
_MIGRATIONS = {  # from schema version N to N + 1
    1: ("ALTER TABLE runs ADD COLUMN owner TEXT", "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT"),
}

Claim = Literal["claimed", "completed"] | Owner
"""What `claim` found: the run is now ours, it is already completed, or a live owner holds it."""


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to write-ahead logging. The switch takes an exclusive lock and SQLite
    answers "database is locked" at once, without waiting, while another process creates the
    same new store; so wait here, as the busy timeout would."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class ResultsStore:
    """Read and write the runs of one study. Open one per process (and per thread); close it
    (or use `with`). `readonly` opens it for reading only, as `tunebench results` does."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"{self.path} is a folder; expected a results file (results.sqlite)")
        if readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # timeout sets SQLite's busy_timeout. isolation_level=None: no implicit transactions;
        # each statement commits on its own, multi-statement writes use _transaction.
        self._conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
        try:
            _enable_wal(self._conn)
            # FULL: a committed run survives power loss too, not just a killed process;
            # one fsync per write is nothing next to a training run.
            self._conn.execute("PRAGMA synchronous = FULL")
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise  # locked, read-only, disk full...: not about what the file is
            raise UserError(f"{self.path} is not a tunebench results store ({exc})") from exc
        except UserError:
            self._conn.close()
            raise

    def _init_schema(self) -> None:
        """Create the tables in a fresh file, bring an older store up to this schema, or check
        that an existing file is a store we can read. One write transaction, so that processes
        opening a new store at the same time cannot see it half-created."""
        with self._transaction():
            tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master")}
            if not tables:
                for statement in _SCHEMA:
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                return
            if not {"runs", "meta"} <= tables:
                raise UserError(
                    f"{self.path} is an SQLite file but not a tunebench results store "
                    f"(no 'runs' table); pick another study folder or remove the file"
                )
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
            if row is None:
                raise UserError(f"{self.path} is not a tunebench results store (no schema version)")
            version = int(row[0])
            if version > SCHEMA_VERSION:
                raise UserError(
                    f"{self.path} was written by a newer tunebench (schema {version}, "
                    f"this version reads {SCHEMA_VERSION}); upgrade tunebench to open it"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    self._conn.execute(statement)
            self._conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction; IMMEDIATE takes the write lock up front (waiting if busy)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def claim(self, run: NewRun, owner: Owner) -> Claim:
        """Record `run` as `running` under `owner` unless it is completed or a live owner holds
        it; a failed run, or one whose owner is gone, is started again."""
        with self._transaction():
            row = self._conn.execute(
                "SELECT status, owner, heartbeat_at FROM runs WHERE run_id = ?", (run.run_id,)
            ).fetchone()
            if row is not None and row[0] == "completed":
                return "completed"
            if row is not None and row[0] == "running":
                holder = Owner.from_json(row[1])
                if holder != owner and is_alive(holder, row[2]):
                    return holder
            now = utc_now()
            self._conn.execute(
                f"INSERT OR REPLACE INTO runs ({COLUMNS}, owner, heartbeat_at) VALUES "
                "(?, ?, 'running', NULL, ?, ?, ?, ?, ?, '{}', '{}', ?, '[]', ?, NULL, ?, ?)",
                (
                    run.run_id,
                    run.study,
                    run.backbone,
                    run.task,
                    run.method,
                    run.seed,
                    dumps(run.config),
                    dumps(run.provenance),
                    now,
                    owner.to_json(),
                    now,
                ),
            )
        return "claimed"

    def heartbeat(self, run_id: str, owner: Owner) -> None:
        """The owner is still training `run_id`."""
        self._conn.execute(
            "UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND status = 'running' "
            "AND owner = ?",
            (utc_now(), run_id, owner.to_json()),
        )

    def holder(self, run_id: str) -> tuple[Owner | None, str | None]:
        """(owner, last heartbeat) of a run's row."""
        row = self._conn.execute(
            "SELECT owner, heartbeat_at FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return (Owner.from_json(row[0]), row[1]) if row else (None, None)

    def finish(
        self,
        run_id: str,
        status: Literal["completed", "failed"],
        metrics: dict[str, Any],
        costs: dict[str, Any],
        history: list[Any],
        reason: str | None = None,
        owner: Owner | None = None,
    ) -> bool:
        """Record the outcome of a started run (`reason` says why a run failed). With `owner`,
        only while the run is not completed and no other owner holds it; returns whether the
        outcome was recorded."""
        if status not in ("completed", "failed"):
            raise ValueError(f"finish() status must be 'completed' or 'failed', not {status!r}")
        query = (
            "UPDATE runs SET status = ?, reason = ?, metrics = ?, costs = ?, history = ?, "
            "finished_at = ? WHERE run_id = ?"
        )
        values = [status, reason, dumps(metrics), dumps(costs), dumps(history), utc_now(), run_id]
        if owner is not None:
            query += " AND status != 'completed' AND (owner IS NULL OR owner = ?)"
            values.append(owner.to_json())
        cursor = self._conn.execute(query, values)
        if cursor.rowcount != 1 and self.status(run_id) is None:
            raise KeyError(f"run {run_id!r} was never started in {self.path}")
        return cursor.rowcount == 1

    def add(self, record: RunRecord) -> bool:
        """Record a run finished elsewhere (an exported record) as it was, unless this store
        already holds it completed; returns whether it was added."""
        with self._transaction():
            if self.status(record.run_id) == "completed":
                return False
            self._conn.execute(
                f"INSERT OR REPLACE INTO runs ({COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *(record.run_id, record.study, record.status, record.reason),
                    *(record.backbone, record.task, record.method, record.seed),
                    *map(dumps, (record.config, record.metrics, record.costs, record.provenance)),
                    *(dumps(record.history), record.started_at, record.finished_at),
                ),
            )
        return True

    def status(self, run_id: str) -> str | None:
        """The run's status, or None if it was never started."""
        row = self._conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def completed_ids(self) -> set[str]:
        """Run ids that need no re-run."""
        rows = self._conn.execute("SELECT run_id FROM runs WHERE status = 'completed'")
        return {row[0] for row in rows}

    def record(self, run_id: str) -> RunRecord | None:
        """One run's record, or None if it was never started."""
        row = self._conn.execute(f"SELECT {COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        found = row.fetchone()
        return record_from_row(found) if found else None

    def runs(self, status: str | None = None) -> list[RunRecord]:
        """All runs (or those with `status`), oldest start first."""
        query = f"SELECT {COLUMNS} FROM runs"
        params: tuple[str, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            params = (status,)
        rows = self._conn.execute(query + " ORDER BY started_at, run_id", params)
        return [record_from_row(row) for row in rows]


def stored_runs(study_dir: Path) -> list[RunRecord]:
    """Every run recorded in a study folder (UserError when it holds no results store)."""
    database = study_dir / "results.sqlite"
    if not database.is_file():
        raise UserError(f"{study_dir}: no results.sqlite here; run a study into it first")
    with ResultsStore(database) as store:
        return store.runs()
