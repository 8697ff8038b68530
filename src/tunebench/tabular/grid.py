"""The tabular study schema: backbones x tasks x downstream models x pipelines x methods x seeds.

A study file is tabular when it has `pipelines:`. Pipelines:

- `frozen`: the pretrained backbone embeds each distinct text once; only the downstream trains.
- `one_step`: the backbone, through each method, trains jointly with the downstream model.
- `two_step`: each method fine-tunes the backbone on the target from text alone (step 1), then
  its embeddings feed the downstream model (step 2).
- `tabular_only`: no language model; text columns are left out (the tabular-only baseline).
- `tfidf`: no language model; trees (`gbdt`) on TF-IDF of the text columns.

Cells that cannot exist are not generated, by rule: `one_step` needs a differentiable
downstream model (not `gbdt`), `tfidf` is for `gbdt` only, and the method `frozen` belongs to
the `frozen` pipeline alone. Anything else the study asks for that cannot run is an error.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tunebench.config import MethodEntry, Operations, method_entries, resolve_training
from tunebench.errors import UserError
from tunebench.methods import METHODS, AnyMethodConfig
from tunebench.methods.frozen import FrozenConfig
from tunebench.tabular.builtin import BUILTIN_TABULAR_TASKS
from tunebench.tabular.config import TabularTaskConfig
from tunebench.tabular.models import AnyDownstreamConfig, GBDTConfig
from tunebench.tabular.train import DownstreamTrainingConfig
from tunebench.training.config import TrainingConfig, identity

Pipeline = Literal["frozen", "one_step", "two_step", "tabular_only", "tfidf"]
LANGUAGE_MODEL_PIPELINES = ("frozen", "one_step", "two_step")


class SubGrid(BaseModel):
    """One more grid of a study: the study's own, with the backbones, downstream models,
    pipelines or methods it names in place of the study's. A table that leaves cells empty,
    as seed 000's does for its 7B model, is the study's grid plus such grids."""

    model_config = ConfigDict(extra="forbid")
    backbones: list[str] | None = None
    downstream: list[AnyDownstreamConfig] | None = Field(default=None, min_length=1)
    pipelines: list[Pipeline] | None = Field(default=None, min_length=1)
    methods: list[MethodEntry] | None = None

    @field_validator("downstream", mode="before")
    @classmethod
    def _names_as_mappings(cls, items: Any) -> Any:
        return None if items is None else names_as_mappings(items)

    @field_validator("methods", mode="before")
    @classmethod
    def _method_entries(cls, methods: Any) -> Any:
        return None if methods is None else method_entries(methods)


class TabularStudyConfig(Operations):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    tasks: list[TabularTaskConfig] = Field(min_length=1)
    pipelines: list[Pipeline] = Field(min_length=1)
    downstream: list[AnyDownstreamConfig] = Field(min_length=1)
    backbones: list[str] = Field(default_factory=list)
    methods: list[MethodEntry] = Field(default_factory=list)
    """Methods for one_step and two_step (the frozen pipeline needs none)."""
    seeds: list[int] = Field(default=[0], min_length=1)
    training: TrainingConfig = TrainingConfig()
    """The language model's training: one_step's joint training and two_step's step 1; the
    frozen pipeline reads only `pooling`, `max_length` and `eval_batch_size` from it."""
    downstream_training: DownstreamTrainingConfig = DownstreamTrainingConfig()
    """Training of the torch downstream models on fixed embeddings (frozen, two_step's step 2,
    tabular_only); in one_step its learning rate and weight decay apply to the downstream
    model's parameters."""
    trust_remote_code: bool = False
    grids: list[SubGrid] = Field(default_factory=list)
    """Optional: more grids whose runs join the study's own (SubGrid)."""

    @field_validator("tasks", "downstream", mode="before")
    @classmethod
    def _names_as_mappings(cls, items: Any) -> Any:
        return names_as_mappings(items)

    @field_validator("methods", mode="before")
    @classmethod
    def _method_entries(cls, methods: Any) -> Any:
        return method_entries(methods)

    @model_validator(mode="after")
    def _check_grids(self) -> TabularStudyConfig:
        _check_grid(self)
        for index, grid in enumerate(self.grids):
            try:
                _check_grid(self.grid(grid))
            except ValueError as error:
                raise ValueError(f"grids.{index}: {error}") from error
        return self

    def grid(self, override: SubGrid) -> TabularStudyConfig:
        """This study with one sub-grid's fields in place of its own (and no sub-grids)."""
        fields = override.model_dump(exclude_none=True, exclude_unset=True).keys()
        return self.model_copy(update={"grids": [], **{f: getattr(override, f) for f in fields}})


def names_as_mappings(items: Any) -> Any:
    """`[mlp, {name: gbdt, ...}]` -> `[{name: mlp}, {name: gbdt, ...}]`."""
    return [{"name": item} if isinstance(item, str) else item for item in items or []]


def _check_grid(grid: TabularStudyConfig) -> None:
    """The rules a grid's fields must obey together (each grid of a study on its own)."""
    language = [p for p in grid.pipelines if p in LANGUAGE_MODEL_PIPELINES]
    if language and not grid.backbones:
        raise ValueError(f"pipelines {', '.join(language)} need at least one backbone")
    tuned = [p for p in grid.pipelines if p in ("one_step", "two_step")]
    if tuned and not [m for m in grid.methods if m.method.name != "frozen"]:
        raise ValueError(
            f"pipelines {', '.join(tuned)} need at least one method other than frozen "
            "(e.g. methods: [lora])"
        )
    has_gbdt = any(isinstance(d, GBDTConfig) for d in grid.downstream)
    if "tfidf" in grid.pipelines and not has_gbdt:
        raise ValueError("pipeline tfidf trains trees: add gbdt to downstream")


class TabularRunSpec(BaseModel):
    """One resolved cell of a tabular study; `backbone`, `method` and `training` are None for
    the pipelines without a language model, `downstream_training` None for trees."""

    model_config = ConfigDict(frozen=True)
    pipeline: Pipeline
    backbone: str | None
    task: TabularTaskConfig
    downstream: AnyDownstreamConfig
    method: AnyMethodConfig | None
    seed: int
    training: TrainingConfig | None
    downstream_training: DownstreamTrainingConfig | None
    trust_remote_code: bool = False

    @property
    def run_id(self) -> str:
        return _digest(identity(self.model_dump(mode="json")))

    @property
    def step1_id(self) -> str:
        """two_step: what step 1 depends on (not the downstream model), so that every downstream
        model of a study trained on the same backbone, task, method and seed shares it."""
        step1 = {"backbone", "task", "method", "seed", "training"}
        return _digest(identity(self.model_dump(mode="json", include=step1)))

    @property
    def label(self) -> str:
        method = self.method.model_dump(mode="json") if self.method else None
        return pipeline_label(self.pipeline, method)


def pipeline_label(pipeline: str, method: dict[str, Any] | None) -> str:
    """`one_step (lora r=16)`: the pipeline, and for those that tune the language model the
    method with the settings that differ from its defaults."""
    if method is None or pipeline not in ("one_step", "two_step"):
        return pipeline
    defaults = METHODS[method["name"]].config().model_dump(mode="json")
    changed = [
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in method.items()
        if k != "name" and defaults.get(k) != v
    ]
    return f"{pipeline} ({' '.join([method['name'], *changed])})"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def expand_tabular(study: TabularStudyConfig) -> list[TabularRunSpec]:
    """The runs of the study's grid, then of each of its `grids` (a cell that two grids share
    runs once)."""
    runs = {spec.run_id: spec for spec in _expand_grid(study)}
    for index, grid in enumerate(study.grids):
        try:
            runs.update((spec.run_id, spec) for spec in _expand_grid(study.grid(grid)))
        except UserError as error:
            raise UserError(f"grids.{index}: {error}") from error
    return list(runs.values())


def _expand_grid(study: TabularStudyConfig) -> list[TabularRunSpec]:
    """The runs in table order: task, then the LM-free baselines, then per backbone, downstream
    model, pipeline and method; seeds innermost."""
    runs: list[TabularRunSpec] = []
    for task in study.tasks:
        problem = _problem(task)
        _check_text_columns(task, study.pipelines)
        for pipeline in ("tabular_only", "tfidf"):
            if pipeline not in study.pipelines:
                continue
            for downstream, seed in itertools.product(study.downstream, study.seeds):
                if pipeline == "tfidf" and not isinstance(downstream, GBDTConfig):
                    continue
                runs.append(_spec(study, pipeline, None, task, downstream, None, seed, None))
        for backbone, downstream in itertools.product(study.backbones, study.downstream):
            for pipeline in LANGUAGE_MODEL_PIPELINES:
                if pipeline not in study.pipelines:
                    continue
                if pipeline == "one_step" and isinstance(downstream, GBDTConfig):
                    continue
                if pipeline == "frozen":
                    entries = [MethodEntry(method=FrozenConfig())]
                else:
                    entries = [m for m in study.methods if m.method.name != "frozen"]
                for (index, entry), seed in itertools.product(enumerate(entries), study.seeds):
                    training = resolve_training(
                        study.training,
                        [entry.training],
                        entry.method.name,
                        f"methods.{index}.training",
                        {"selection_metric": "rmse"} if problem == "regression" else None,
                    )
                    runs.append(
                        _spec(study, pipeline, backbone, task, downstream, entry, seed, training)
                    )
    if not runs:
        raise UserError(
            "the study has no runs: one_step needs mlp or ft_transformer, tfidf needs gbdt"
        )
    return runs


def _spec(study, pipeline, backbone, task, downstream, entry, seed, training) -> TabularRunSpec:
    trees = isinstance(downstream, GBDTConfig)
    return TabularRunSpec(
        pipeline=pipeline,
        backbone=backbone,
        task=task,
        downstream=downstream,
        method=entry.method if entry else None,
        seed=seed,
        training=training,
        downstream_training=None if trees else study.downstream_training,
        trust_remote_code=study.trust_remote_code,
    )


def _problem(task: TabularTaskConfig) -> str:
    if task.name in BUILTIN_TABULAR_TASKS and task.path is None:
        return BUILTIN_TABULAR_TASKS[task.name].problem
    return str(task.problem)


def _check_text_columns(task: TabularTaskConfig, pipelines: list[str]) -> None:
    builtin = BUILTIN_TABULAR_TASKS.get(task.name) if task.path is None else None
    texts = builtin.roles.text if builtin else task.text
    needing = [p for p in pipelines if p in (*LANGUAGE_MODEL_PIPELINES, "tfidf")]
    if not texts and needing:
        raise UserError(
            f"task {task.name!r} has no text column, so pipelines {', '.join(needing)} have "
            "nothing to embed; use tabular_only for it (or a study of its own)"
        )
