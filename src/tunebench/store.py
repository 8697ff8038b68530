"""The results store: one SQLite file (`results.sqlite`) per study, one row per run.

Why SQLite: a run's record must survive the process being killed at any moment, and
several worker processes may write the same study at once. SQLite in WAL mode gives both:
every write below is a single transaction, a killed writer leaves at most an uncommitted
transaction behind (rolled back on the next open), and concurrent writers queue on the
file lock for up to `BUSY_TIMEOUT_MS` instead of failing.

JSON columns (config, metrics, costs, provenance, history) are written with exact float
round-tripping. NaN and ±inf are not valid JSON, so they are stored as `null` and read
back as `None` (a diverged loss shows up as a missing value, never as a crash).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tunebench.errors import UserError
from tunebench.training.config import with_added_defaults

SCHEMA_VERSION = 1
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
    finished_at TEXT
)""",
    "CREATE INDEX runs_by_status ON runs (status)",
)

_COLUMNS = (
    "run_id, study, status, reason, backbone, task, method, seed, "
    "config, metrics, costs, provenance, history, started_at, finished_at"
)


@dataclass(frozen=True)
class RunRecord:
    """One row of `runs`, JSON columns decoded. Running runs have empty metrics/costs/history."""

    run_id: str
    study: str
    status: str
    reason: str | None
    backbone: str
    task: str
    method: str
    seed: int
    config: dict[str, Any]
    metrics: dict[str, Any]
    costs: dict[str, Any]
    provenance: dict[str, Any]
    history: list[Any]
    started_at: str
    finished_at: str | None


def json_safe(value: Any) -> Any:
    """`value` with NaN/±inf replaced by None and numpy/torch scalars made plain Python.

    Metrics often come out of numpy or torch as 0-d scalars, which `json` refuses; failing
    on them after hours of training would lose the run.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return json_safe(value.item())
    return value


def _dumps(value: Any) -> str:
    return json.dumps(json_safe(value), allow_nan=False)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ResultsStore:
    """Read and write the runs of one study. Open one per process; close it (or use `with`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"{self.path} is a folder; expected a results file (results.sqlite)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # timeout sets SQLite's busy_timeout. isolation_level=None: no implicit transactions;
        # each statement commits on its own, multi-statement writes use _transaction.
        self._conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
        try:
            self._conn.execute("PRAGMA journal_mode = WAL")
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
        """Create the tables in a fresh file, or check an existing file is a store we can read.

        Done in one write transaction so that processes opening a new store at the same
        time cannot see it half-created.
        """
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
            if int(row[0]) > SCHEMA_VERSION:
                raise UserError(
                    f"{self.path} was written by a newer tunebench (schema {row[0]}, "
                    f"this version reads {SCHEMA_VERSION}); upgrade tunebench to open it"
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

    def start(
        self,
        run_id: str,
        study: str,
        backbone: str,
        task: str,
        method: str,
        seed: int,
        config: dict[str, Any],
        provenance: dict[str, Any],
    ) -> None:
        """Record a run as `running`, replacing any earlier record of the same run_id.

        A run left `running` by a killed process, or one that failed, is simply started again.
        """
        self._conn.execute(
            f"INSERT OR REPLACE INTO runs ({_COLUMNS}) "
            "VALUES (?, ?, 'running', NULL, ?, ?, ?, ?, ?, '{}', '{}', ?, '[]', ?, NULL)",
            (
                run_id,
                study,
                backbone,
                task,
                method,
                seed,
                _dumps(config),
                _dumps(provenance),
                utc_now(),
            ),
        )

    def finish(
        self,
        run_id: str,
        status: Literal["completed", "failed"],
        metrics: dict[str, Any],
        costs: dict[str, Any],
        history: list[Any],
        reason: str | None = None,
    ) -> None:
        """Record the outcome of a started run (`reason` says why a run failed)."""
        if status not in ("completed", "failed"):
            raise ValueError(f"finish() status must be 'completed' or 'failed', not {status!r}")
        cursor = self._conn.execute(
            "UPDATE runs SET status = ?, reason = ?, metrics = ?, costs = ?, history = ?, "
            "finished_at = ? WHERE run_id = ?",
            (status, reason, _dumps(metrics), _dumps(costs), _dumps(history), utc_now(), run_id),
        )
        if cursor.rowcount != 1:
            raise KeyError(f"run {run_id!r} was never started in {self.path}")

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
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        found = row.fetchone()
        return _record(found) if found else None

    def runs(self, status: str | None = None) -> list[RunRecord]:
        """All runs (or those with `status`), oldest start first."""
        query = f"SELECT {_COLUMNS} FROM runs"
        params: tuple[str, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            params = (status,)
        rows = self._conn.execute(query + " ORDER BY started_at, run_id", params)
        return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> RunRecord:
    (run_id, study, status, reason, backbone, task, method, seed) = row[:8]
    config, metrics, costs, provenance, history = (json.loads(text) for text in row[8:13])
    return RunRecord(
        run_id=run_id,
        study=study,
        status=status,
        reason=reason,
        backbone=backbone,
        task=task,
        method=method,
        seed=seed,
        config=with_added_defaults(config),
        metrics=metrics,
        costs=costs,
        provenance=provenance,
        history=history,
        started_at=row[13],
        finished_at=row[14],
    )
