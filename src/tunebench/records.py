"""What a stored run looks like: `RunRecord` (one row of the store, JSON decoded), `NewRun`
(what a process records when it claims a run), and how values become JSON the store keeps.

JSON columns (config, metrics, costs, provenance, history) are written with exact float
round-tripping. NaN and ±inf are not valid JSON, so they are stored as `null` and read back as
`None` (a diverged loss shows up as a missing value, never as a crash).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tunebench.training.config import with_added_defaults


def machine_name(provenance: dict[str, Any]) -> str | None:
    """The accelerator a run's costs were measured on: its GPU's name, else its CPU's (None
    for a record without either)."""
    return provenance.get("gpu_name") or provenance.get("cpu_model")


COLUMNS = (
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


@dataclass(frozen=True)
class NewRun:
    """A run as it is first recorded: who it is, its resolved config and its provenance."""

    run_id: str
    study: str
    backbone: str
    task: str
    method: str
    seed: int
    config: dict[str, Any]
    provenance: dict[str, Any]


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


def dumps(value: Any) -> str:
    return json.dumps(json_safe(value), allow_nan=False)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def record_from_row(row: tuple[Any, ...]) -> RunRecord:
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
