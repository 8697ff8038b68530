"""All runs of a study as JSON, CSV or Parquet, for other tools (the table is in `table.py`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from tunebench.families.labels import method_labels
from tunebench.records import RunRecord, json_safe

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
    stream.write(readable_json(json_safe(records_to_dicts(records))) + "\n")


def readable_json(value: Any, depth: int = 0) -> str:
    """`value` as JSON indented by two spaces, as `json.dumps(indent=2)` writes it, but with
    each list of plain values on one line: a run's per-example test values (thousands of
    numbers, kept for the paired bootstrap) take one line instead of one line each."""
    inner, outer = "  " * (depth + 1), "  " * depth
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {readable_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{outer}}}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        items = [f"{inner}{readable_json(v, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{outer}]"
    return json.dumps(value, allow_nan=False)


def flat_rows(records: Sequence[RunRecord]) -> tuple[list[dict[str, Any]], list[str]]:
    """One flat dict per run and the union of their columns, in first-seen order.

    Metrics and costs become dotted columns (`metrics.test.accuracy`, `costs.train_seconds`);
    deeper values such as per-class reports are one JSON cell each. `label` is the method name
    plus what distinguishes its configs (as in the table), `config` one JSON cell. Provenance
    (the same for every run of a study) and the per-example test values (large) are left out:
    both are in the JSON output.
    """
    labels = method_labels(records)
    rows = []
    for r in records:
        row: dict[str, Any] = {name: getattr(r, name) for name in _RUN_CSV_COLUMNS}
        row["label"] = labels[r.run_id]
        metrics = {k: v for k, v in r.metrics.items() if k != "test_examples"}
        row.update(_flatten("metrics", metrics, depth=2))
        row.update(_flatten("costs", r.costs, depth=1))
        row["config"] = json.dumps(json_safe(r.config))
        rows.append(row)
    columns = list(dict.fromkeys(name for row in rows for name in row))
    return rows, columns or [*_RUN_CSV_COLUMNS, "label"]


def write_csv(records: Sequence[RunRecord], stream: TextIO) -> None:
    """One spreadsheet row per run (`flat_rows`)."""
    rows, columns = flat_rows(records)
    writer = csv.DictWriter(stream, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)


def write_parquet(records: Sequence[RunRecord], path: Path) -> None:
    """The CSV's rows and columns as a Parquet file (numbers stay numbers)."""
    rows, columns = flat_rows(records)
    frame = pd.DataFrame(rows, columns=columns)
    for column in frame.columns:  # a column mixing numbers and text would not convert
        if frame[column].map(lambda v: isinstance(v, str)).any():
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    frame.to_parquet(path, index=False)


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
