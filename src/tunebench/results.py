"""Turning stored runs into the comparison table (exports are in `exports.py`).

`summary_rows` holds all the arithmetic (grouping, mean ± std over seeds, best per column) as
plain data, so every renderer (the rich table here, later Markdown/LaTeX/HTML reports) shows
the same numbers and only decides how they look.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TextIO

from rich.table import Table
from rich.text import Text

from tunebench.store import RunRecord
from tunebench.training.metrics import LOWER_IS_BETTER

_HIGHER_IS_PERCENT = ("accuracy", "f1", "auroc", "precision", "recall")


def method_labels(records: Iterable[RunRecord]) -> dict[str, str]:
    """run_id → method label: the method name, plus `key=value` for each field of
    `config["method"]` or `config["training"]` that differs between the runs of that method on
    one task (`lora r=8`, `full learning_rate=0.0001`), so that different settings never share
    a row."""
    records = list(records)
    # compared within each task: a family's defaults (generation selects by perplexity)
    # differ between tasks without telling one task's runs apart
    suffixes = differing_settings(records, lambda r: r.method, _method_config, lambda r: r.task)
    return {r.run_id: f"{r.method} {suffixes[r.run_id]}".rstrip() for r in records}


def differing_settings(
    records: list[RunRecord],
    group_of: Callable[[RunRecord], Hashable],
    settings_of: Callable[[RunRecord], dict[str, Any]],
    scope_of: Callable[[RunRecord], Hashable] = lambda r: None,
) -> dict[str, str]:
    """run_id → `key=value …` for the settings that tell its run apart from the other runs of
    its group ("" where none do): what a table row's label must show so that runs with
    different settings never share a row, and nothing more.

    Settings are compared within each scope (e.g. a task, whose own settings must not tell its
    runs apart from another task's); a key that differs in any scope is considered for the
    whole group. When one value of such a key is the usual one (held by more of the group's
    distinct settings than any other value, as the default rank of a LoRA rank sweep), rows
    with that value leave the key out: `lora`, `lora r=64`, `lora optimizer=sgd`. Labels stay
    unique, since a label lists exactly where a row departs from the usual values. Two
    settings alone have no usual value: both rows show the key (`lora r=8`, `lora r=16`)."""
    seen: dict[tuple[Hashable, Hashable], list[dict[str, Any]]] = {}
    for r in records:
        distinct = seen.setdefault((group_of(r), scope_of(r)), [])
        if settings_of(r) not in distinct:
            distinct.append(settings_of(r))
    differing: dict[Hashable, dict[str, None]] = {}
    for (group, _), settings in seen.items():
        keys = dict.fromkeys(key for one in settings for key in one)
        shown = differing.setdefault(group, {})
        shown.update(dict.fromkeys(k for k in keys if len({repr(s.get(k)) for s in settings}) > 1))
    variants: dict[Hashable, set[tuple[str, ...]]] = {}  # distinct values of the shown keys
    for (group, _), settings in seen.items():
        for one in settings:
            variants.setdefault(group, set()).add(tuple(repr(one.get(k)) for k in differing[group]))
    usual = {
        group: {
            key: _usual_value([variant[i] for variant in variants[group]])
            for i, key in enumerate(keys)
        }
        for group, keys in differing.items()
    }
    suffixes = {}
    for r in records:
        own, group = settings_of(r), group_of(r)
        shown = [
            f"{k}={_short(own[k])}"
            for k in differing[group]
            if k in own and repr(own[k]) != usual[group][k]
        ]
        suffixes[r.run_id] = " ".join(shown)
    return suffixes


def _usual_value(values: list[str]) -> str | None:
    """The value held strictly more often than any other, or None when there is no such one."""
    counts = Counter(values).most_common(2)
    if len(counts) == 2 and counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


def _method_config(record: RunRecord) -> dict[str, Any]:
    method = record.config.get("method")
    training = record.config.get("training")
    fields = dict(training) if isinstance(training, dict) else {}
    if isinstance(method, dict):
        fields.update({k: v for k, v in method.items() if k != "name"})
    return fields


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def lower_is_better(metric: str) -> bool:
    """Losses, errors and perplexity go down; accuracy, f1, auroc, r2 and the like go up."""
    return metric in LOWER_IS_BETTER or metric.endswith("loss") or metric == "perplexity"


DEFAULT_METRICS = {
    "classification": "accuracy",
    "generation": "perplexity",
    "multiple_choice": "accuracy",
    "preference": "reward_accuracy",
}


def task_metrics(records: Iterable[RunRecord], metric: str | None) -> dict[str, str]:
    """task -> the test metric its column shows: `metric` if given, else its family's default
    (accuracy; perplexity for generation; reward accuracy for preference)."""
    shown = {}
    for r in records:
        task = r.config.get("task", {}) if isinstance(r.config, dict) else {}
        family = task.get("family", "classification") if isinstance(task, dict) else ""
        shown.setdefault(r.task, metric or DEFAULT_METRICS.get(family, "accuracy"))
    return shown


def is_percent(metric: str) -> bool:
    return any(word in metric for word in _HIGHER_IS_PERCENT)


def summary_rows(records: Iterable[RunRecord], metric: str | None = None) -> list[dict[str, Any]]:
    """One dict per (backbone, method label) over completed runs, in order of first run.

    Each row: `backbone`, `method` (label), `tasks` {task: {mean, std, n, best}} for each
    task's test metric (`task_metrics`; std is the sample std over seeds, None below 2
    values), `train_seconds` (mean),
    `peak_host_mb` (max over runs: what a machine must have), `trainable_params` and
    `total_params` (means), `n` (distinct seeds), and `best_train_seconds`. `best` marks the
    best mean of a column when at least two rows have one; ties are all best.
    """
    records = list(records)
    labels = method_labels(records)
    completed = [r for r in records if r.status == "completed"]
    tasks = list(dict.fromkeys(r.task for r in completed))
    metrics = task_metrics(completed, metric)
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in completed:
        groups.setdefault((r.backbone, labels[r.run_id]), []).append(r)

    rows = []
    for (backbone, label), runs in groups.items():
        rows.append(
            {
                "backbone": backbone,
                "method": label,
                "tasks": {
                    task: seed_stats(
                        [_test_metric(r, metrics[task]) for r in runs if r.task == task]
                    )
                    for task in tasks
                },
                "train_seconds": _mean(_costs(runs, "train_seconds")),
                "peak_host_mb": max(_costs(runs, "peak_host_mb"), default=None),
                "trainable_params": _mean(_costs(runs, "trainable_params")),
                "total_params": _mean(_costs(runs, "total_params")),
                "n": len({r.seed for r in runs}),
            }
        )
    for task in tasks:
        cells = [row["tasks"][task] for row in rows]
        best = best_flags([cell["mean"] for cell in cells], lower_is_better(metrics[task]))
        for cell, is_best in zip(cells, best, strict=True):
            cell["best"] = is_best
    fastest = best_flags([row["train_seconds"] for row in rows], lower=True)
    for row, is_best in zip(rows, fastest, strict=True):
        row["best_train_seconds"] = is_best
    return rows


def _test_metric(record: RunRecord, metric: str) -> float | None:
    return record.metrics.get("test", {}).get(metric)


def _costs(runs: list[RunRecord], key: str) -> list[float]:
    return [r.costs[key] for r in runs if r.costs.get(key) is not None]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def seed_stats(values: list[float | None]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    return {
        "mean": _mean(present),
        "std": statistics.stdev(present) if len(present) >= 2 else None,
        "n": len(present),
        "best": False,
    }


def best_flags(values: list[float | None], lower: bool) -> list[bool]:
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return [False] * len(values)
    target = min(present) if lower else max(present)
    return [v == target for v in values]


def comparison_table(records: Iterable[RunRecord], metric: str | None = None) -> Table:
    """The rich rendering of `summary_rows`: best per column in bold, failures in the caption."""
    records = list(records)
    rows = summary_rows(records, metric)
    tasks = list(rows[0]["tasks"]) if rows else []
    metrics = task_metrics(records, metric)

    table = Table(caption=caption(records, metrics), caption_justify="left")
    table.add_column("Backbone", no_wrap=True)
    table.add_column("Method")
    for task in tasks:
        table.add_column(column_header(task, metrics[task]), justify="right")
    for header in ("train s", "peak RAM MB", "trainable", "n"):
        table.add_column(header, justify="right", no_wrap=True)

    for row in rows:
        metric_cells = [
            _cell(mean_std(row["tasks"][t], is_percent(metrics[t])), row["tasks"][t]["best"])
            for t in tasks
        ]
        table.add_row(
            Text(row["backbone"]),  # Text, not str: labels may hold `[...]`, which is markup
            Text(row["method"]),
            *metric_cells,
            _cell(number(row["train_seconds"], ".1f"), row["best_train_seconds"]),
            Text(number(row["peak_host_mb"], ".0f")),
            Text(_trainable(row["trainable_params"], row["total_params"])),
            Text(str(row["n"])),
        )
    return table


def column_header(task: str, metric: str) -> str:
    """`sms_spam accuracy ↑`: the task, its metric and which way is better."""
    return f"{task} {metric} {'↓' if lower_is_better(metric) else '↑'}"


def caption(records: list[RunRecord], metrics: dict[str, str]) -> str:
    shown = dict.fromkeys(metrics.values())
    percent = [m for m in shown if is_percent(m)]
    scale = f" ({', '.join(percent)} in %)" if percent else ""
    lines = [f"test metrics{scale}, mean ± std over seeds; best in bold"]
    failed = sum(r.status == "failed" for r in records)
    running = sum(r.status == "running" for r in records)
    if failed:
        lines.append(f"{failed} run{'s' if failed > 1 else ''} failed: see --format json")
    if running:
        lines.append(f"{running} run{'s' if running > 1 else ''} still running or interrupted")
    return "\n".join(lines)


def _cell(text: str, best: bool) -> Text:
    return Text(text, style="bold" if best else "")


def mean_std(stats: dict[str, Any], percent: bool) -> str:
    if stats["mean"] is None:
        return "—"
    scale, spec = (100, ".2f") if percent else (1, ".4f")
    text = format(stats["mean"] * scale, spec)
    if stats["std"] is not None:
        text += f" ± {format(stats['std'] * scale, spec)}"
    return text


def number(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _trainable(trainable: float | None, total: float | None) -> str:
    """`74.5K (1.68%)`: count of trainable parameters and their share of the model."""
    if trainable is None:
        return "—"
    text = human_count(trainable)
    if total:
        text += f" ({100 * trainable / total:.2f}%)"
    return text


def human_count(count: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= scale:
            return f"{count / scale:.1f}{suffix}"
    return f"{count:.0f}"


def write_markdown(records: Iterable[RunRecord], stream: TextIO, metric: str | None = None) -> None:
    """The comparison table as GitHub Markdown: best per column in bold, caption below."""
    records = list(records)
    rows = summary_rows(records, metric)
    tasks = list(rows[0]["tasks"]) if rows else []
    metrics = task_metrics(records, metric)
    headers = ["Backbone", "Method", *(column_header(t, metrics[t]) for t in tasks)]
    headers += ["train s", "peak RAM MB", "trainable", "n"]
    stream.write("| " + " | ".join(headers) + " |\n")
    stream.write("|" + "|".join(["---"] * 2 + ["--:"] * (len(headers) - 2)) + "|\n")
    for row in rows:
        cells = [md_escape(row["backbone"]), md_escape(row["method"])]
        for task in tasks:
            stats = row["tasks"][task]
            cells.append(md_bold(mean_std(stats, is_percent(metrics[task])), stats["best"]))
        cells.append(md_bold(number(row["train_seconds"], ".1f"), row["best_train_seconds"]))
        cells.append(number(row["peak_host_mb"], ".0f"))
        cells.append(_trainable(row["trainable_params"], row["total_params"]))
        cells.append(str(row["n"]))
        stream.write("| " + " | ".join(cells) + " |\n")
    stream.write("\n" + caption(records, metrics).replace("\n", "  \n") + "\n")


def md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def md_bold(text: str, best: bool) -> str:
    return f"**{text}**" if best else text
