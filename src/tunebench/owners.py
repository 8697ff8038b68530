"""Who holds a run: the process that claimed it in the results store, and whether it still lives.

A `running` row names its owner — host, process id, the process's start time and a random
token — and carries a heartbeat that the owner refreshes while it trains. Another process may
take the run over only when the owner is gone: on the same host, when no process with that id
and start time exists; on another host (a shared folder, a Slurm array), when the heartbeat is
older than `STALE_SECONDS`.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import psutil

HEARTBEAT_SECONDS = 10.0
"""How often an owner refreshes its heartbeat while a run trains."""
STALE_SECONDS = 120.0
"""A heartbeat older than this, from another host, means its owner is gone."""


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: float
    """The process's start time (seconds since the epoch), so a reused pid is not taken for it."""
    token: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Owner | None:
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError):
            return None

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"


_THIS: Owner | None = None


def this_process() -> Owner:
    """This process as an owner (one token per process)."""
    global _THIS
    if _THIS is None or _THIS.pid != os.getpid():  # a forked child is another owner
        me = psutil.Process()
        _THIS = Owner(socket.gethostname(), me.pid, me.create_time(), uuid.uuid4().hex)
    return _THIS


def is_alive(owner: Owner | None, heartbeat_at: str | None, now: datetime | None = None) -> bool:
    """Whether the owner of a `running` row may still be training it."""
    if owner is None:
        return False  # recorded by a version without owners, or a broken record: take it
    if owner.host == socket.gethostname():
        try:
            process = psutil.Process(owner.pid)
            return (
                abs(process.create_time() - owner.started) < 1.0
                and process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False
    if heartbeat_at is None:
        return False
    beat = datetime.fromisoformat(heartbeat_at)
    return ((now or datetime.now(UTC)) - beat).total_seconds() < STALE_SECONDS
