"""`tunebench export STUDY_DIR RUN_ID OUT_DIR`: a recorded run's trained model in the standard
format of its method (writers.py), with its tokenizer and a `tunebench.json` that names the
backbone, the task's labels, the pooling and the run's config.

The folder is written beside OUT_DIR and renamed into place at the end, so a failed export
leaves nothing half-written; an OUT_DIR that exists and is not empty is refused.

    rebuild (the run's model, its checkpoint loaded) -> write (peft / model / bottleneck)
        -> tokenizer + tunebench.json -> OUT_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from tunebench import __version__
from tunebench.errors import UserError
from tunebench.export.info import INFO
from tunebench.export.rebuild import Rebuilt, rebuild
from tunebench.export.writers import write


def export_run(study_dir: Path, run_id: str, out_dir: Path, merge: bool = False) -> str:
    """Export run `run_id` of the study in `study_dir` into `out_dir`; returns the format."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UserError(f"{out_dir}: exists and is not an empty folder; choose a new one")
    run = rebuild(study_dir, run_id)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-"))
    try:
        written = write(run, staging, merge)
        (run.processor or run.backbone.tokenizer).save_pretrained(staging)
        info = _info(run, written, merge)
        (staging / INFO).write_text(json.dumps(info, indent=2) + "\n")
        _usual_permissions(staging)
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _info(run: Rebuilt, written: str, merged: bool) -> dict:
    """What a loader needs besides the weights, and where the model came from."""
    spec = run.spec
    return {
        "format": written,
        "model_kind": run.kind,
        "base_model": str(Path(run.backbone.path).resolve()),
        "backbone": spec.backbone,
        "pooling": run.pooling,
        "labels": run.label_names,
        "columns": run.columns,
        "generation": run.generation,
        "max_length": spec.training.max_length,
        "merged": merged,
        "run_id": run.record.run_id,
        "study": run.record.study,
        "task": spec.task.model_dump(mode="json"),
        "method": spec.method.model_dump(mode="json"),
        "run_config": run.record.config,
        "tunebench_version": __version__,
    }


def _usual_permissions(folder: Path) -> None:
    """What the user's umask gives new files (a temporary folder and safetensors are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)
