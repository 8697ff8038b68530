"""A recorded run's trained model, rebuilt: the backbone loaded, the model its family builds
around it, the method applied as in training, and the checkpoint's tensors loaded into it.

A checkpoint (`save_checkpoints: true`) holds the trainable tensors only; everything else is
the pretrained backbone, which loads the same way it did for the run. Every tensor of the
checkpoint must land in the rebuilt model, so a run rebuilt differently fails here, loudly,
rather than exporting a model that is not the one that was tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_file
from torch import nn

from tunebench.errors import UserError
from tunebench.families.registry import family_for
from tunebench.methods import METHODS
from tunebench.methods.base import ModelKind
from tunebench.models.backbones import Backbone, load_backbone, load_causal_lm
from tunebench.records import RunRecord
from tunebench.store import ResultsStore
from tunebench.study.run_path import checkpoint_file
from tunebench.study.spec import RunSpec

EXPORTABLE: tuple[ModelKind, ...] = ("classifier", "token_classifier", "causal_lm", "image_text")
"""The model kinds `export` writes (a tabular pipeline's text encoder feeds a model of its own:
not yet)."""


@dataclass
class Rebuilt:
    record: RunRecord
    spec: RunSpec
    kind: ModelKind
    model: nn.Module
    """As it trained: the method applied (a peft model for the peft methods), weights loaded."""
    backbone: Backbone
    label_names: list[str] | None
    pooling: str | None
    columns: dict[str, str | None] | None
    """The input columns `predict` reads: a classifier's {"text": ..., "text_pair": ... or
    None}, a token classifier's {"words": ...}, a generation run's {"prompt": ...}, a visual_qa
    run's {"image": ..., "question":
    ..., "choices": ... or None}; None for other causal-LM runs."""
    generation: dict | None = None
    """A generation run's `prompt_format` (resolved) and `max_new_tokens`, a visual_qa run's
    `max_new_tokens`, for `predict`."""
    processor: Any = None
    """An image-text model's processor, saved in place of the tokenizer (export/image_text.py)."""


def recorded_run(study_dir: Path, run_id: str) -> tuple[RunRecord, Path]:
    """The completed run `run_id` of the study in `study_dir` and its checkpoint file."""
    store_path = study_dir / "results.sqlite"
    if not store_path.is_file():
        raise UserError(f"{study_dir}: no results.sqlite here (not a study's output folder)")
    with ResultsStore(store_path) as store:
        record = store.record(run_id)
    if record is None:
        raise UserError(
            f"run {run_id!r} is not in {store_path} (`tunebench results {study_dir} "
            "--format json` lists the runs and their ids)"
        )
    if record.status != "completed":
        raise UserError(f"run {run_id} is {record.status}, not completed: nothing to export")
    checkpoint = checkpoint_file(study_dir, run_id)
    if not checkpoint.is_file() and record.costs.get("trainable_params") != 0:
        raise UserError(
            f"run {run_id} has no checkpoint ({checkpoint} is missing): the study ran without "
            "`save_checkpoints: true`. Set it in the study file and run the study into a new "
            "output folder (completed runs are not trained again in this one)"
        )
    return record, checkpoint  # a run that trained nothing (zero-shot) has no checkpoint


def rebuild(study_dir: Path, run_id: str) -> Rebuilt:
    """The trained model of a recorded run, ready to be written out (UserError if it cannot)."""
    record, checkpoint = recorded_run(study_dir, run_id)
    spec = RunSpec.from_flat(record.config)
    family = family_for(spec.task)
    kind = family.model_kind
    if kind not in EXPORTABLE or spec.method is None:
        raise UserError(
            f"run {run_id}: export writes classification, token-classification, generative "
            f"(causal LM) and visual_qa runs; a {family.name} run cannot be exported yet"
        )
    if kind == "image_text":
        return _image_text(record, spec, checkpoint)
    data = family.load(spec.task)
    label_names = None if kind == "causal_lm" else list(data.label_names)
    backbone, model, pooling = _model(spec, kind, label_names)
    _load(model, load_file(checkpoint) if checkpoint.is_file() else {}, checkpoint)
    model.eval()
    columns, generation = None, None
    if kind == "classifier":
        columns = _classifier_columns(spec.task, data)
    elif kind == "token_classifier":
        columns = {"words": spec.task.tokens_column}
    elif family.name == "generation":
        columns, generation = _generation_inputs(spec.task, data, backbone)
    return Rebuilt(record, spec, kind, model, backbone, label_names, pooling, columns, generation)


def _image_text(record: RunRecord, spec: RunSpec, checkpoint: Path) -> Rebuilt:
    """A visual_qa run's image-text model with its checkpoint loaded, and its processor."""
    from tunebench.export.image_text import image_text_model
    from tunebench.models.image_text import image_text_parts
    from tunebench.models.locate import model_path

    model, processor = image_text_model(spec)
    _load(model, load_file(checkpoint) if checkpoint.is_file() else {}, checkpoint)
    model.eval()
    language = image_text_parts(model).language
    path = model_path(spec.backbone)
    backbone = Backbone(spec.backbone, language, processor.tokenizer, "decoder", "last", path)
    task = spec.task
    columns = {
        "image": task.image_column,
        "question": task.question_column,
        "choices": task.choices_column,
    }
    generation = {"max_new_tokens": task.max_new_tokens}
    return Rebuilt(
        record, spec, "image_text", model, backbone, None, None, columns, generation, processor
    )


def _classifier_columns(task: Any, data: Any) -> dict[str, str | None]:
    """The columns a file to predict on needs: the task's own for a user's file, `text` (and
    `text_pair`) for a built-in task."""
    if task.path is not None:
        return {"text": task.text_column, "text_pair": task.text_pair_column}
    pairs = data.test.text_pairs is not None
    return {"text": "text", "text_pair": "text_pair" if pairs else None}


def _generation_inputs(task: Any, data: Any, backbone: Backbone) -> tuple[dict, dict]:
    """A generation task's prompt column (a built-in task's: `prompt`) and how it generated."""
    from tunebench.families.causal_lm.sequences import resolve_format

    column = task.prompt_column if task.path is not None else "prompt"
    settings = {
        "prompt_format": resolve_format(task.prompt_format, backbone.tokenizer),
        "max_new_tokens": data.max_new_tokens,
    }
    return {"prompt": column}, settings


def _model(
    spec: RunSpec, kind: ModelKind, label_names: list[str] | None
) -> tuple[Backbone, nn.Module, str | None]:
    """The model as `train_and_test` built it, before training (the method applied)."""
    method = METHODS[spec.method.name]
    if kind == "causal_lm":
        backbone = load_causal_lm(spec.backbone, spec.trust_remote_code)
        return backbone, method.apply(backbone.model, spec.method, backbone.path), None
    backbone = load_backbone(spec.backbone, spec.trust_remote_code)
    if kind == "token_classifier":
        from tunebench.families.token_classification.run import TokenClassifier

        model = TokenClassifier(backbone.model, len(label_names))
        return backbone, method.apply(model, spec.method, backbone.path), None
    from tunebench.families.classification.run import build_classifier

    classifier = build_classifier(backbone, len(label_names), spec.training.pooling)
    return backbone, method.apply(classifier, spec.method, backbone.path), classifier.pooling


def _load(model: nn.Module, tensors: dict[str, Any], path: Path) -> None:
    missing_from_model = set(tensors) - set(model.state_dict())
    if missing_from_model:
        names = ", ".join(sorted(missing_from_model)[:3])
        raise UserError(
            f"{path}: {len(missing_from_model)} tensors have no place in the rebuilt model "
            f"({names}, ...): the checkpoint was written by another version of the run"
        )
    model.load_state_dict(tensors, strict=False)
