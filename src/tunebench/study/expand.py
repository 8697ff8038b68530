"""A study's runs: each task's family lays out its cells (backbone x method, or the tabular
pipelines), and every cell is crossed with the study's training variants, sweep points and
seeds, with its training settings resolved.

Order: task, then the family's cell order, variant, sweep point, seed. A run that two cells
produce alike (a baseline that no variant or sweep setting changes) is listed once.
"""

from __future__ import annotations

import itertools
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tunebench.errors import UserError
from tunebench.families.base import Cell
from tunebench.families.registry import family_for
from tunebench.methods import METHODS, AnyMethodConfig
from tunebench.study.messages import describe
from tunebench.study.spec import RunSpec
from tunebench.study.sweeps import Point, fixed_points, split_point
from tunebench.training.config import TrainingConfig

_method_adapter = TypeAdapter(AnyMethodConfig)


def expand(study, points: list[Point] | None = None) -> list[RunSpec]:
    """The study's runs. `points` defaults to the sweep's own (grid, random); a tpe sweep
    passes those it asked for."""
    points = fixed_points(study.sweep) if points is None else points
    runs: dict[str, RunSpec] = {}
    for task in study.tasks:
        family = family_for(task)
        for cell in family.cells(study, task):
            for (v, variant), point, seed in itertools.product(
                enumerate(study.variants), points, study.seeds
            ):
                spec = _spec(study, task, family, cell, v, variant, point, seed)
                runs.setdefault(spec.run_id, spec)
    return list(runs.values())


def _spec(study, task, family, cell: Cell, v: int, variant, point: Point, seed: int) -> RunSpec:
    method_overrides, training_overrides, task_overrides = split_point(point)
    task = _swept_task(task, task_overrides)
    entry, method, training = cell.entry, None, None
    if entry is not None:
        method = entry.method
        if cell.sweeps_method:
            method = _swept_method(method, method_overrides, cell.where)
        where = f"{cell.where}.training or variants.{v}"
        if training_overrides:
            where += " or sweep.space"
        training = resolve_training(
            study.training,
            [entry.training, variant, training_overrides],
            method.name,
            where,
            family.training_defaults(task),
        )
        validation = family.validation_metrics(task)
        if training.selection_metric not in validation:
            raise UserError(
                f"training.selection_metric (or {where}): {family.name} task {task.name!r} "
                f"reports {', '.join(validation)} on validation, not "
                f"{training.selection_metric!r}"
            )
    return RunSpec(
        backbone=cell.backbone,
        task=task,
        method=method,
        seed=seed,
        training=training,
        trust_remote_code=study.trust_remote_code,
        options=cell.options,
    )


def _swept_task(task, overrides: dict[str, Any]):
    """The task with a sweep point's `task.<setting>` values (a data-size curve sweeps
    `task.max_train_samples`)."""
    where = f"task {task.name!r}"
    return _swept("task", task, overrides, where, type(task).model_validate)


def _swept_method(method, overrides: dict[str, Any], where: str):
    return _swept(
        "method", method, overrides, f"{where} ({method.name})", _method_adapter.validate_python
    )


def _swept(section: str, config, overrides: dict[str, Any], where: str, validate):
    """`config` with a sweep point's overrides of its `section`, validated again; one error
    naming the setting for an unknown setting or a bad value."""
    if not overrides:
        return config
    fields = type(config).model_fields
    unknown = set(overrides) - set(fields)
    if unknown:
        raise UserError(
            f"sweep.space.{section}.{sorted(unknown)[0]}: {where} has no such setting "
            f"(its settings: {', '.join(fields)})"
        )
    try:
        return validate({**config.model_dump(), **overrides})
    except ValidationError as error:
        raise UserError(f"sweep.space ({where}): {describe(error)}") from error


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
