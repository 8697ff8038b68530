"""Exports and the comparison table show the right numbers for the right runs."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from rich.console import Console

from tunebench.exports import records_to_dicts, write_csv, write_json
from tunebench.results import comparison_table, method_labels, summary_rows
from tunebench.store import RunRecord


def _record(
    run_id: str,
    method: dict[str, Any],
    seed: int = 0,
    accuracy: float = 0.9,
    loss: float = 0.3,
    train_seconds: float = 10.0,
    status: str = "completed",
    task: str = "sst2",
) -> RunRecord:
    completed = status == "completed"
    return RunRecord(
        run_id=run_id,
        study="demo",
        status=status,
        reason=None if completed else "diverged",
        backbone="bert-tiny",
        task=task,
        method=method["name"],
        seed=seed,
        config={"method": method, "training": {"lr": 1e-4}},
        metrics={
            "test": {
                "accuracy": accuracy,
                "loss": loss,
                "per_class": {"neg": {"f1": 0.8}, "pos": {"f1": 0.9}},
            },
            "validation": {"accuracy": accuracy - 0.01},
        }
        if completed
        else {},
        costs={
            "train_seconds": train_seconds,
            "peak_host_mb": 800.0 + seed,
            "trainable_params": 74_500,
            "total_params": 4_400_000,
        }
        if completed
        else {},
        provenance={"hostname": "box"},
        history=[{"step": 1, "loss": 0.7}],
        started_at=f"2025-01-01T00:00:{seed:02d}+00:00",
        finished_at="2025-01-01T01:00:00+00:00",
    )


FULL = {"name": "full"}
LORA8 = {"name": "lora", "r": 8, "alpha": 16, "dropout": 0.1}
LORA16 = {"name": "lora", "r": 16, "alpha": 16, "dropout": 0.1}

RECORDS = [
    *(_record(f"full-{s}", FULL, s, acc, 0.30, 20.0) for s, acc in enumerate((0.90, 0.92, 0.94))),
    *(_record(f"lora8-{s}", LORA8, s, acc, 0.20, 8.0) for s, acc in enumerate((0.95, 0.97))),
    _record("lora16-0", LORA16, 0, 0.91, 0.25, 9.0),
    _record("lora16-1", LORA16, 1, 0.0, 9.9, 1.0, status="failed"),
]


def _rows_by_method(metric: str = "accuracy") -> dict[str, dict[str, Any]]:
    return {row["method"]: row for row in summary_rows(RECORDS, metric)}


def test_json_has_the_documented_keys() -> None:
    stream = io.StringIO()
    write_json(RECORDS, stream)
    runs = json.loads(stream.getvalue())
    assert len(runs) == len(RECORDS)
    required = {"run_id", "status", "reason", "backbone", "task", "method", "seed", "metrics"}
    required |= {"costs", "config", "provenance", "started_at", "finished_at"}
    assert required <= set(runs[0])
    assert runs[0]["metrics"]["test"]["accuracy"] == 0.90
    assert runs[0]["costs"]["train_seconds"] == 20.0
    assert records_to_dicts(RECORDS)[-1]["reason"] == "diverged"


def test_csv_has_dotted_columns() -> None:
    stream = io.StringIO()
    write_csv(RECORDS, stream)
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert len(rows) == len(RECORDS)
    first = rows[0]
    assert float(first["metrics.test.accuracy"]) == 0.90
    assert float(first["metrics.validation.accuracy"]) == pytest.approx(0.89)
    assert float(first["costs.train_seconds"]) == 20.0
    assert json.loads(first["metrics.test.per_class"]) == {"neg": {"f1": 0.8}, "pos": {"f1": 0.9}}
    assert json.loads(first["config"])["method"] == FULL
    assert rows[3]["label"] == "lora r=8"
    assert rows[-1]["status"] == "failed"
    assert rows[-1]["metrics.test.accuracy"] == ""  # failed runs have no metrics


def test_method_labels_distinguish_configs_of_one_method() -> None:
    labels = method_labels(RECORDS)
    assert labels["full-0"] == "full"
    assert labels["lora8-0"] == "lora r=8"
    assert labels["lora16-0"] == "lora r=16"


def test_mean_and_std_over_three_seeds() -> None:
    full = _rows_by_method()["full"]
    stats = full["tasks"]["sst2"]
    assert stats["mean"] == pytest.approx(0.92)
    assert stats["std"] == pytest.approx(0.02)  # sample std of .90, .92, .94
    assert stats["n"] == full["n"] == 3
    assert full["train_seconds"] == pytest.approx(20.0)
    assert full["peak_host_mb"] == 802.0  # the largest peak
    assert full["trainable_params"] == 74_500


def test_failed_runs_are_left_out_of_means_and_counted() -> None:
    lora16 = _rows_by_method()["lora r=16"]
    assert lora16["tasks"]["sst2"] == {"mean": 0.91, "std": None, "n": 1, "best": False}
    assert lora16["train_seconds"] == 9.0  # not pulled down by the failed 1.0 s run
    console = Console(file=io.StringIO(), width=200)
    console.print(comparison_table(RECORDS))
    assert "1 run failed: see --format json" in console.file.getvalue()


def test_best_is_highest_accuracy_and_lowest_loss_and_time() -> None:
    by_accuracy = _rows_by_method("accuracy")
    assert [m for m, row in by_accuracy.items() if row["tasks"]["sst2"]["best"]] == ["lora r=8"]
    assert [m for m, row in by_accuracy.items() if row["best_train_seconds"]] == ["lora r=8"]
    by_loss = _rows_by_method("loss")
    assert [m for m, row in by_loss.items() if row["tasks"]["sst2"]["best"]] == ["lora r=8"]
    by_loss_mean = {m: row["tasks"]["sst2"]["mean"] for m, row in by_loss.items()}
    assert by_loss_mean == pytest.approx({"full": 0.30, "lora r=8": 0.20, "lora r=16": 0.25})


def test_rendered_table_shows_formatted_cells_and_bold_best() -> None:
    table = comparison_table(RECORDS)
    console = Console(file=io.StringIO(), width=200)
    console.print(table)
    text = console.file.getvalue()
    for cell in ("sst2 accuracy ↑", "train s", "peak RAM MB", "trainable", "92.00 ± 2.00"):
        assert cell in text
    assert "96.00 ± 1.41" in text  # lora r=8 over two seeds
    assert "74.5K (1.69%)" in text
    headers = [column.header for column in table.columns]
    assert headers == [
        "Backbone",
        "Method",
        "sst2 accuracy ↑",
        "train s",
        "peak RAM MB",
        "trainable",
        "n",
    ]
    methods = [str(cell) for cell in table.columns[1].cells]
    assert methods == ["full", "lora r=8", "lora r=16"]
    accuracy_styles = [cell.style for cell in table.columns[2].cells]
    assert accuracy_styles == ["", "bold", ""]
    assert [str(cell) for cell in table.columns[2].cells][2] == "91.00"  # one seed: no ± std
    assert [cell.style for cell in table.columns[3].cells] == ["", "bold", ""]


def test_loss_is_shown_as_a_plain_number() -> None:
    table = comparison_table(RECORDS, metric="loss")
    cells = [str(cell) for cell in table.columns[2].cells]
    assert cells == ["0.3000 ± 0.0000", "0.2000 ± 0.0000", "0.2500"]


def test_one_column_per_task_and_a_dash_where_a_method_has_no_runs() -> None:
    records = [*RECORDS, _record("full-mnli", FULL, 0, 0.80, task="mnli")]
    table = comparison_table(records)
    assert [column.header for column in table.columns][2:4] == [
        "sst2 accuracy ↑",
        "mnli accuracy ↑",
    ]
    assert [str(cell) for cell in table.columns[3].cells] == ["80.00", "—", "—"]
    assert [cell.style for cell in table.columns[3].cells] == ["", "", ""]  # nothing to beat


def test_a_sweep_labels_each_row_by_where_it_departs_from_the_usual_settings() -> None:
    sweep = [
        {**LORA8, "r": 1},
        {**LORA8, "r": 64},
        LORA8,
        {**LORA8, "target_modules": ["q_proj", "k_proj"]},
        {**LORA8, "dropout": 0.0},
    ]
    records = [_record(f"run{i}", m) for i, m in enumerate(sweep)]
    labels = method_labels(records)
    assert [labels[f"run{i}"] for i in range(5)] == [
        "lora r=1",
        "lora r=64",
        "lora",
        "lora target_modules=['q_proj', 'k_proj']",
        "lora dropout=0",
    ]
    assert len(set(labels.values())) == len(sweep)
