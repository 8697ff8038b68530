"""The family registry: every family by name, the union of their task configs that a study's
`tasks:` entries are validated against, and how a task (or a recorded run) finds its family.

A task's family is its `family:` if given, else its built-in's, else the one family whose
settings include every key the entry gives (`target:` and `numeric:` are tabular settings,
`tokens_column:` a token-classification one), else classification.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Discriminator, Tag

from tunebench.families import classification, tabular
from tunebench.families.base import BuiltinTask, Family, TaskSource
from tunebench.families.generation import FAMILY as GENERATION
from tunebench.families.multiple_choice import FAMILY as MULTIPLE_CHOICE
from tunebench.families.preference import FAMILY as PREFERENCE
from tunebench.families.token_classification import FAMILY as TOKEN_CLASSIFICATION
from tunebench.families.visual_qa import FAMILY as VISUAL_QA
from tunebench.methods.base import Method

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        classification.FAMILY,
        TOKEN_CLASSIFICATION,
        GENERATION,
        MULTIPLE_CHOICE,
        PREFERENCE,
        tabular.FAMILY,
        VISUAL_QA,
    )
}
DEFAULT_FAMILY = "classification"
"""The family of a task entry that names neither a family nor a built-in task, when its keys
fit several families (a file with only `name` and `path`)."""


def families_trained_by(method: Method) -> list[str]:
    """The families whose runs the method applies to (by the kind of model each trains)."""
    return [name for name, f in FAMILIES.items() if f.trained_kind in method.kinds]


def builtin_tasks() -> dict[str, tuple[Family, BuiltinTask]]:
    """Every built-in task by name, with its family."""
    return {name: (f, task) for f in FAMILIES.values() for name, task in f.builtins.items()}


def recorded_family(record: Any) -> Family:
    """The family of a recorded run (a RunRecord), from the task it recorded."""
    task = record.config.get("task") if isinstance(record.config, dict) else None
    return FAMILIES[family_of(task if isinstance(task, dict) else {})]


def family_of(value: Any) -> str:
    """The family of a task given as a mapping (a study's entry, or a recorded run's `task`)
    or as a config object."""
    if isinstance(value, TaskSource):
        return value.family
    if not isinstance(value, dict):
        return DEFAULT_FAMILY  # pydantic then reports what is wrong with it
    if "family" in value:
        return str(value["family"])
    builtin = builtin_tasks().get(value.get("name"))
    if builtin is not None:
        return builtin[0].name
    keys = set(value)
    fitting = [f.name for f in FAMILIES.values() if keys <= set(f.task_config.model_fields)]
    return fitting[0] if len(fitting) == 1 else DEFAULT_FAMILY


def family_for(task: TaskSource) -> Family:
    return FAMILIES[task.family]


def load_task(task: TaskSource) -> Any:
    """A task's data (any family): fixed splits with row ids, sample caps applied."""
    return family_for(task).load(task)


def _builtin_of_another_family(value: Any) -> Any:
    """`{name: xsum, family: classification}`: a built-in task named with the wrong family."""
    if isinstance(value, dict) and "family" in value and value.get("path") is None:
        builtin = builtin_tasks().get(value.get("name"))
        if builtin is not None and builtin[0].name != value["family"]:
            raise ValueError(
                f"task {value['name']!r} is a built-in {builtin[0].name} task, "
                f"not {value['family']}"
            )
    return value


AnyTaskConfig = Annotated[
    Union[tuple(Annotated[f.task_config, Tag(n)] for n, f in FAMILIES.items())],  # noqa: UP007
    Discriminator(
        family_of,
        custom_error_type="unknown_family",
        custom_error_message="family must be one of: " + ", ".join(FAMILIES),
    ),
    BeforeValidator(_builtin_of_another_family),
]
