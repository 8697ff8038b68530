"""What a study says about a table: a built-in tabular task by name, or a user's own file with
the role of each column (numeric, categorical, text, target)."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from tunebench.families.base import TaskSource
from tunebench.families.tabular.data import NumericTransform, Problem, Roles

_ROLE_FIELDS = ("numeric", "categorical", "text", "target", "problem")


class TabularTaskConfig(TaskSource):
    """A tabular task: `name` alone for a built-in (its roles are fixed), or `name` plus `path`,
    `target`, `problem` and at least one feature column for a CSV / JSONL / Parquet file.

    `numeric_transform` scales numeric features after imputation: "quantile" (default, as in the
    FT-Transformer paper) or "standard". `max_train_samples` / `max_eval_samples` take stratified
    subsets as for text tasks (train seeded by `data_seed`, validation and test by a fixed seed).
    """

    numeric: list[str] = []
    categorical: list[str] = []
    text: list[str] = []
    target: str | None = None
    problem: Problem | None = None
    numeric_transform: NumericTransform = "quantile"

    file_fields: ClassVar[tuple[str, ...]] = _ROLE_FIELDS
    family_name: ClassVar[str] = "tabular"

    @property
    def family(self) -> str:
        return "tabular"  # not a field: run ids of tabular runs stay as they were

    @model_validator(mode="after")
    def _check_roles(self) -> TabularTaskConfig:
        if self.path is None:
            return self  # a built-in task (TaskSource checks the name)
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


DEFAULT_SEARCH_RATES = (1e-4, 3e-4, 1e-3, 3e-3)
"""The FT-Transformer paper's fixed rate and three larger ones, a factor of about 3 apart."""


class DownstreamTrainingConfig(BaseModel):
    """Training of a torch downstream model on fixed features: the FT-Transformer paper's
    protocol (AdamW, weight decay 1e-5, patience 16) at a learning rate picked on the validation
    split from `search_rates` (`learning_rate: search`, the default; see rate_search.py), or at
    the one rate given (`learning_rate: 1e-4` is the paper's and the default before the search)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_epochs: PositiveInt = 100
    patience: PositiveInt = 16
    batch_size: PositiveInt = 256
    eval_batch_size: PositiveInt = 4096
    learning_rate: PositiveFloat | Literal["search"] = "search"
    search_rates: tuple[PositiveFloat, ...] = Field(DEFAULT_SEARCH_RATES, min_length=1)
    weight_decay: NonNegativeFloat = 1e-5
