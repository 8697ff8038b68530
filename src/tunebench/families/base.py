"""The task-family protocol: what a kind of task tells the rest of tunebench.

A family (classification, token classification, generation, multiple choice, preference,
tabular, ...) is one module with a `Family` subclass. It declares its task config and built-in
tasks, loads data, expands a study's grid into cells for its tasks, builds its model around a
backbone and trains it through the one loop (`train_and_test`, given a `RunContext`), names its
metrics with their direction and its default selection and report metrics, and says how its
rows read in a table (`layout`). Everything else — the study schema, run ids, executors, the
run path, the store, the results layer — is written once and asks the family.

    study.yaml -> StudyConfig -> Family.cells -> RunSpec (one id) -> executor
        -> run path (metering, costs) -> Family.train_and_test(RunContext) -> store -> report
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from tunebench.assets import Asset
from tunebench.errors import UserError
from tunebench.families.labels import METHOD_ROWS, RowLayout
from tunebench.methods.base import ModelKind
from tunebench.methods.entry import MethodEntry
from tunebench.metrics import Metric

if TYPE_CHECKING:
    from tunebench.methods import MethodConfig
    from tunebench.training.config import TrainingConfig


@dataclass(frozen=True)
class BuiltinTask:
    """A built-in task: what `tunebench list tasks` says of it, the packaged files it reads and
    its loader (config -> the family's data)."""

    description: str
    target: str
    """What is predicted: "2 classes", "summary", "5 options", ..."""
    asset: Asset
    loader: Callable[[Any], Any]


class TaskSource(BaseModel):
    """Fields every task has, and the rule that a built-in task takes no file settings.

    A family's task config subclasses this, lists its built-in tasks in `builtins` and the
    settings that only apply to a user's file in `file_fields`.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    path: Path | None = None
    max_train_samples: PositiveInt | None = None
    max_eval_samples: PositiveInt | None = None
    data_seed: int = 0
    eval_tasks: list[dict[str, Any]] = Field(default_factory=list)
    """Further data sets of this family that the trained model is also tested on, never
    trained on (cross-task transfer): each a task of the same family, tested on its own test
    split and recorded under `metrics.transfer.<name>`."""

    builtins: ClassVar[dict[str, BuiltinTask]] = {}
    file_fields: ClassVar[tuple[str, ...]] = ()
    family_name: ClassVar[str] = ""
    transfers: ClassVar[bool] = False
    """Whether the family tests a trained model on `eval_tasks`."""

    @model_validator(mode="before")
    @classmethod
    def _accept_own_family(cls, value: Any) -> Any:
        """`family: tabular` on a family whose config has no `family` field (its family is a
        property, so that the ids of runs recorded before the field existed stay)."""
        if (
            isinstance(value, dict)
            and "family" not in cls.model_fields
            and value.get("family") == cls.family_name
        ):
            value = {k: v for k, v in value.items() if k != "family"}
        return value

    @model_validator(mode="after")
    def _check_source(self):
        listed = ", ".join(self.builtins)
        if self.name in self.builtins:
            if self.path is not None:
                raise ValueError(
                    f"task {self.name!r} is built in and takes no path; use another name for "
                    f"your own file (built-in {self.family_name} tasks: {listed})"
                )
            misplaced = changed_fields(self, self.file_fields)
            if misplaced:
                raise ValueError(
                    f"{', '.join(misplaced)} only apply to a task read from a file (path), "
                    f"not to the built-in task {self.name!r}"
                )
        elif self.path is None:
            raise ValueError(
                f"unknown task {self.name!r}: give a built-in {self.family_name} task ({listed}) "
                f"or set path to a CSV, JSONL or Parquet file"
            )
        return self

    @model_validator(mode="after")
    def _check_eval_tasks(self):
        """Each `eval_tasks` entry is a task of this family (its own checks apply), with a name
        of its own and no `eval_tasks` of its own."""
        if self.eval_tasks and not self.transfers:
            raise ValueError(f"eval_tasks: {self.family_name} tasks cannot be tested on others")
        names = {self.name}
        for index, task in enumerate(self.transfer_tasks()):
            if task.eval_tasks or task.name in names:
                why = "lists eval_tasks itself" if task.eval_tasks else "repeats a task name"
                raise ValueError(f"eval_tasks.{index} ({task.name!r}) {why}")
            names.add(task.name)
        return self

    def transfer_tasks(self) -> list[Self]:
        """The `eval_tasks` as configs of this task's family."""
        tasks = []
        for index, entry in enumerate(self.eval_tasks):
            try:
                tasks.append(type(self).model_validate(entry))
            except ValidationError as error:
                detail = error.errors()[0]
                place = ".".join(str(p) for p in detail["loc"])
                where = f"eval_tasks.{index}" + (f".{place}" if place else "")
                message = detail["msg"].removeprefix("Value error, ")
                raise ValueError(f"{where}: {message}") from None
        return tasks


def changed_fields(config: BaseModel, fields: tuple[str, ...]) -> list[str]:
    """Those of `fields` given a value other than their default (a dumped config names every
    field, with its default, and must validate again)."""
    defaults = type(config).model_fields
    given = [f for f in fields if f in config.model_fields_set]
    return [f for f in given if getattr(config, f) != defaults[f].get_default()]


class Run(Protocol):
    """What a family reads of one run (tunebench.study.spec.RunSpec)."""

    backbone: str | None
    task: TaskSource
    method: MethodConfig | None
    seed: int
    training: TrainingConfig | None
    options: dict[str, Any]
    trust_remote_code: bool


@dataclass(frozen=True)
class Cell:
    """One cell of a family's grid for one task, before the study crosses it with its variants,
    sweep points and seeds."""

    backbone: str | None
    entry: MethodEntry | None
    """The method and its training overrides; None: no language model trains (and the run has
    no training settings)."""
    where: str
    """Where `entry` is in the study file (`methods.2`), for error messages."""
    options: dict[str, Any] = field(default_factory=dict)
    """Family settings of the run (tabular: pipeline, downstream model and its training), part
    of its id and of its recorded config."""
    sweeps_method: bool = True
    """Whether the study's `method.*` sweep settings apply (False: the family fixed the method,
    as the tabular frozen pipeline fixes `frozen`)."""


@dataclass(frozen=True)
class SplitLengths:
    """Tokens per example of each split, as the run will see them (truncated): what
    `tunebench plan` scales a probe's step and evaluation times and activation memory by."""

    train: list[int]
    validation: list[int]
    test: list[int]


class Family:
    """Base of every family; subclasses set the class attributes and implement `load` and
    `train_and_test`. The defaults suit a family whose cells are backbones x methods."""

    name: ClassVar[str]
    task_config: ClassVar[type[TaskSource]]
    metrics: ClassVar[dict[str, Metric]]
    """Every metric the family reports, by name."""
    validation: ClassVar[tuple[str, ...]]
    """The metrics its validation pass reports; the first picks the best epoch by default."""
    report_default: ClassVar[str]
    """The test metric its table column shows unless asked for another."""
    layout: ClassVar[RowLayout] = METHOD_ROWS
    study_fields: ClassVar[type[BaseModel] | None] = None
    """Top-level study settings only this family reads (tabular: pipelines, downstream, ...)."""
    union_tags: ClassVar[frozenset[str]] = frozenset()
    """Tags of the family's own discriminated unions, left out of error locations."""
    model_kind: ClassVar[ModelKind | None] = None
    """The model it builds around a backbone (a classifier, a causal LM, ...), which says how
    `tunebench export` rebuilds and writes a run; None: its runs cannot be exported."""
    method_kind: ClassVar[ModelKind | None] = None
    """The model its runs apply a method to, when not `model_kind` (tabular's text encoder)."""
    has_connector: ClassVar[bool] = False
    """Whether a method entry's `connector` applies (visual_qa); other families refuse it."""
    baseline: ClassVar[Literal["constant", "zero_shot"]] = "constant"
    """The trivial baseline a result must beat (report/trust.py): the best constant prediction
    (majority class, mean target, no entities), or the untrained model (the `frozen` run)."""

    @property
    def trained_kind(self) -> ModelKind | None:
        """The kind of model a method must apply to for this family's runs."""
        return self.method_kind or self.model_kind

    @property
    def builtins(self) -> dict[str, BuiltinTask]:
        return self.task_config.builtins

    def validation_metrics(self, task: TaskSource) -> tuple[str, ...]:
        return self.validation

    def report_metric(self, task: dict[str, Any]) -> str:
        """The test metric a table shows for a task, given as its runs recorded it."""
        return self.report_default

    def training_defaults(self, task: TaskSource) -> dict[str, Any]:
        """Training settings the family changes from TrainingConfig's defaults (a study's own
        settings still win)."""
        return {"selection_metric": self.validation_metrics(task)[0]}

    def check_study(self, study: Any) -> None:
        """Refuse a study this family cannot run (UserError naming the field)."""
        if not study.backbones:
            raise UserError(f"backbones: {self.name} tasks need at least one backbone")
        if not study.methods:
            raise UserError(f"methods: {self.name} tasks need at least one method")
        self.check_method_settings(study)

    def check_method_settings(self, study: Any) -> None:
        for index, entry in enumerate(study.methods or []):
            if entry.connector is not None and not self.has_connector:
                raise UserError(f"methods.{index}.connector: only visual_qa tasks have one")

    def cells(self, study: Any, task: TaskSource) -> list[Cell]:
        """The task's cells: every backbone with every method of the study."""
        return [
            Cell(backbone, entry, f"methods.{index}")
            for backbone in study.backbones
            for index, entry in enumerate(study.methods)
        ]

    def load(self, task: TaskSource) -> Any:
        """The task's data: fixed splits with row ids, and `data_sha256` of its source."""
        raise NotImplementedError

    def train_and_test(self, context: Any) -> Any:
        """context (a RunContext, context.py) -> a FamilyResult: build the model around the
        run's backbone, apply its method, train it through the loop and evaluate it."""
        raise NotImplementedError

    def token_lengths(self, spec: Run, data: Any) -> SplitLengths | None:
        """Tokens per example of each split of `data` for `spec`'s backbone and max length;
        None where the family does not say (the plan then scales by rows)."""
        return None

    def part_sizes(self, spec: Run, data: Any) -> dict[str, float] | None:
        """Each training part's size (`train_parts` in a run's costs: tabular), which the plan
        scales a probe's parts by; None for a family that records no parts."""
        return None

    @property
    def counts_tokens(self) -> bool:
        """Whether the family says its runs' tokens (overrides `token_lengths`)."""
        return type(self).token_lengths is not Family.token_lengths

    def transfer_problem(self, trained: Any, tested: Any) -> str | None:
        """Why a model trained on `trained` cannot be tested on `tested` (`eval_tasks`)."""
        return None

    def metric(self, name: str) -> Metric:
        return self.metrics[name]

    def run_label(self, run: Run) -> str:
        """`minilm-l6 · sms_spam · lora(r=8, ...) · seed 0`: a run in a log line."""
        parts = [run.backbone or "no LM", run.task.name, method_text(run.method)]
        return " · ".join(parts) + f" · seed {run.seed}"


def method_text(method: MethodConfig | None) -> str:
    """`lora(r=8, alpha=16.0, ...)`: a method with its settings."""
    if method is None:
        return "no method"
    settings = method.model_dump(exclude={"name"})
    shown = ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None)
    return f"{method.name}({shown})" if shown else method.name
