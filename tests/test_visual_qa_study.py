"""A visual_qa study end to end on a tiny LLaVA folder (random weights, loaded as a user's
model loads) and a JSONL of generated PNGs: every run completes with the VQA metrics, the
connector setting is a row of its own, and bad input stops the study before anything trains."""

from __future__ import annotations

import json

import pytest
from shapes_vqa import write_shapes_task
from test_cli import cli
from tiny_vlm import tiny_idefics3, tiny_llava

STUDY = """
name: vqa_tiny
backbones: [{model}]
tasks: [{{name: shapes, family: visual_qa, path: {task}}}]
methods:
  - {{name: lora, r: 4}}
  - {{name: lora, r: 4, connector: trainable}}
  - ia3
  - {{name: prefix, num_virtual_tokens: 4}}
seeds: [0]
training: {{epochs: 2, batch_size: 4, max_length: 128}}
"""


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vqa")
    return tiny_llava(folder / "llava"), write_shapes_task(folder, images=12)


def _study(tmp_path, assets, text=STUDY):
    model, task = assets
    path = tmp_path / "study.yaml"
    path.write_text(text.format(model=model, task=task))
    return path


def test_a_study_records_the_vqa_metrics_for_every_run(tmp_path, assets):
    out = tmp_path / "out"
    ran = cli("run", str(_study(tmp_path, assets)), "-o", str(out), "--threads", "1")
    assert ran.returncode == 0, ran.stderr[-2000:]
    runs = json.loads(cli("results", str(out), "-f", "json").stdout)
    assert [r["status"] for r in runs] == ["completed"] * 4
    for run in runs:
        test = run["metrics"]["test"]
        for metric in ("exact_match", "token_f1", "yes_no_accuracy", "hallucination_rate"):
            assert 0.0 <= test[metric] <= 1.0, metric
        assert len(run["metrics"]["test_examples"]["exact_match"]) == 5  # 20% of 24 questions
        parts = run["costs"]["parameters_by_part"]
        assert parts["vision"]["trainable"] == 0
        assert run["costs"]["trainable_params"] == sum(p["trainable"] for p in parts.values())
    connector = [r["costs"]["parameters_by_part"]["connector"]["trainable"] for r in runs]
    assert connector == [0, 2 * (32 * 32 + 32), 0, 0]  # lora, lora + connector, ia3, prefix
    table = cli("results", str(out)).stdout
    assert "lora connector=frozen" in table and "lora connector=trainable" in table


IDEFICS3_STUDY = """
name: vqa_idefics3
backbones: [{model}]
tasks:
  - name: shapes
    family: visual_qa
    path: {task}
    eval_tasks: [{{name: again, family: visual_qa, path: {task}}}]
methods:
  - {{name: lora, r: 4, connector: trainable}}
  - {{name: prompt, num_virtual_tokens: 4}}
seeds: [0]
training: {{epochs: 1, batch_size: 4, max_length: 128}}
"""


def test_an_idefics3_study_runs_through_the_same_path(tmp_path, assets):
    """SmolVLM's architecture: its processor's image tokens, pixel mask and connector;
    `eval_tasks` tests the trained model on another file; and the parallel executor's workers
    load the model and the images themselves."""
    model = tiny_idefics3(tmp_path / "idefics3")
    out = tmp_path / "out"
    study = str(_study(tmp_path, (model, assets[1]), IDEFICS3_STUDY))
    ran = cli("run", study, "-o", str(out), "--executor", "parallel", "--workers", "2")
    assert ran.returncode == 0, ran.stderr[-2000:]
    runs = json.loads(cli("results", str(out), "-f", "json").stdout)
    assert [r["status"] for r in runs] == ["completed"] * 2
    parts = {r["config"]["method"]["name"]: r["costs"]["parameters_by_part"] for r in runs}
    assert parts["lora"]["connector"]["trainable"] == 4 * 32 * 32  # one linear layer, no bias
    assert parts["prompt"]["connector"]["trainable"] == 0  # workers finish in either order
    assert parts["prompt"]["language_model"]["trainable"] == 4 * 32  # four virtual tokens
    for run in runs:  # tested again on the same file as a transfer task: the same answers
        test, again = run["metrics"]["test"], run["metrics"]["transfer"]["again"]
        assert 0.0 <= test["exact_match"] <= 1.0
        assert {k: again[k] for k in ("exact_match", "token_f1", "samples")} == {
            k: test[k] for k in ("exact_match", "token_f1", "samples")
        }
        assert run["costs"]["transfer_seconds"] > 0


def test_a_missing_image_stops_the_study_before_training(tmp_path, assets):
    model, task = assets
    rows = task.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    row = json.loads(rows[4])
    row["image"] = "images/nowhere.png"
    broken.write_text("\n".join([*rows[:4], json.dumps(row), *rows[5:]]) + "\n")
    (tmp_path / "images").symlink_to(task.parent / "images")
    study = _study(tmp_path, (model, broken))
    out = tmp_path / "out"
    ran = cli("run", str(study), "-o", str(out))
    assert ran.returncode == 2
    assert "data row 5" in ran.stderr and "nowhere.png does not exist" in ran.stderr
    assert not (out / "results.sqlite").exists()


def test_a_connector_setting_on_a_text_task_is_refused(tmp_path, tiny_assets):
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: x\nbackbones: [{tiny_assets / 'lm'}]\n"
        f"tasks: [{{name: words, path: {tiny_assets / 'task.csv'}}}]\n"
        "methods: [{name: lora, connector: trainable}]\n"
    )
    ran = cli("run", str(study), "-o", str(tmp_path / "out"))
    assert ran.returncode == 2
    assert "methods.0.connector: only visual_qa tasks have one" in ran.stderr


def test_the_plan_counts_a_runs_tokens_as_its_batches_do(tmp_path, assets):
    """Image tokens included: what `tunebench plan` scales a probe by (token_lengths) are the
    totals the run groups its batches by."""
    from tunebench.families.visual_qa import FAMILY
    from tunebench.families.visual_qa.run import Tokened
    from tunebench.models.image_text import load_processor
    from tunebench.study.expand import expand
    from tunebench.study.load import load_study

    spec = expand(load_study(_study(tmp_path, assets)))[0]
    data = FAMILY.load(spec.task)
    lengths = FAMILY.token_lengths(spec, data)
    processor = load_processor(spec.backbone)
    assert lengths.train == Tokened.of(processor, data.train).totals
    assert min(lengths.train) > 16  # a tiny LLaVA image is 16 tokens
    assert len(set(lengths.train)) > 1
    assert len(lengths.test) == len(data.test.ids)


def test_method_settings_are_checked_against_the_language_model(tmp_path, assets):
    """Blocks and module names are the language model's (what the method sees), checked before
    anything trains."""
    from tunebench.errors import UserError
    from tunebench.study.checks import checked_runs
    from tunebench.study.load import load_study

    text = STUDY.replace("  - ia3\n", "  - {{name: lora, layers: [5]}}\n")
    study = load_study(_study(tmp_path, assets, text))
    with pytest.raises(UserError, match=r"layers \[5\]: the backbone has blocks 0-1"):
        checked_runs(study, tmp_path / "out")
