"""A tabular study's results in seed 000's Table 2 layout.

Rows are language model / downstream model / pipeline (with its method); per task, the test
metric (mean ± std over seeds, best in bold) and the time: the training seconds of each step,
`step 1 + step 2` for two-step as the seed paper writes "5.5h + 30min". The metric is the one
asked for where a task reports it, else the task's own: accuracy for classification, MSE for
regression (the seed paper's).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import TextIO

from rich.table import Table
from rich.text import Text

from tunebench.results import (
    best_flags,
    caption,
    differing_settings,
    human_count,
    lower_is_better,
    md_bold,
    md_escape,
    mean_std,
    number,
    seed_stats,
)
from tunebench.store import RunRecord
from tunebench.tabular.grid import pipeline_label

_PERCENT = ("accuracy", "f1", "auroc", "precision", "recall")


def is_tabular(records: Iterable[RunRecord]) -> bool:
    return any("pipeline" in r.config for r in records)


def task_metrics(records: list[RunRecord], requested: str | None) -> dict[str, str]:
    """task -> the metric its column shows."""
    chosen = {}
    for r in records:
        test = r.metrics.get("test", {})
        if r.task in chosen or not test:
            continue
        default = "mse" if "mse" in test else "accuracy"
        chosen[r.task] = requested if requested in test else default
    return chosen


def table_rows(records: Iterable[RunRecord], requested: str | None = None) -> list[dict]:
    """One dict per (LM, downstream, pipeline): per task `{mean, std, n, best, seconds}` where
    `seconds` is the mean training seconds of each step over seeds."""
    completed = [r for r in records if r.status == "completed"]
    metrics = task_metrics(completed, requested)
    labels = row_labels(completed)
    groups: dict[tuple[str, str, str], list[RunRecord]] = {}
    for r in completed:
        groups.setdefault((r.backbone, *labels[r.run_id]), []).append(r)
    rows = []
    for (backbone, downstream, pipeline), runs in groups.items():
        cells = {}
        for task, metric in metrics.items():
            mine = [r for r in runs if r.task == task]
            cell = seed_stats([r.metrics["test"].get(metric) for r in mine])
            steps = [r.costs.get("step_seconds") or [] for r in mine]
            cell["seconds"] = [statistics.fmean(s) for s in zip(*steps, strict=False)]
            cells[task] = cell
        rows.append(
            {
                "backbone": "—" if backbone == "none" else backbone,
                "downstream": downstream,
                "pipeline": pipeline,
                "tasks": cells,
                "lm_trainable": _mean([r.costs.get("lm_trainable_params") for r in runs]),
                "peak_host_mb": max((r.costs.get("peak_host_mb") or 0 for r in runs), default=0),
                "n": len({r.seed for r in runs}),
            }
        )
    for task, metric in metrics.items():
        cells = [row["tasks"][task] for row in rows]
        for cell, best in zip(
            cells, best_flags([c["mean"] for c in cells], lower_is_better(metric)), strict=True
        ):
            cell["best"] = best
    return rows


def row_labels(records: list[RunRecord]) -> dict[str, tuple[str, str]]:
    """run_id → (downstream label, pipeline label). Each names its settings that differ
    between runs that would otherwise share a row: `ft_transformer d_block=96`,
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
    labels = {}
    for r in records:
        pipeline = pipeline_label(r.config["pipeline"], r.config.get("method"))
        labels[r.run_id] = (
            f"{r.config['downstream']['name']} {downstream[r.run_id]}".rstrip(),
            f"{pipeline} {training[r.run_id]}".rstrip(),
        )
    return labels


def _task(record: RunRecord) -> str:
    return record.task


def _downstream_settings(record: RunRecord) -> dict:
    model = {k: v for k, v in record.config["downstream"].items() if k != "name"}
    return {**model, **(record.config.get("downstream_training") or {})}


def format_seconds(steps: list[float]) -> str:
    """[19800, 1800] -> '5.5 h + 30 min'."""
    return " + ".join(_duration(s) for s in steps) if steps else "—"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _headers(records: list[RunRecord], requested: str | None) -> list[tuple[str, str, bool]]:
    """(task, header text, percent) per task column."""
    out = []
    for task, metric in task_metrics(
        [r for r in records if r.status == "completed"], requested
    ).items():
        arrow = "↓" if lower_is_better(metric) else "↑"
        out.append((task, f"{task} {metric} {arrow}", any(w in metric for w in _PERCENT)))
    return out


def tabular_table(records: Iterable[RunRecord], requested: str | None = None) -> Table:
    records = list(records)
    rows = table_rows(records, requested)
    headers = _headers(records, requested)
    table = Table(caption=_caption(records), caption_justify="left")
    for name in ("LM", "Downstream", "Pipeline"):
        table.add_column(name, no_wrap=True)
    for _, header, _ in headers:
        table.add_column(header, justify="right")
        table.add_column("time", justify="right", no_wrap=True)
    for name in ("LM trainable", "peak RAM MB", "n"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        cells = []
        for task, _, percent in headers:
            cell = row["tasks"][task]
            cells.append(Text(mean_std(cell, percent), style="bold" if cell["best"] else ""))
            cells.append(Text(format_seconds(cell["seconds"])))
        table.add_row(
            Text(row["backbone"]),
            Text(row["downstream"]),
            Text(row["pipeline"]),
            *cells,
            Text(_trainable(row["lm_trainable"])),
            Text(number(row["peak_host_mb"], ".0f")),
            Text(str(row["n"])),
        )
    return table


def write_tabular_markdown(
    records: Iterable[RunRecord], stream: TextIO, requested: str | None = None
) -> None:
    records = list(records)
    rows = table_rows(records, requested)
    headers = _headers(records, requested)
    names = ["LM", "Downstream", "Pipeline"]
    for _, header, _ in headers:
        names += [header, "time"]
    names += ["LM trainable", "peak RAM MB", "n"]
    stream.write("| " + " | ".join(names) + " |\n")
    stream.write("|" + "|".join(["---"] * 3 + ["--:"] * (len(names) - 3)) + "|\n")
    for row in rows:
        cells = [
            md_escape(row["backbone"]),
            md_escape(row["downstream"]),
            md_escape(row["pipeline"]),
        ]
        for task, _, percent in headers:
            cell = row["tasks"][task]
            cells += [
                md_bold(mean_std(cell, percent), cell["best"]),
                format_seconds(cell["seconds"]),
            ]
        cells += [
            _trainable(row["lm_trainable"]),
            number(row["peak_host_mb"], ".0f"),
            str(row["n"]),
        ]
        stream.write("| " + " | ".join(cells) + " |\n")
    stream.write("\n" + _caption(records).replace("\n", "  \n") + "\n")


def _trainable(count: float | None) -> str:
    return "—" if count is None else human_count(count)


def _caption(records: list[RunRecord]) -> str:
    """The shared caption, with this layout's first line: what the cells and times mean."""
    lines = caption(records, {}).split("\n")[1:]
    first = (
        "test metric (accuracy-like ones in %), mean ± std over seeds, best in bold; time: "
        "training seconds of each step (two_step: step 1 + step 2), mean over seeds"
    )
    return "\n".join([first, *lines])
