"""The study schema: what a YAML study may say, for every family, validated with one clear
message per mistake.

A study is a grid: tasks (of any family, side by side) x backbones x methods (each with its
config and training overrides) x training variants x sweep points x seeds. The core fields are
here; a family that reads settings of its own (tabular: `pipelines`, `downstream`,
`downstream_training`, `grids`) declares them as its `study_fields`, which join the schema
below, and validates them itself (`Family.check_study`). Nothing here imports torch, so a bad
study file is reported at once.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from tunebench.errors import UserError
from tunebench.families.registry import FAMILIES, AnyTaskConfig
from tunebench.methods.entry import MethodEntry, method_entries
from tunebench.study.executors import EXECUTORS, AnyExecutor, LocalExecutor, executor_entry
from tunebench.study.messages import describe
from tunebench.study.sweeps import SweepConfig
from tunebench.tracking import TrackerName
from tunebench.training.config import TrainingConfig


class Operations(BaseModel):
    """Where a study's runs execute and where they are reported: settings that never change a
    run's result (so never part of its id)."""

    model_config = ConfigDict(extra="forbid")
    executor: AnyExecutor = LocalExecutor()
    """local (default), parallel (worker processes) or slurm (executors.py)."""
    report_to: list[TrackerName] = Field(default_factory=list)
    """Experiment trackers that receive each finished run: mlflow, tensorboard, wandb."""

    @field_validator("report_to", mode="before")
    @classmethod
    def _one_tracker_or_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_entry(cls, value: Any) -> Any:
        return executor_entry(value)


class StudyCore(Operations):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    tasks: list[AnyTaskConfig] = Field(min_length=1)
    backbones: list[str] = Field(default_factory=list)
    """Packaged aliases, Hugging Face ids or local folders (tabular baselines need none)."""
    methods: list[MethodEntry] = Field(default_factory=list)
    seeds: list[int] = Field(default=[0], min_length=1)
    training: TrainingConfig = TrainingConfig()
    variants: list[dict[str, Any]] = Field(default_factory=lambda: [{}], min_length=1)
    """Training overrides to cross with everything else (e.g. two learning rates)."""
    save_checkpoints: bool = False
    """Write each run's trainable weights (safetensors) under checkpoints/ in the study folder."""
    trust_remote_code: bool = False
    sweep: SweepConfig | None = None
    """A search space over method and training settings, crossed with the grid (sweeps.py)."""

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_names_as_strings(cls, tasks: Any) -> Any:
        return [{"name": t} if isinstance(t, str) else t for t in tasks or []]

    @field_validator("methods", mode="before")
    @classmethod
    def _method_entries(cls, methods: Any) -> Any:
        return method_entries(methods)

    @model_validator(mode="after")
    def _families_accept_it(self):
        present = {task.family for task in self.tasks}
        for family in FAMILIES.values():
            if family.name in present:
                family.check_study(self)
            elif family.study_fields is not None:
                _unused_fields(self, family.name, family.study_fields)
        return self


def _unused_fields(study: BaseModel, family: str, fields: type[BaseModel]) -> None:
    """A family's study settings given in a study without a task of that family."""
    for name, info in fields.model_fields.items():
        if name in study.model_fields_set and getattr(study, name) != info.get_default(
            call_default_factory=True
        ):
            raise UserError(
                f"{name}: only {family} tasks read it, and the study has none (add a {family} "
                "task or remove the setting)"
            )


StudyConfig = create_model(
    "StudyConfig",
    __base__=(
        StudyCore,
        *(f.study_fields for f in FAMILIES.values() if f.study_fields is not None),
    ),
    __doc__="A study file, validated: the core fields and every family's own study settings.",
)


def override_executor(study: StudyCore, name: str | None, workers: int | None) -> StudyCore:
    """The study with the command line's executor (and worker count) instead of its own."""
    if name is not None and name not in EXECUTORS:
        raise UserError(f"--executor: {name!r} is not one of {', '.join(EXECUTORS)}")
    settings = study.executor.model_dump()
    if name is not None and name != settings["name"]:
        settings = {"name": name}
    if workers is not None:
        settings["workers"] = workers
    try:
        executor = TypeAdapter(AnyExecutor).validate_python(settings)
    except ValidationError as error:
        raise UserError(f"--executor / --workers: {describe(error)}") from error
    return study.model_copy(update={"executor": executor})
