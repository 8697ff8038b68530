"""A visual_qa run exports as one image-text model folder that transformers loads alone and
that answers as the trained run does; what cannot be written so is refused with the reason."""

from __future__ import annotations

import pytest
import torch
from rich.console import Console
from shapes_vqa import write_shapes_task
from tiny_vlm import tiny_llava
from transformers import AutoModelForImageTextToText, AutoProcessor

from tunebench.errors import UserError
from tunebench.export.folder import export_run
from tunebench.export.rebuild import rebuild
from tunebench.families.visual_qa.batches import training_batch
from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

STUDY = """
name: vqa_export
backbones: [{model}]
tasks: [{{name: shapes, family: visual_qa, path: {task}}}]
methods:
  - {{name: lora, r: 4, connector: trainable}}
  - {{name: last_n, n: 1}}
  - {{name: prefix, num_virtual_tokens: 4}}
seeds: [0]
training: {{epochs: 1, batch_size: 4, max_length: 128, learning_rate: 0.01}}
save_checkpoints: true
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqa_export")
    model, task = tiny_llava(root / "llava"), write_shapes_task(root, images=8)
    study_file = root / "study.yaml"
    study_file.write_text(STUDY.format(model=model, task=task))
    run_study(load_study(study_file), root / "out", Console(quiet=True), study_file)
    with ResultsStore(root / "out" / "results.sqlite") as store:
        runs = {r.method: r.run_id for r in store.runs("completed")}
    batch = training_batch(
        AutoProcessor.from_pretrained(model),
        sorted((root / "images").glob("*.png"))[:2],
        ["What colour is the shape?"] * 2,
        ["red", "green"],
    )
    return root / "out", runs, model, batch


@pytest.mark.parametrize(("method", "merge"), [("lora", True), ("last_n", False)])
def test_an_exported_run_answers_as_the_trained_run(study, tmp_path, method, merge):
    out, runs, base, batch = study
    trained = rebuild(out, runs[method]).model
    assert export_run(out, runs[method], tmp_path / "export", merge=merge) == "model"
    loaded = AutoModelForImageTextToText.from_pretrained(tmp_path / "export").eval()
    AutoProcessor.from_pretrained(tmp_path / "export")  # the processor is beside it
    pretrained = AutoModelForImageTextToText.from_pretrained(base).eval()
    with torch.inference_mode():
        expected = trained(**batch).logits
        torch.testing.assert_close(loaded(**batch).logits, expected, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(pretrained(**batch).logits, expected, atol=1e-4)


def test_what_is_not_one_model_folder_is_refused(study, tmp_path):
    out, runs, _, _ = study
    with pytest.raises(UserError, match="pass --merge"):
        export_run(out, runs["lora"], tmp_path / "unmerged")
    with pytest.raises(UserError, match="prefix's trained tokens"):
        export_run(out, runs["prefix"], tmp_path / "prefix")
    assert not (tmp_path / "unmerged").exists() or not any((tmp_path / "unmerged").iterdir())
