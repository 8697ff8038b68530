"""How a table names its rows: the settings that tell one run's row apart from another's.

A family's `RowLayout` gives the key columns of its rows (`Backbone`, `Method` for most; `LM`,
`Downstream`, `Pipeline` for tabular studies) and the label of each run in them; runs with the
same labels share a row (their seeds are averaged). A label shows exactly where a run's settings
depart from the usual ones among its group: `lora`, `lora r=64`, `full learning_rate=0.0001`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from tunebench.records import RunRecord

RowKeys = Callable[[list[RunRecord]], dict[str, tuple[str, ...]]]
"""records -> run_id -> the row's key cells"""


@dataclass(frozen=True)
class RowLayout:
    headers: tuple[str, ...]
    keys: RowKeys
    step_times: bool = False
    """Each task also gets a column with the training seconds of each step (seed 000's table
    writes two-step's time as "5.5 h + 30 min")."""
    costs: tuple[str, ...] = ("train_seconds", "peak_host_mb", "trainable_params", "checkpoint_mb")
    """The cost columns, by their names in a run's costs."""


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


RUN_FIELDS = frozenset({"backbone", "task", "method", "seed", "training", "trust_remote_code"})
"""A recorded config's own keys (study/spec.py's RunSpec); any other key is a family's setting
of the run, recorded beside them."""


def _method_config(record: RunRecord) -> dict[str, Any]:
    """The method's settings, its training settings and the family's own settings of the run
    (a visual_qa run's `connector`)."""
    method = record.config.get("method")
    training = record.config.get("training")
    fields = dict(training) if isinstance(training, dict) else {}
    fields.update({k: v for k, v in record.config.items() if k not in RUN_FIELDS})
    if isinstance(method, dict):
        fields.update({k: v for k, v in method.items() if k != "name"})
    return fields


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def method_row_keys(records: list[RunRecord]) -> dict[str, tuple[str, ...]]:
    """(backbone, method label) per run."""
    labels = method_labels(records)
    return {r.run_id: (r.backbone, labels[r.run_id]) for r in records}


METHOD_ROWS = RowLayout(("Backbone", "Method"), method_row_keys)
