"""Should a table's number be trusted? Two flags on every metric cell.

- **No better than trivial** (`∅`): the row's test score is not significantly better than the
  task's trivial baseline on the same test examples (the paired bootstrap of stats.py, p ≥
  0.05, or a mean that is not better at all). The baseline is the family's (`Family.baseline`):
  `constant` — the best constant prediction on the test split (its majority class for
  classification, its mean target for regression, no entities for token classification),
  computed from the run's own per-example values; `zero_shot` — the untrained model, i.e. the
  study's `frozen` row of the same backbone (causal-LM families, where `frozen` trains
  nothing). Without per-example values or a zero-shot row there is no flag.
- **May be undertrained** (`↗`): for at least one seed the best validation epoch was the last
  of two or more, so the score was still improving when training stopped.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from tunebench.families.registry import recorded_family
from tunebench.metrics import Metric
from tunebench.records import RunRecord
from tunebench.report.cells import Cell, Column, Row
from tunebench.report.stats import SIGNIFICANCE, paired_bootstrap_p

NO_BETTER_THAN_TRIVIAL = "∅"
MAY_BE_UNDERTRAINED = "↗"


def mark_trust(rows: list[Row], column: Column) -> None:
    """Set each cell's `trivial`, `no_better_than_trivial` and `undertrained` in `column`."""
    for row in rows:
        cell = row.cells[column.key]
        runs = row.by_column.get(column.key, [])
        cell.undertrained = sum(_still_improving(r) for r in runs)
        if cell.mean is None or not runs or column.definition is None:
            continue
        baseline = _baseline_examples(row, rows, column.key)
        if baseline is None:
            continue
        cell.trivial = _score(column.definition, baseline)
        if cell.trivial is None:  # the baseline runs lack the values this metric needs
            continue
        p = paired_bootstrap_p(column.definition, row.examples(column.key), baseline)
        not_better = not column.definition.better(cell.mean, cell.trivial)
        cell.no_better_than_trivial = not_better or (p is not None and p >= SIGNIFICANCE)


def _still_improving(run: RunRecord) -> bool:
    epochs = [h["epoch"] for h in run.history if isinstance(h, dict) and "validation" in h]
    best = run.costs.get("best_epoch")
    return len(set(epochs)) >= 2 and best is not None and best == max(epochs)


def _baseline_examples(row: Row, rows: list[Row], task: str) -> list[dict[str, list]] | None:
    """Per-example test values of the trivial baseline, one dict per baseline run."""
    runs = row.by_column[task]
    if recorded_family(runs[0]).baseline == "zero_shot":
        if all(r.method == "frozen" for r in runs):  # the baseline itself is never flagged
            return None
        zero_shot = [
            r
            for other in rows
            for r in other.by_column.get(task, [])
            if r.method == "frozen" and r.backbone == runs[0].backbone
        ]
        found = [r.metrics["test_examples"] for r in zero_shot if "test_examples" in r.metrics]
        return found or None
    examples = next(
        (r.metrics["test_examples"] for r in runs if "test_examples" in r.metrics), None
    )
    constant = constant_examples(examples) if examples else None
    return [constant] if constant else None


def constant_examples(examples: dict[str, list]) -> dict[str, list] | None:
    """What the best constant prediction scores on each of these test examples: the majority
    label, the mean target, or no entities; None for values of another kind."""
    if "label" in examples and "prediction" in examples:
        majority = Counter(examples["label"]).most_common(1)[0][0]
        return {"prediction": [majority] * len(examples["label"]), "label": examples["label"]}
    if "target" in examples and "error" in examples:
        target = np.asarray(examples["target"], dtype=np.float64)
        return {"error": (target.mean() - target).tolist(), "target": examples["target"]}
    if "entities_gold" in examples:
        nothing = [0] * len(examples["entities_gold"])
        return {**examples, "entities_right": nothing, "entities_predicted": nothing}
    return None


def _score(metric: Metric, runs: list[dict[str, list]]) -> float | None:
    """`metric` on the full test split of these runs (averaged), or None."""
    if metric.resample is None:
        return None
    values = []
    for examples in runs:
        arrays = {k: np.asarray(v)[None, :] for k, v in examples.items() if k != "row"}
        try:
            values.append(float(metric.resample(arrays)[0]))
        except KeyError:
            return None
    return float(np.mean(values))


def cell_marks(cell: Cell) -> str:
    """The flags as marks after a cell's number: ` ∅`, ` ↗`, both or none."""
    marks = [NO_BETTER_THAN_TRIVIAL] if cell.no_better_than_trivial else []
    marks += [MAY_BE_UNDERTRAINED] if cell.undertrained else []
    return "".join(f" {m}" for m in marks)
