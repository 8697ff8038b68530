"""All runs of a study as JSON or CSV, for other tools (the table is in `results.py`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from tunebench.results import method_labels
from tunebench.store import RunRecord, json_safe

_RUN_CSV_COLUMNS = (
    "run_id",
    "study",
    "status",
    "reason",
    "backbone",
    "task",
    "method",
    "seed",
    "started_at",
    "finished_at",
)


def records_to_dicts(records: Iterable[RunRecord]) -> list[dict[str, Any]]:
    """One JSON-ready dict per run; metrics, costs, config and provenance stay nested."""
    return [
        {
            "run_id": r.run_id,
            "study": r.study,
            "status": r.status,
            "reason": r.reason,
            "backbone": r.backbone,
            "task": r.task,
            "method": r.method,
            "seed": r.seed,
            "metrics": r.metrics,
            "costs": r.costs,
            "config": r.config,
            "provenance": r.provenance,
            "history": r.history,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
        }
        for r in records
    ]


def write_json(records: Iterable[RunRecord], stream: TextIO) -> None:
    """All runs as a JSON list (NaN/inf written as null, as in the store)."""
    json.dump(json_safe(records_to_dicts(records)), stream, indent=2, allow_nan=False)
    stream.write("\n")


def write_csv(records: Sequence[RunRecord], stream: TextIO) -> None:
    """One spreadsheet row per run.

    Metrics and costs become dotted columns (`metrics.test.accuracy`, `costs.train_seconds`);
    deeper values such as per-class reports are one JSON cell each. `label` is the method name
    plus what distinguishes its configs (as in the table), `config` one JSON cell; provenance
    is left out (the same for every run of a study; it is in the JSON output).
    """
    labels = method_labels(records)
    rows = []
    for r in records:
        row: dict[str, Any] = {name: getattr(r, name) for name in _RUN_CSV_COLUMNS}
        row["label"] = labels[r.run_id]
        row.update(_flatten("metrics", r.metrics, depth=2))
        row.update(_flatten("costs", r.costs, depth=1))
        row["config"] = json.dumps(json_safe(r.config))
        rows.append(row)
    columns = list(dict.fromkeys(name for row in rows for name in row))
    writer = csv.DictWriter(stream, fieldnames=columns or [*_RUN_CSV_COLUMNS, "label"])
    writer.writeheader()
    writer.writerows(rows)


def _flatten(prefix: str, value: Any, depth: int) -> dict[str, Any]:
    """`{prefix.key...: scalar}` down `depth` levels of dicts; anything deeper as a JSON string."""
    if isinstance(value, dict) and depth > 0:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(f"{prefix}.{key}", inner, depth - 1))
        return flat
    if isinstance(value, dict | list):
        return {prefix: json.dumps(json_safe(value))}
    return {prefix: value}
