"""How a tabular study's rows read: seed 000's Table 2 layout, language model / downstream model
/ pipeline (with its method), and per task the time of each training step beside the metric
(`step 1 + step 2` for two-step, as the seed paper writes "5.5h + 30min")."""

from __future__ import annotations

from tunebench.families.labels import RowLayout, differing_settings
from tunebench.families.tabular.cells import pipeline_label
from tunebench.records import RunRecord


def row_keys(records: list[RunRecord]) -> dict[str, tuple[str, ...]]:
    """run_id → (LM, downstream label, pipeline label). The labels name their settings that
    differ between runs that would otherwise share a row: `ft_transformer d_block=96`,
    `one_step (lora r=64) epochs=6`. Compared within each task, so that a task's own settings
    (a regression task selects on RMSE) never split a row across tasks."""
    downstream = differing_settings(
        records, lambda r: r.config["downstream"]["name"], _downstream_settings, _task
    )
    training = differing_settings(
        records,
        lambda r: (r.config["pipeline"], r.method),
        lambda r: dict(r.config.get("training") or {}),
        _task,
    )
    keys = {}
    for r in records:
        pipeline = pipeline_label(r.config["pipeline"], r.config.get("method"))
        keys[r.run_id] = (
            "—" if r.backbone == "none" else r.backbone,
            f"{r.config['downstream']['name']} {downstream[r.run_id]}".rstrip(),
            f"{pipeline} {training[r.run_id]}".rstrip(),
        )
    return keys


def _task(record: RunRecord) -> str:
    return record.task


def _downstream_settings(record: RunRecord) -> dict:
    model = {k: v for k, v in record.config["downstream"].items() if k != "name"}
    return {**model, **(record.config.get("downstream_training") or {})}


TABLE_2 = RowLayout(
    ("LM", "Downstream", "Pipeline"),
    row_keys,
    step_times=True,
    costs=("lm_trainable_params", "peak_host_mb"),
)
