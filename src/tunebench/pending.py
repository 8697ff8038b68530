"""Results that could not be written to the store are never thrown away.

When recording a finished run fails (disk full, a store made read-only mid-study) the run path
retries, then keeps the outcome as JSON in `<study>/pending/<run_id>.json` (or, when even that
cannot be written, in the system's temporary folder, which the message names), and the study
stops with one line saying where it is. The next `tunebench run` of the study imports every
pending file into the store before it runs anything, and removes it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from tunebench.errors import UserError
from tunebench.records import NewRun, json_safe
from tunebench.store import ResultsStore

WRITE_ATTEMPTS = 3
RETRY_SECONDS = 2.0


class ResultNotRecorded(UserError):
    """A trained result the store could not take; its message says where it is kept."""


def record_outcome(
    store: ResultsStore, folder: Path, run: NewRun, outcome: dict[str, Any], owner
) -> None:
    """`store.finish(...)` with retries; on failure keep the outcome in a pending file and
    raise ResultNotRecorded."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            store.finish(run.run_id, owner=owner, **outcome)
            return
        except sqlite3.OperationalError as error:
            problem = error
            if attempt + 1 < WRITE_ATTEMPTS:
                time.sleep(RETRY_SECONDS)
    kept = _keep(folder, run, outcome)
    raise ResultNotRecorded(
        f"could not record run {run.run_id} in {store.path} ({problem}); its result is kept in "
        f"{kept} and the next `tunebench run` of this study records it"
    )


def _keep(folder: Path, run: NewRun, outcome: dict[str, Any]) -> Path:
    text = json.dumps(json_safe({"run": vars(run), "outcome": outcome}), allow_nan=False)
    for place in (folder / "pending", Path(tempfile.gettempdir()) / "tunebench-pending"):
        target = place / f"{run.run_id}.json"
        staging = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            place.mkdir(parents=True, exist_ok=True)
            staging.write_text(text)
            staging.rename(target)
            return target
        except OSError:
            staging.unlink(missing_ok=True)
    raise UserError(f"could not record run {run.run_id} anywhere (disk full?): {text[:200]}...")


def import_pending(store: ResultsStore, folder: Path, owner) -> int:
    """Record every kept outcome of this study's folder in its store; returns how many."""
    imported = 0
    for path in sorted((folder / "pending").glob("*.json")):
        kept = json.loads(path.read_text())
        run = NewRun(**kept["run"])
        claim = store.claim(run, owner)
        if claim == "claimed":
            store.finish(run.run_id, owner=owner, **kept["outcome"])
            imported += 1
        if claim in ("claimed", "completed"):  # held by a live process: keep it for later
            path.unlink()
    return imported
