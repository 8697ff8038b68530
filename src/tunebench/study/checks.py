"""Everything about a study that can be wrong, checked before anything trains or is written:
the output folder, every task's data, every backbone, every method's settings against its
backbone's modules. Nothing here imports torch or transformers' model code (a shape already
in the cache needs neither), so a mistake is one line within a few seconds, and the command
imports the training stack only for a study that passed."""

from __future__ import annotations

from pathlib import Path

from tunebench.errors import UserError
from tunebench.families.registry import family_for
from tunebench.methods import METHODS
from tunebench.models.shape import backbone_shape
from tunebench.study.expand import expand
from tunebench.study.folder import check_output_folder
from tunebench.study.load import first_points
from tunebench.study.spec import RunSpec


def checked_runs(study, output_dir: Path, source: Path | None = None) -> list[RunSpec]:
    """The study's runs (a TPE sweep's first points), once every check passed; a UserError
    naming `source` (the study file), the field, file, row or column otherwise."""
    check_output_folder(output_dir)
    runs = expand(study, first_points(study))
    check_inputs(study, runs, source)
    return runs


def check_inputs(study, runs: list[RunSpec], source: Path | None = None) -> None:
    """Load every task's data (and that of every task it is also tested on), find every
    backbone and check every method's settings against its backbone's modules."""
    prefix = f"{source}: " if source else ""
    for task in {spec.task.model_dump_json(): spec.task for spec in runs}.values():
        family = family_for(task)
        data = family.load(task)  # cached: the runs load it again for free
        for index, other in enumerate(task.transfer_tasks()):
            problem = family.transfer_problem(data, family.load(other))
            if problem is not None:
                where = f"task {task.name!r}, eval_tasks.{index} ({other.name!r})"
                raise UserError(f"{prefix}{where}: {problem}")
    for backbone in dict.fromkeys(spec.backbone for spec in runs if spec.backbone):
        where = (
            f"backbones.{study.backbones.index(backbone)}"
            if backbone in study.backbones
            else "grids"
        )
        try:
            backbone_shape(backbone, study.trust_remote_code)
        except UserError as error:
            raise UserError(f"{prefix}{where}: {error}") from None
    for spec in runs:
        if spec.backbone is None or spec.method is None:
            continue
        shape = backbone_shape(spec.backbone, study.trust_remote_code)
        misfit = METHODS[spec.method.name].misfit(spec.method, shape)
        if misfit is not None:
            raise UserError(f"{prefix}methods: {spec.method.name} on {spec.backbone}: {misfit}")
