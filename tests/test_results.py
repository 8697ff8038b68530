"""Exports and the comparison table show the right numbers for the right runs."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from rich.console import Console

from tunebench.errors import UserError
from tunebench.families.labels import method_labels
from tunebench.records import RunRecord
from tunebench.report.exports import readable_json, records_to_dicts, write_csv, write_json
from tunebench.report.markdown import render_markdown
from tunebench.report.table import build_table, build_tables
from tunebench.report.terminal import render_terminal
from tunebench.report.text import caption_lines


def _record(
    run_id: str,
    method: dict[str, Any],
    seed: int = 0,
    accuracy: float = 0.9,
    loss: float = 0.3,
    train_seconds: float = 10.0,
    status: str = "completed",
    task: str = "sst2",
    family: str | None = None,
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
        config={
            "method": method,
            "training": {"lr": 1e-4},
            **({"task": {"name": task, "family": family}} if family else {}),
        },
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


def _records(family: str | None = None) -> list[RunRecord]:
    return [
        *(
            _record(f"full-{s}", FULL, s, acc, 0.30, 20.0, family=family)
            for s, acc in enumerate((0.90, 0.92, 0.94))
        ),
        *(
            _record(f"lora8-{s}", LORA8, s, acc, 0.20, 8.0, family=family)
            for s, acc in enumerate((0.95, 0.97))
        ),
        _record("lora16-0", LORA16, 0, 0.91, 0.25, 9.0, family=family),
        _record("lora16-1", LORA16, 1, 0.0, 9.9, 1.0, status="failed", family=family),
    ]


RECORDS = _records()
GENERATIVE = _records("generation")  # the same numbers, on a family whose `loss` goes down


def _rows_by_method(metric: str = "accuracy", records=RECORDS) -> dict[str, Any]:
    return {row.keys[1]: row for row in build_table(records, metric).rows}


def _rendered(records: list[RunRecord], metric: str | None = None):
    table = render_terminal(build_table(records, metric))
    console = Console(file=io.StringIO(), width=200)
    console.print(table)
    return table, console.file.getvalue()


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
    cell = full.cells["sst2"]
    assert cell.mean == pytest.approx(0.92)
    assert cell.std == pytest.approx(0.02)  # sample std of .90, .92, .94
    assert cell.n == full.n == 3
    assert full.costs["train_seconds"].mean == pytest.approx(20.0)
    assert full.costs["peak_host_mb"].mean == 802.0  # the largest peak
    assert full.costs["trainable_params"].mean == 74_500
    assert full.costs["trainable_params"].share == pytest.approx(74_500 / 4_400_000)


def test_failed_runs_are_left_out_of_means_and_counted() -> None:
    lora16 = _rows_by_method()["lora r=16"]
    cell = lora16.cells["sst2"]
    assert (cell.mean, cell.std, cell.n) == (0.91, None, 1)
    assert lora16.costs["train_seconds"].mean == 9.0  # not pulled down by the failed 1.0 s run
    assert "1 run(s) failed: see runs.json" in _rendered(RECORDS)[1]


def test_best_is_highest_accuracy_and_lowest_loss_and_time() -> None:
    by_accuracy = _rows_by_method("accuracy")
    assert [m for m, row in by_accuracy.items() if row.cells["sst2"].rank == 1] == ["lora r=8"]
    assert [m for m, row in by_accuracy.items() if row.costs["train_seconds"].rank == 1] == [
        "lora r=8"
    ]
    by_loss = _rows_by_method("loss", GENERATIVE)
    assert [m for m, row in by_loss.items() if row.cells["sst2"].rank == 1] == ["lora r=8"]
    by_loss_mean = {m: row.cells["sst2"].mean for m, row in by_loss.items()}
    assert by_loss_mean == pytest.approx({"full": 0.30, "lora r=8": 0.20, "lora r=16": 0.25})


def test_rendered_table_shows_formatted_cells_best_bold_and_second_underlined() -> None:
    table, text = _rendered(RECORDS)
    for cell in ("sst2 accuracy ↑", "train time ↓", "peak RAM MB ↓", "92.00 ± 2.00"):
        assert cell in text
    assert "96.00 ± 1.41" in text  # lora r=8 over two seeds
    assert "74.5K (1.69%)" in text
    headers = [column.header for column in table.columns]
    assert headers == [
        "Backbone",
        "Method",
        "sst2 accuracy ↑",
        "train time ↓",
        "peak RAM MB ↓",
        "trainable params ↓",
        "n",
    ]
    methods = [str(cell) for cell in table.columns[1].cells]
    assert methods == ["full", "lora r=8", "lora r=16"]
    accuracy_styles = [cell.style for cell in table.columns[2].cells]
    assert accuracy_styles == ["underline", "bold", ""]
    assert [str(cell) for cell in table.columns[2].cells][2] == "91.00"  # one seed: no ± std
    assert [cell.style for cell in table.columns[3].cells] == ["", "bold", "underline"]


def test_the_terminal_and_markdown_tables_show_the_same_numbers() -> None:
    table = build_table(RECORDS)
    markdown = render_markdown(table)
    _, text = _rendered(RECORDS)
    for cell in ("92.00 ± 2.00", "96.00 ± 1.41", "91.00", "74.5K (1.69%)", "20.0 s", "802"):
        assert cell in markdown and cell in text


def test_loss_is_shown_as_a_plain_number() -> None:
    table, _ = _rendered(GENERATIVE, metric="loss")
    cells = [str(cell) for cell in table.columns[2].cells]
    assert cells == ["0.3000 ± 0.0000", "0.2000 ± 0.0000", "0.2500"]


def test_a_metric_no_run_reports_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="no run of this study reports 'rouge1'"):
        build_tables(RECORDS, "rouge1")


def test_one_column_per_task_and_a_dash_where_a_method_has_no_runs() -> None:
    records = [*RECORDS, _record("full-mnli", FULL, 0, 0.80, task="mnli")]
    table, _ = _rendered(records)
    assert [column.header for column in table.columns][2:4] == [
        "sst2 accuracy ↑",
        "mnli accuracy ↑",
    ]
    assert [str(cell) for cell in table.columns[3].cells] == ["80.00", "—", "—"]
    assert [cell.style for cell in table.columns[3].cells] == ["", "", ""]  # nothing to beat


def test_runs_of_one_task_on_different_data_get_their_own_columns_not_one_mean() -> None:
    """A study re-run with more training data keeps its earlier runs in the store: averaging
    the two as if they were seeds showed `92.62 ± 7.25` for runs scoring 87.50 and 97.75."""
    small, large = (
        _record(f"lora-{n}", LORA8, 0, acc) for n, acc in ((300, 0.875), (1000, 0.9775))
    )
    for record, n in ((small, 300), (large, 1000)):
        record.config["task"] = {"name": "sst2", "max_train_samples": n}
    table = build_table([small, large])
    assert [column.key for column in table.tasks] == [
        "sst2 max_train_samples=300",
        "sst2 max_train_samples=1000",
    ]
    (row,) = table.rows
    assert [(cell.mean, cell.std, cell.n) for cell in row.cells.values()] == [
        (0.875, None, 1),
        (0.9775, None, 1),
    ]
    headers = [column.header for column in render_terminal(table).columns[2:4]]
    assert headers == [  # a setting per line: a narrow column folds it, never cuts it off
        "sst2\nmax_train_samples=300\naccuracy ↑",
        "sst2\nmax_train_samples=1000\naccuracy ↑",
    ]


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


def test_a_data_size_column_of_the_whole_split_reads_all_not_none() -> None:
    runs = [_record(f"lora-{n}", LORA8, 0, 0.9) for n in (300, None)]
    for record, n in zip(runs, (300, None), strict=True):
        record.config["task"] = {"name": "sst2", "max_train_samples": n}
    assert [column.key for column in build_table(runs).tasks] == [
        "sst2 max_train_samples=300",
        "sst2 max_train_samples=all",
    ]


def test_the_caption_counts_cpu_runs_that_shared_the_machine() -> None:
    runs = [_record(f"r{i}", LORA8, i) for i in range(3)]
    shares = [(9.0, 10.0, 2), (4.0, 10.0, 2), (None, 10.0, None)]  # 0.9, 0.4 core, not recorded
    for record, (cpu, wall, threads) in zip(runs, shares, strict=True):
        record.costs.update(cpu_seconds=cpu, wall_seconds=wall, cpu_threads=threads)
        record.costs["peak_gpu_mb"] = None
    lines = caption_lines(build_table(runs))
    assert any(line.startswith("1 CPU run(s) had less than half of one core") for line in lines)
    runs[1].costs["peak_gpu_mb"] = 900.0  # on a GPU the CPU waits: not a sign of a busy machine
    assert not any("half of one core" in line for line in caption_lines(build_table(runs)))


def test_json_keeps_plain_lists_on_one_line() -> None:
    nested = {"a": [{"b": [1, 0.5, None, "x"]}, []], "c": {}, "d": {"e": True}}
    text = readable_json(nested)
    assert json.loads(text) == nested
    assert '"b": [1, 0.5, null, "x"]' in text.splitlines()[3]
    plain = {"a": [{"b": 1}], "c": {"d": "e"}}
    assert readable_json(plain) == json.dumps(plain, indent=2)


def test_the_caption_names_the_machines_of_a_study_resumed_elsewhere() -> None:
    runs = [_record(f"r{i}", LORA8, i) for i in range(3)] + [_record("full", FULL)]
    for record, cpu in zip(runs, ("Xeon", "EPYC", "EPYC", "EPYC"), strict=True):
        record.provenance.update(cpu_model=cpu, gpu_name=None)
    lines = [line for line in caption_lines(build_table(runs)) if "machines" in line]
    assert lines == [
        "Runs from 2 machines (EPYC: 3, Xeon: 1 runs); 1 row(s) mix them. Times compare only "
        "between runs on one machine (each run's machine: runs.json, provenance)."
    ]
    runs[0].provenance["cpu_model"] = "EPYC"
    assert not any("machines" in line for line in caption_lines(build_table(runs)))
