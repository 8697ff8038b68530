"""What a study says about a table: a built-in tabular task by name, or a user's own file with
the role of each column (numeric, categorical, text, target)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, PositiveInt, model_validator

from tunebench.tabular.data import Problem, Roles
from tunebench.tabular.preprocess import NumericTransform
from tunebench.tasks.config import changed_fields

_ROLE_FIELDS = ("numeric", "categorical", "text", "target", "problem")


class TabularTaskConfig(BaseModel):
    """A tabular task: `name` alone for a built-in (its roles are fixed), or `name` plus `path`,
    `target`, `problem` and at least one feature column for a CSV / JSONL / Parquet file.

    `numeric_transform` scales numeric features after imputation: "quantile" (default, as in the
    FT-Transformer paper) or "standard". `max_train_samples` / `max_eval_samples` take stratified
    subsets as for text tasks (train seeded by `data_seed`, validation and test by a fixed seed).
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    path: Path | None = None
    numeric: list[str] = []
    categorical: list[str] = []
    text: list[str] = []
    target: str | None = None
    problem: Problem | None = None
    numeric_transform: NumericTransform = "quantile"
    max_train_samples: PositiveInt | None = None
    max_eval_samples: PositiveInt | None = None
    data_seed: int = 0

    @model_validator(mode="after")
    def _check_task(self) -> TabularTaskConfig:
        from tunebench.tabular.builtin import BUILTIN_TABULAR_TASKS  # it imports this module

        builtin = ", ".join(BUILTIN_TABULAR_TASKS)
        if self.name in BUILTIN_TABULAR_TASKS:
            if self.path is not None:
                raise ValueError(
                    f"tabular task {self.name!r} is built in and takes no path; use another name "
                    f"for your own file (built-in tabular tasks: {builtin})"
                )
            given = changed_fields(self, _ROLE_FIELDS)
            if given:
                raise ValueError(
                    f"{', '.join(given)} only apply to a task read from a file (path); the "
                    f"built-in task {self.name!r} fixes its own columns"
                )
            return self
        if self.path is None:
            raise ValueError(
                f"unknown tabular task {self.name!r}: give a built-in task ({builtin}) or set "
                "path to a CSV, JSONL or Parquet file"
            )
        if self.target is None or self.problem is None:
            absent = [f for f in ("target", "problem") if getattr(self, f) is None]
            raise ValueError(
                f"task {self.name!r} reads {self.path}: set {' and '.join(absent)} "
                "(problem: regression or classification)"
            )
        if not (self.numeric or self.categorical or self.text):
            raise ValueError(
                f"task {self.name!r}: list at least one feature column under numeric, "
                "categorical or text"
            )
        uses = Counter([*self.numeric, *self.categorical, *self.text, self.target])
        for column, count in uses.items():
            if count > 1:
                roles = [f for f in _ROLE_FIELDS[:4] if column in _as_list(getattr(self, f))]
                raise ValueError(
                    f"task {self.name!r}: column {column!r} is given {count} times "
                    f"(in {', '.join(roles)}); each column plays one role"
                )
        return self

    def roles(self) -> Roles:
        """The column roles of a file task (built-in tasks take theirs from their definition)."""
        if self.target is None or self.problem is None:
            raise ValueError(f"task {self.name!r} declares no roles: it is a built-in task")
        return Roles(
            tuple(self.numeric),
            tuple(self.categorical),
            tuple(self.text),
            self.target,
            self.problem,
        )


def _as_list(value: list[str] | str | None) -> list[str]:
    return value if isinstance(value, list) else [value] if value is not None else []
