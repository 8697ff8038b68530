"""The study schema: what a YAML study may say, validated with one clear message per mistake.

A study is a grid: backbones x tasks x methods (each with its config) x seeds x training
variants. `expand` turns it into fully resolved runs, each with a stable id (a hash of
everything that can change its result).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from tunebench.errors import UserError
from tunebench.executors import EXECUTORS, AnyExecutor, LocalExecutor, executor_entry
from tunebench.methods import METHODS, AnyMethodConfig
from tunebench.sweeps import Point, SweepConfig, example_points, fixed_points, split_point
from tunebench.tabular.models import DOWNSTREAM_MODELS
from tunebench.tasks.config import TASK_CONFIGS, AnyTaskConfig
from tunebench.tracking import TrackerName
from tunebench.training.config import TrainingConfig, identity

if TYPE_CHECKING:
    from tunebench.tabular.grid import TabularStudyConfig

_method_adapter = TypeAdapter(AnyMethodConfig)


class MethodEntry(BaseModel):
    """One method of a study: its config, and training overrides that apply to it alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: AnyMethodConfig
    training: dict[str, Any] = Field(default_factory=dict)


class Operations(BaseModel):
    """Where a study's runs execute and where they are reported: settings of every kind of
    study that never change a run's result (so never part of its id)."""

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


class StudyConfig(Operations):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    backbones: list[str] = Field(min_length=1)
    tasks: list[AnyTaskConfig] = Field(min_length=1)
    methods: list[MethodEntry] = Field(min_length=1)
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


def method_entries(methods: Any) -> Any:
    """`lora` or `{name: lora, r: 16, training: {...}}` -> MethodEntry input."""
    entries = []
    for entry in methods or []:
        if isinstance(entry, str):
            entry = {"name": entry}
        if isinstance(entry, dict) and "method" not in entry:
            entry = dict(entry)
            training = entry.pop("training", {})
            entry = {"method": entry, "training": training}
        entries.append(entry)
    return entries


class RunSpec(BaseModel):
    """One fully resolved cell of the grid: everything that determines its result."""

    model_config = ConfigDict(frozen=True)
    backbone: str
    task: AnyTaskConfig
    method: AnyMethodConfig
    seed: int
    training: TrainingConfig
    trust_remote_code: bool = False

    @property
    def run_id(self) -> str:
        canonical = json.dumps(identity(self.model_dump(mode="json")), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_study(path: Path) -> StudyConfig | TabularStudyConfig:
    """Read and validate a study file (tabular when it has `pipelines:`); every problem becomes
    one UserError naming the field."""
    if not path.is_file():
        raise UserError(f"{path}: no such study file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise UserError(
            f"{path}: a study must be a YAML mapping with name, backbones, tasks, methods"
        )
    try:
        if "pipelines" in raw:  # a tabular study (tunebench.tabular.grid)
            from tunebench.tabular.grid import TabularStudyConfig, expand_tabular

            study = TabularStudyConfig.model_validate(raw)
            expand_tabular(study)
            return study
        study = StudyConfig.model_validate(raw)
        tpe = study.sweep is not None and study.sweep.strategy == "tpe"
        # overrides are validated against the method and training schemas here
        expand(study, example_points(study.sweep) if tpe else None)
    except ValidationError as error:
        raise UserError(f"{path}: {describe(error)}") from error
    except UserError as error:
        raise UserError(f"{path}: {error}") from error
    return study


# What each task family's validation reports, and the metric that picks the best epoch by
# default (classification's default is TrainingConfig's own, so its run ids never change).
VALIDATION_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "precision_macro", "recall_macro", "f1_macro", "auroc"),
    "generation": ("perplexity", "loss"),
    "multiple_choice": ("accuracy", "accuracy_norm"),
    "preference": ("loss", "reward_accuracy", "reward_margin", "chosen_perplexity"),
}
FAMILY_TRAINING_DEFAULTS: dict[str, dict[str, Any]] = {
    "generation": {"selection_metric": "perplexity"},
    "preference": {"selection_metric": "loss"},
}


def expand(study: StudyConfig, points: list[Point] | None = None) -> list[RunSpec]:
    """The study's runs, in a stable order: backbone, task, method, variant, sweep point, seed.

    `points` defaults to the sweep's own (grid, random); a tpe sweep passes those it asked for.
    """
    points = fixed_points(study.sweep) if points is None else points
    runs = []
    for backbone, task, (m, entry), (v, _), point, seed in itertools.product(
        study.backbones,
        study.tasks,
        enumerate(study.methods),
        enumerate(study.variants),
        points,
        study.seeds,
    ):
        method_overrides, training_overrides = split_point(point)
        runs.append(
            RunSpec(
                backbone=backbone,
                task=task,
                method=_swept_method(entry.method, method_overrides, m),
                seed=seed,
                training=_training(study, m, v, task.family, training_overrides),
                trust_remote_code=study.trust_remote_code,
            )
        )
    return runs


def _swept_method(method: AnyMethodConfig, overrides: dict[str, Any], index: int):
    if not overrides:
        return method
    unknown = set(overrides) - set(type(method).model_fields)
    if unknown:
        raise UserError(
            f"sweep.space.method.{sorted(unknown)[0]}: methods.{index} ({method.name}) "
            f"has no such setting (its settings: {', '.join(type(method).model_fields)})"
        )
    try:
        return _method_adapter.validate_python({**method.model_dump(), **overrides})
    except ValidationError as error:
        raise UserError(f"sweep.space (methods.{index}): {describe(error)}") from error


def _training(
    study: StudyConfig,
    method_index: int,
    variant_index: int,
    family: str,
    swept: dict[str, Any] | None = None,
) -> TrainingConfig:
    entry = study.methods[method_index]
    where = f"methods.{method_index}.training or variants.{variant_index}"
    if swept:
        where += " or sweep.space"
    training = resolve_training(
        study.training,
        [entry.training, study.variants[variant_index], swept or {}],
        entry.method.name,
        where,
        FAMILY_TRAINING_DEFAULTS.get(family),
    )
    if training.selection_metric not in VALIDATION_METRICS[family]:
        raise UserError(
            f"training.selection_metric (or {where}): {family} tasks report "
            f"{', '.join(VALIDATION_METRICS[family])} on validation, not "
            f"{training.selection_metric!r}"
        )
    return training


def resolve_training(
    base: TrainingConfig,
    overrides: list[dict[str, Any]],
    method: str,
    where: str,
    defaults: dict[str, Any] | None = None,
) -> TrainingConfig:
    """Family `defaults` < the study's training < each override in turn; a learning rate left
    unset falls back to the method's default. Errors name `where`."""
    settings = {**base.model_dump(), **(defaults or {}), **base.model_dump(exclude_unset=True)}
    for override in overrides:
        settings.update(override)
    if settings.get("learning_rate") is None:
        settings["learning_rate"] = METHODS[method].default_lr
    try:
        return TrainingConfig.model_validate(settings)
    except ValidationError as error:
        raise UserError(f"{where}: {describe(error)}") from error


def override_executor(study, name: str | None, workers: int | None):
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


def describe(error: ValidationError) -> str:
    """Pydantic errors as 'field.path: message' lines, one per problem."""
    lines = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"] if part not in _UNION_TAGS)
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        given = problem.get("input")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        lines.append(f"{location}: {message}{shown}")
    return "; ".join(lines)


_UNION_TAGS = (
    {"method"} | set(METHODS) | set(DOWNSTREAM_MODELS) | set(TASK_CONFIGS) | set(EXECUTORS)
)
