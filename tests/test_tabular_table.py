"""The Table 2 layout groups runs into rows without ever merging different settings."""

from typing import Any

from tunebench.families.tabular.layout import row_keys
from tunebench.records import RunRecord
from tunebench.report.table import build_table

LORA = {"name": "lora", "r": 64, "alpha": 128}


def record(
    run_id: str,
    pipeline: str,
    task: str = "rating",
    seed: int = 0,
    mse: float = 1.0,
    method: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    downstream: dict[str, Any] | None = None,
) -> RunRecord:
    method = method or ({"name": "frozen"} if pipeline == "frozen" else LORA)
    return RunRecord(
        run_id=run_id,
        study="t",
        status="completed",
        reason=None,
        backbone="minilm-l6",
        task=task,
        method=method["name"],
        seed=seed,
        config={
            "task": {"name": task, "path": "t.csv", "target": "y", "problem": "regression"},
            "pipeline": pipeline,
            "method": method,
            "training": {"epochs": 2, "selection_metric": "rmse", **(training or {})},
            "downstream": downstream or {"name": "mlp", "d_block": 384},
            "downstream_training": {"max_epochs": 100},
        },
        metrics={"test": {"mse": mse, "rmse": mse**0.5}},
        costs={"step_seconds": [10.0], "peak_host_mb": 900.0},
        provenance={},
        history=[],
        started_at="",
        finished_at="",
    )


def test_runs_differing_only_in_training_get_their_own_rows():
    runs = [
        record("a0", "one_step", seed=0, mse=0.9),
        record("a1", "one_step", seed=1, mse=0.8),
        record("b0", "one_step", training={"epochs": 6}, mse=0.7),
        record("f0", "frozen", mse=1.1),
    ]
    labels = {run_id: keys[1:] for run_id, keys in row_keys(runs).items()}
    assert labels["a0"] == labels["a1"] == ("mlp", "one_step (lora r=64 alpha=128) epochs=2")
    assert labels["b0"] == ("mlp", "one_step (lora r=64 alpha=128) epochs=6")
    assert labels["f0"] == ("mlp", "frozen")  # nothing differs among frozen runs
    table = build_table(runs)
    assert table.key_headers == ["LM", "Downstream", "Pipeline"] and table.timed
    rows = {row.keys[2]: row for row in table.rows}
    assert rows["one_step (lora r=64 alpha=128) epochs=2"].cells["rating"].n == 2
    assert rows["one_step (lora r=64 alpha=128) epochs=6"].cells["rating"].rank == 1
    assert table.tasks[0].metric == "mse"  # seed 000's metric for regression


def test_downstream_settings_split_rows_but_a_tasks_own_settings_do_not():
    small = {"name": "ft_transformer", "d_block": 96}
    large = {"name": "ft_transformer", "d_block": 192}
    runs = [
        record("s", "frozen", downstream=small),
        record("l", "frozen", downstream=large),
        # the same cell on a classification task, selected by accuracy: still the same row
        record(
            "c",
            "frozen",
            task="recommend",
            downstream=small,
            training={"selection_metric": "accuracy"},
        ),
    ]
    labels = {run_id: keys[1:] for run_id, keys in row_keys(runs).items()}
    assert labels["s"] == ("ft_transformer d_block=96", "frozen")
    assert labels["l"] == ("ft_transformer d_block=192", "frozen")
    assert labels["c"] == labels["s"]
    rows = build_table(runs).rows
    assert len(rows) == 2
    assert set(rows[0].cells) == {"rating", "recommend"}
