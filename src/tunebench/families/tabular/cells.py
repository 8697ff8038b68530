"""The tabular grid: per task, downstream models x pipelines x (for the pipelines that use a
language model) backbones x methods.

Pipelines:

- `frozen`: the pretrained backbone embeds each distinct text once; only the downstream trains.
- `one_step`: the backbone, through each method, trains jointly with the downstream model.
- `two_step`: each method fine-tunes the backbone on the target from text alone (step 1), then
  its embeddings feed the downstream model (step 2).
- `tabular_only`: no language model; text columns are left out (the tabular-only baseline).
- `tfidf`: no language model; trees (`gbdt`) on TF-IDF of the text columns.

Cells that cannot exist are not generated, by rule: `one_step` needs a differentiable
downstream model (not `gbdt`), `tfidf` is for `gbdt` only, and the method `frozen` belongs to
the `frozen` pipeline alone (methods that train no backbone are left out of one_step and
two_step). Anything else the study asks for that cannot run is an error.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tunebench.errors import UserError
from tunebench.families.base import Cell
from tunebench.families.tabular.config import DownstreamTrainingConfig, TabularTaskConfig
from tunebench.families.tabular.models import AnyDownstreamConfig, GBDTConfig
from tunebench.families.tabular.tasks import BUILTIN_TABULAR_TASKS
from tunebench.methods import METHODS
from tunebench.methods.entry import MethodEntry, method_entries
from tunebench.methods.frozen import FrozenConfig
from tunebench.training.config import identity

Pipeline = Literal["frozen", "one_step", "two_step", "tabular_only", "tfidf"]
LANGUAGE_MODEL_PIPELINES = ("frozen", "one_step", "two_step")


def names_as_mappings(items: Any) -> Any:
    """`[mlp, {name: gbdt, ...}]` -> `[{name: mlp}, {name: gbdt, ...}]`."""
    return [{"name": item} if isinstance(item, str) else item for item in items or []]


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


class TabularStudyFields(BaseModel):
    """The study settings only tabular tasks read."""

    model_config = ConfigDict(extra="forbid")
    pipelines: list[Pipeline] = Field(default_factory=list)
    downstream: list[AnyDownstreamConfig] = Field(default_factory=list)
    downstream_training: DownstreamTrainingConfig = DownstreamTrainingConfig()
    """Training of the torch downstream models on fixed embeddings (frozen, two_step's step 2,
    tabular_only); in one_step its learning rate and weight decay apply to the downstream
    model's parameters. The language model's training is the study's `training`."""
    grids: list[SubGrid] = Field(default_factory=list)
    """Optional: more grids whose runs join the study's own (SubGrid)."""

    @field_validator("downstream", mode="before")
    @classmethod
    def _names_as_mappings(cls, items: Any) -> Any:
        return names_as_mappings(items)


def grids(study: Any) -> list[tuple[str, dict[str, Any]]]:
    """(where, the grid's fields) for the study's own grid and each of its `grids`."""
    own = {f: getattr(study, f) for f in ("backbones", "downstream", "pipelines", "methods")}
    found = [("", own)]
    for index, grid in enumerate(study.grids):
        given = grid.model_dump(exclude_none=True, exclude_unset=True).keys()
        found.append((f"grids.{index}: ", {**own, **{f: getattr(grid, f) for f in given}}))
    return found


def check_grid(grid: dict[str, Any], where: str) -> None:
    """The rules a grid's fields must obey together."""
    if not grid["pipelines"]:
        raise UserError(f"{where}pipelines: tabular tasks need at least one pipeline")
    if not grid["downstream"]:
        raise UserError(f"{where}downstream: tabular tasks need at least one downstream model")
    language = [p for p in grid["pipelines"] if p in LANGUAGE_MODEL_PIPELINES]
    if language and not grid["backbones"]:
        raise UserError(f"{where}pipelines {', '.join(language)} need at least one backbone")
    tuned = [p for p in grid["pipelines"] if p in ("one_step", "two_step")]
    if tuned and not _tuning(grid["methods"]):
        raise UserError(
            f"{where}pipelines {', '.join(tuned)} need at least one method other than frozen "
            "(e.g. methods: [lora])"
        )
    if "tfidf" in grid["pipelines"] and not any(
        isinstance(d, GBDTConfig) for d in grid["downstream"]
    ):
        raise UserError(f"{where}pipeline tfidf trains trees: add gbdt to downstream")


def _tuning(methods: list[MethodEntry]) -> list[tuple[int, MethodEntry]]:
    """The methods (with their index) that tune a backbone: one_step's and two_step's."""
    return [(i, m) for i, m in enumerate(methods) if METHODS[m.method.name].trains_backbone]


def cells(study: Any, task: TabularTaskConfig) -> list[Cell]:
    """The task's cells in table order, grid by grid: the LM-free baselines, then per backbone,
    downstream model, pipeline and method (a run two grids share is run once: study.expand)."""
    _check_text_columns(task, study.pipelines)
    found = []
    for prefix, grid in grids(study):
        mine = _grid_cells(grid, prefix, study.downstream_training)
        if not mine:
            raise UserError(
                f"{prefix}the study has no runs: one_step needs mlp or ft_transformer, tfidf "
                "needs gbdt"
            )
        found += mine
    return found


def _grid_cells(grid: dict[str, Any], prefix: str, downstream_training) -> list[Cell]:
    out = []
    for pipeline in ("tabular_only", "tfidf"):
        for downstream in grid["downstream"] if pipeline in grid["pipelines"] else []:
            if pipeline == "tfidf" and not isinstance(downstream, GBDTConfig):
                continue
            out.append(Cell(None, None, "", _options(pipeline, downstream, downstream_training)))
    for backbone in grid["backbones"]:
        for downstream in grid["downstream"]:
            for pipeline in LANGUAGE_MODEL_PIPELINES:
                if pipeline not in grid["pipelines"]:
                    continue
                if pipeline == "one_step" and isinstance(downstream, GBDTConfig):
                    continue
                options = _options(pipeline, downstream, downstream_training)
                if pipeline == "frozen":
                    entry = MethodEntry(method=FrozenConfig())
                    out.append(Cell(backbone, entry, "the frozen pipeline", options, False))
                    continue
                for index, entry in _tuning(grid["methods"]):
                    out.append(Cell(backbone, entry, f"{prefix}methods.{index}", options))
    return out


def _options(pipeline: str, downstream, downstream_training) -> dict[str, Any]:
    trees = isinstance(downstream, GBDTConfig)
    return {
        "pipeline": pipeline,
        "downstream": downstream.model_dump(mode="json"),
        "downstream_training": None if trees else downstream_training.model_dump(mode="json"),
    }


def problem_of(task: TabularTaskConfig) -> str:
    if task.path is None:
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


def step1_id(run: Any) -> str:
    """two_step: what step 1 depends on (not the downstream model), so that every downstream
    model of a study trained on the same backbone, task, method and seed shares it."""
    flat = run.flat()
    step1 = {k: flat[k] for k in ("backbone", "task", "method", "seed", "training")}
    return hashlib.sha256(json.dumps(identity(step1), sort_keys=True).encode()).hexdigest()[:16]


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
