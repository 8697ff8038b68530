"""The real smollm2-135m on each generative family: a handful of examples, two steps each."""

import pytest
import yaml
from rich.console import Console

from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

pytestmark = pytest.mark.real


def test_smollm2_smoke_run_on_every_generative_family(tmp_path):
    small = {"max_train_samples": 8, "max_eval_samples": 4}
    study = {
        "name": "smoke",
        "backbones": ["smollm2-135m"],
        "tasks": [
            {"name": "xsum", "max_new_tokens": 8, **small},
            {"name": "commonsense_qa", **small},
            {"name": "summary_pairs", **small},
        ],
        "methods": [{"name": "lora", "r": 4}],
        "training": {"epochs": 1, "max_steps": 2, "batch_size": 4, "max_length": 128},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    summary = run_study(load_study(tmp_path / "study.yaml"), tmp_path / "run", Console(quiet=True))
    assert summary.completed == 3
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        runs = {r.task: r for r in store.runs()}
    xsum = runs["xsum"].metrics
    assert 1 < xsum["test"]["perplexity"] < 1000 and 0 <= xsum["test"]["rouge1"] <= 1
    assert len(xsum["test"]["samples"]) == 3 and all(
        s["generated"] for s in xsum["test"]["samples"]
    )
    assert 0 <= runs["commonsense_qa"].metrics["test"]["accuracy"] <= 1
    assert 0 <= runs["summary_pairs"].metrics["test"]["reward_accuracy"] <= 1
    for run in runs.values():
        assert run.costs["steps"] == 2
        # LoRA r=4 on q_proj (576 -> 576) and v_proj (576 -> 192) in 30 blocks
        assert run.costs["trainable_params"] == 30 * 4 * ((576 + 576) + (576 + 192))
