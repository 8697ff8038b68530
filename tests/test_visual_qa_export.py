"""A visual_qa run exports as one image-text model folder that transformers loads alone and
that answers as the trained run does; what cannot be written so is refused with the reason."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from rich.console import Console
from rich.progress import Progress
from shapes_vqa import write_shapes_task
from tiny_vlm import tiny_llava
from transformers import AutoModelForImageTextToText, AutoProcessor

from tunebench.errors import UserError
from tunebench.export.folder import export_run
from tunebench.export.predict import predict_file
from tunebench.export.rebuild import rebuild
from tunebench.families.visual_qa.batches import (
    generate_answers,
    option_logprobs,
    training_batch,
)
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


def test_predict_answers_with_an_export_as_the_trained_run_does(study, tmp_path):
    """Open questions generated, a row with choices answered by its likeliest option, each
    as the rebuilt run answers them; a bad image is refused before the model loads."""
    out, runs, _, _ = study
    export_run(out, runs["lora"], tmp_path / "export", merge=True)
    images = sorted((out.parent / "images").glob("*.png"))[:3]
    rows = [
        {"image": str(images[0]), "question": "What colour is the square?"},
        {"image": str(images[1]), "question": "Is the circle red?", "choices": ["yes", "no"]},
        {"image": str(images[2]), "question": "What colour is the square?", "choices": None},
    ]
    (tmp_path / "ask.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Progress(console=Console(quiet=True)) as progress:
        count = predict_file(
            tmp_path / "export", tmp_path / "ask.jsonl", tmp_path / "a.csv", progress
        )
    answers = pd.read_csv(tmp_path / "a.csv", keep_default_na=False)
    assert count == 3 and list(answers.columns) == ["row", "answer"]
    trained = rebuild(out, runs["lora"])
    model, processor = trained.model, trained.processor
    opened = [images[0], images[2]]
    questions = [rows[0]["question"], rows[2]["question"]]
    expected = generate_answers(model, processor, opened, questions, 16, 8)
    scores = option_logprobs(model, processor, images[1], rows[1]["question"], ["yes", "no"])
    expected.insert(1, ["yes", "no"][scores.index(max(scores))])
    assert answers["answer"].tolist() == expected

    rows[2]["image"] = str(tmp_path / "gone.png")
    (tmp_path / "bad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=r"column 'image', data row 3: image .*gone.png does not"):
        predict_file(tmp_path / "export", tmp_path / "bad.jsonl", tmp_path / "b.csv", progress)
    assert not (tmp_path / "b.csv").exists()
