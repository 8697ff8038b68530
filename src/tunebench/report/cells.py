"""The pieces of a results table: a metric or cost `Cell`, a `Column` (a task's metric or a
cost), a `Row` (the runs sharing a row label) and the cost columns a table may show."""

from __future__ import annotations

from dataclasses import dataclass, field

from tunebench.metrics import Metric
from tunebench.records import RunRecord
from tunebench.report.stats import SIGNIFICANCE


@dataclass
class Cell:
    mean: float | None
    std: float | None
    n: int
    rank: int | None = None
    p: float | None = None
    """Paired bootstrap p-value against the column's best row (None: the best, or no test)."""
    seconds: list[float] = field(default_factory=list)
    """Layouts with step times: mean training seconds of each step."""
    share: float | None = None
    """Trainable parameters: their share of the model's parameters."""
    trivial: float | None = None
    """The task's trivial baseline on the same test examples (trust.py), when known."""
    no_better_than_trivial: bool = False
    undertrained: int = 0
    """How many of the cell's runs were still improving at their last epoch."""

    @property
    def tied_with_best(self) -> bool:
        """Not significantly worse than the best row (p >= 0.05)."""
        return self.rank != 1 and self.p is not None and self.p >= SIGNIFICANCE


@dataclass(frozen=True)
class Column:
    key: str
    """A task's column (its name, plus the task settings that tell it apart from another
    column of the same task: `sms_spam max_train_samples=1000`), or a cost's key in `costs`."""
    header: str
    lower_is_better: bool
    percent: bool = False
    metric: str = ""
    definition: Metric | None = None


def test_value(run: RunRecord, column: Column) -> float | None:
    """The run's test value of a task column's metric, in % where the table shows %."""
    value = run.metrics.get("test", {}).get(column.metric)
    return None if value is None else value * (100 if column.percent else 1)


COSTS = {
    "train_seconds": Column("train_seconds", "train time", True),
    "peak_host_mb": Column("peak_host_mb", "peak RAM MB", True),
    "trainable_params": Column("trainable_params", "trainable params", True),
    "lm_trainable_params": Column("lm_trainable_params", "LM trainable", True),
    "checkpoint_mb": Column("checkpoint_mb", "checkpoint MB", True),
}


@dataclass
class Row:
    keys: list[str]
    cells: dict[str, Cell]
    """task column -> its metric's cell"""
    costs: dict[str, Cell]
    """cost key -> mean over the row's runs (peak RAM: max)"""
    runs: list[RunRecord]
    n: int
    by_column: dict[str, list[RunRecord]] = field(default_factory=dict)
    """task column -> the row's runs in it"""

    def examples(self, task: str) -> list[dict[str, list]]:
        """Per-example test values of the row's runs in a task column (those that stored them)."""
        return [
            r.metrics["test_examples"] for r in self.by_column[task] if "test_examples" in r.metrics
        ]

    def same_test_set(self, other: Row, task: str) -> bool:
        """Runs are paired only if they were scored on the same examples: same task settings
        and the same data."""

        def identity(row: Row) -> set[str]:
            return {
                repr((r.config.get("task"), r.provenance.get("data_sha256")))
                for r in row.by_column[task]
            }

        return len(identity(self) | identity(other)) == 1
