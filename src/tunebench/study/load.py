"""Reading a study file: YAML -> the validated study, its runs expanded once so that every
override (variants, sweep settings, method entries' training) is checked before anything runs.
Every problem becomes one UserError naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from tunebench.errors import UserError
from tunebench.study.expand import expand
from tunebench.study.messages import describe
from tunebench.study.schema import StudyConfig
from tunebench.study.sweeps import example_points


def load_study(path: Path):
    """The study in `path` (a StudyConfig)."""
    if not path.is_file():
        raise UserError(f"{path}: no such study file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {_yaml_problem(error)}") from error
    if not isinstance(raw, dict):
        raise UserError(
            f"{path}: a study must be a YAML mapping with name, tasks, backbones, methods"
        )
    try:
        study = StudyConfig.model_validate(raw)
        expand(study, first_points(study))
    except ValidationError as error:
        raise UserError(f"{path}: {describe(error)}") from error
    except UserError as error:
        raise UserError(f"{path}: {error}") from error
    return study


def first_points(study) -> list | None:
    """The sweep points to expand before any result exists: a tpe sweep's points depend on
    results, so its first and last values stand in for it (enough to validate the overrides);
    None (the sweep's own points) otherwise."""
    tpe = study.sweep is not None and study.sweep.strategy == "tpe"
    return example_points(study.sweep) if tpe else None


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where (1-based line, column)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"
