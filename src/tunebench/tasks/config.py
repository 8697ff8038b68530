"""What a study says about its data: a built-in task by name, or a user's own file.

Four families, one config class each: classification (`TaskConfig`), generation, multiple
choice and preference. A task's family comes from its built-in name, or from `family:` for a
user file (default: classification), so a study lists tasks of any family side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    PositiveFloat,
    PositiveInt,
    Tag,
    field_validator,
    model_validator,
)

Strip = Literal["headers", "footers", "quotes"]
Family = Literal["classification", "generation", "multiple_choice", "preference"]
PromptFormat = Literal["auto", "chat", "plain"]


class _Task(BaseModel):
    """Fields every task has, and the rule that a built-in takes no file settings."""

    model_config = ConfigDict(extra="forbid")

    name: str
    path: Path | None = None
    max_train_samples: PositiveInt | None = None
    max_eval_samples: PositiveInt | None = None
    data_seed: int = 0

    _file_fields: tuple[str, ...] = ()
    # `family`: a field in each family's class, a property of classification's (TaskConfig)

    @model_validator(mode="after")
    def _check_source(self):
        from tunebench.tasks import BUILTIN_TASKS  # the registry module imports this one

        builtin = [n for n, t in BUILTIN_TASKS.items() if t.family == self.family]
        listed = ", ".join(builtin)
        if self.name in BUILTIN_TASKS:
            if BUILTIN_TASKS[self.name].family != self.family:
                raise ValueError(
                    f"task {self.name!r} is a built-in {BUILTIN_TASKS[self.name].family} task, "
                    f"not {self.family}"
                )
            if self.path is not None:
                raise ValueError(
                    f"task {self.name!r} is built in and takes no path; use another name for "
                    f"your own file (built-in {self.family} tasks: {listed})"
                )
            misplaced = changed_fields(self, self._file_fields)
            if misplaced:
                raise ValueError(
                    f"{', '.join(misplaced)} only apply to a task read from a file (path), "
                    f"not to the built-in task {self.name!r}"
                )
        elif self.path is None:
            raise ValueError(
                f"unknown task {self.name!r}: give a built-in {self.family} task ({listed}) "
                f"or set path to a CSV, JSONL or Parquet file"
            )
        return self


class TaskConfig(_Task):
    """A classification task: one text or a text pair, and a label.

    `max_train_samples` and `max_eval_samples` take stratified subsets (train seeded by
    `data_seed`; validation and test by a fixed seed) for quick studies: results are then
    measured on a subset and are not comparable with full-data numbers.
    """

    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    strip: list[Strip] = []

    _file_fields = ("text_column", "text_pair_column", "label_column")

    @property
    def family(self) -> Family:
        return "classification"  # not a field: run ids of classification runs stay as they were

    @model_validator(mode="before")
    @classmethod
    def _accept_family(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("family") == "classification":
            data = {k: v for k, v in data.items() if k != "family"}
        return data

    @field_validator("strip")
    @classmethod
    def _canonical_strip(cls, value: list[Strip]) -> list[Strip]:
        """Same parts in any order or repeated mean the same data (and the same cache entry)."""
        return [s for s in ("headers", "footers", "quotes") if s in value]

    @model_validator(mode="after")
    def _check_strip(self) -> TaskConfig:
        if self.strip and self.name != "20newsgroups":
            raise ValueError(f"strip only applies to 20newsgroups, not to task {self.name!r}")
        return self


class GenerationTaskConfig(_Task):
    """Prompt -> response pairs, trained with the loss on response tokens only."""

    family: Literal["generation"] = "generation"
    prompt_column: str = "prompt"
    response_column: str = "response"
    prompt_format: PromptFormat = "auto"
    """auto = the backbone's chat template when it has one, else plain text."""
    max_new_tokens: PositiveInt | None = None
    """Greedy generation length for ROUGE / exact match; None = the task's (files: 64)."""
    generate: bool = True
    """Score greedy generations of the test split (slow on a CPU); false = perplexity only."""
    forgetting: bool = False
    """Also record the rise in loss on a fixed sample of general text (docs/generation.md)."""

    _file_fields = ("prompt_column", "response_column")


class ChoiceTaskConfig(_Task):
    """Multiple choice, scored by each option's log-likelihood under the model."""

    family: Literal["multiple_choice"] = "multiple_choice"
    question_column: str = "question"
    options_column: str = "options"
    label_column: str = "label"
    forgetting: bool = False

    _file_fields = ("question_column", "options_column", "label_column")


class PreferenceTaskConfig(_Task):
    """Prompt with a chosen and a rejected response, trained with DPO."""

    family: Literal["preference"] = "preference"
    prompt_column: str = "prompt"
    chosen_column: str = "chosen"
    rejected_column: str = "rejected"
    prompt_format: PromptFormat = "auto"
    beta: PositiveFloat = 0.1
    """DPO's beta: how far the policy may move from the reference model."""
    forgetting: bool = False

    _file_fields = ("prompt_column", "chosen_column", "rejected_column")


TASK_CONFIGS: dict[str, type[_Task]] = {
    "classification": TaskConfig,
    "generation": GenerationTaskConfig,
    "multiple_choice": ChoiceTaskConfig,
    "preference": PreferenceTaskConfig,
}


def _family_of(value: Any) -> str:
    """The family of a task given as a mapping (its `family:`, else its built-in's, else
    classification) or as a config object."""
    if isinstance(value, _Task):
        return value.family
    if not isinstance(value, dict):
        return "classification"  # pydantic then reports what is wrong with it
    if "family" in value:
        return str(value["family"])
    from tunebench.tasks import BUILTIN_TASKS

    builtin = BUILTIN_TASKS.get(value.get("name"))
    return builtin.family if builtin else "classification"


AnyTaskConfig = Annotated[
    Annotated[TaskConfig, Tag("classification")]
    | Annotated[GenerationTaskConfig, Tag("generation")]
    | Annotated[ChoiceTaskConfig, Tag("multiple_choice")]
    | Annotated[PreferenceTaskConfig, Tag("preference")],
    Discriminator(
        _family_of,
        custom_error_type="unknown_family",
        custom_error_message="family must be one of: " + ", ".join(TASK_CONFIGS),
    ),
]


def changed_fields(config: BaseModel, fields: tuple[str, ...]) -> list[str]:
    """Those of `fields` given a value other than their default (a dumped config names every
    field, with its default, and must validate again)."""
    defaults = type(config).model_fields
    return [
        f
        for f in fields
        if f in config.model_fields_set and getattr(config, f) != defaults[f].get_default()
    ]
