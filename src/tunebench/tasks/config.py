"""What a study says about its data: a built-in task by name, or a user's own file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PositiveInt, field_validator, model_validator

Strip = Literal["headers", "footers", "quotes"]
_FILE_FIELDS = ("text_column", "text_pair_column", "label_column")


class TaskConfig(BaseModel):
    """A task: `name` alone for a built-in, or `name` plus `path` for a CSV / JSONL / Parquet file.

    `max_train_samples` and `max_eval_samples` take stratified subsets (train seeded by
    `data_seed`; validation and test by a fixed seed) for quick studies: results are then
    measured on a subset and are not comparable with full-data numbers.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    path: Path | None = None
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    strip: list[Strip] = []
    max_train_samples: PositiveInt | None = None
    max_eval_samples: PositiveInt | None = None
    data_seed: int = 0

    @field_validator("strip")
    @classmethod
    def _canonical_strip(cls, value: list[Strip]) -> list[Strip]:
        """Same parts in any order or repeated mean the same data (and the same cache entry)."""
        return [s for s in ("headers", "footers", "quotes") if s in value]

    @model_validator(mode="after")
    def _check_task(self) -> TaskConfig:
        from tunebench.tasks import BUILTIN_TASKS  # the registry module imports this one

        builtin = ", ".join(BUILTIN_TASKS)
        if self.name in BUILTIN_TASKS:
            if self.path is not None:
                raise ValueError(
                    f"task {self.name!r} is built in and takes no path; use another name for "
                    f"your own file (built-in tasks: {builtin})"
                )
            misplaced = [f for f in _FILE_FIELDS if f in self.model_fields_set]
            if misplaced:
                raise ValueError(
                    f"{', '.join(misplaced)} only apply to a task read from a file (path), "
                    f"not to the built-in task {self.name!r}"
                )
        elif self.path is None:
            raise ValueError(
                f"unknown task {self.name!r}: give a built-in task ({builtin}) or set path "
                f"to a CSV, JSONL or Parquet file"
            )
        if self.strip and self.name != "20newsgroups":
            raise ValueError(f"strip only applies to 20newsgroups, not to task {self.name!r}")
        return self
