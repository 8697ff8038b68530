"""Generative runs end to end on a tiny decoder saved as a local model folder: every method on
every family, zero-shot frozen runs, DPO, forgetting, greedy generation and clear failures."""

import json
import math
import random
from pathlib import Path

import pytest
import torch
import yaml
from accelerate import Accelerator
from rich.console import Console

from tunebench.errors import UserError
from tunebench.families.causal_lm.sequences import Renderer
from tunebench.families.generation.run import generate, generation_scores, normalise
from tunebench.families.preference.run import dpo_loss
from tunebench.methods import METHODS
from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study
from tunebench.training import prefix_cache
from tunebench.training.config import TrainingConfig

from tiny import TINY_SETTINGS, tiny_bert, tiny_causal_lm, tiny_tokenizer

WORDS = ["cat", "dog", "sun", "tree"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A tiny decoder + tokenizer folder and one small file per family."""
    root = tmp_path_factory.mktemp("generative")
    tiny_causal_lm().save_pretrained(root / "lm")
    tiny_tokenizer().save_pretrained(root / "lm")
    encoder = tiny_bert()
    encoder.config.architectures = ["BertModel"]
    encoder.save_pretrained(root / "encoder")
    tiny_tokenizer().save_pretrained(root / "encoder")
    rng = random.Random(0)
    words = [rng.choice(WORDS) for _ in range(60)]
    _jsonl(root / "gen.jsonl", [{"prompt": f"repeat {w}", "response": w} for w in words])
    _jsonl(
        root / "mc.jsonl",
        [{"question": f"pick {w}", "options": WORDS, "label": WORDS.index(w)} for w in words],
    )
    _jsonl(
        root / "pref.jsonl",
        [{"prompt": f"say {w}", "chosen": w, "rejected": w[::-1] + "x"} for w in words],
    )
    return root


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _tasks(root: Path, **extra) -> list[dict]:
    return [
        {"name": "g", "path": str(root / "gen.jsonl"), "family": "generation", **extra},
        {"name": "m", "path": str(root / "mc.jsonl"), "family": "multiple_choice"},
        {"name": "p", "path": str(root / "pref.jsonl"), "family": "preference"},
    ]


def _run(root: Path, out: Path, methods: list, tasks: list[dict], **training) -> list:
    study = {
        "name": "gen",
        "backbones": [str(root / "lm")],
        "tasks": tasks,
        "methods": methods,
        "training": {"epochs": 2, "batch_size": 8, "max_length": 64, **training},
    }
    (out / "study.yaml").parent.mkdir(parents=True, exist_ok=True)
    (out / "study.yaml").write_text(yaml.safe_dump(study))
    run_study(load_study(out / "study.yaml"), out / "run", Console(quiet=True))
    with ResultsStore(out / "run" / "results.sqlite") as store:
        return store.runs()


EXPECTED_TEST_METRICS = {
    "g": {"loss", "perplexity", "rouge1", "rouge2", "rougeL", "generation_seconds", "samples"},
    "m": {"accuracy", "accuracy_norm"},
    "p": {"loss", "chosen_perplexity", "logp_accuracy", "reward_accuracy", "reward_margin"},
}


def test_every_method_runs_on_every_family(folder, tmp_path):
    methods = [{"name": m, **TINY_SETTINGS.get(m, {})} for m in METHODS]
    runs = _run(folder, tmp_path, methods, _tasks(folder, max_new_tokens=4))
    assert len(runs) == 3 * len(METHODS)
    for run in runs:
        if run.method == "bitfit" or (run.method == "qlora" and not torch.cuda.is_available()):
            assert run.status == "failed" and run.reason.startswith("unsupported")
            continue  # Llama has no biases; QLoRA needs CUDA
        assert run.status == "completed", run.reason
        expected = EXPECTED_TEST_METRICS[run.task]
        if run.method == "frozen":  # zero-shot: nothing trained, no implicit reward
            assert run.costs["steps"] == 0 and run.costs["trainable_params"] == 0
            # its one validation pass counts in its evaluation time, as a trained run's do
            (entry,) = run.history
            assert 0 < entry["validation_seconds"] < run.costs["eval_seconds"]
            expected = expected - {"reward_accuracy", "reward_margin"}
        else:
            assert run.costs["steps"] > 0 and run.costs["trainable_params"] > 0
        assert set(run.metrics["test"]) == expected
        examples = run.metrics["test_examples"]  # per test example, for paired tests
        assert all(len(v) == len(next(iter(examples.values()))) for v in examples.values())
        assert "examples" not in run.metrics["validation"]
        assert all(math.isfinite(v) for v in run.metrics["test"].values() if isinstance(v, float))


def test_dpo_raises_held_out_reward_accuracy(folder, tmp_path):
    runs = _run(folder, tmp_path, [{"name": "full"}], _tasks(folder)[2:], learning_rate=1e-3)
    (run,) = runs
    test = run.metrics["test"]
    assert test["reward_accuracy"] > 0.9 and test["reward_margin"] > 0
    assert test["loss"] < math.log(2) - 0.05  # log 2 is the loss of the untrained policy
    losses = [h["loss"] for h in run.history if "loss" in h]
    assert losses[-1] < losses[0]


def test_dpo_runs_of_one_study_share_the_reference_scores_with_the_same_results(folder, tmp_path):
    pref, methods = _tasks(folder)[2:], ["lora", "full"]
    shared = {run.method: run.metrics for run in _run(folder, tmp_path / "both", methods, pref)}
    assert len(list((tmp_path / "both" / "run" / "cache" / "dpo").glob("*"))) == 3  # 3 splits
    for method in methods:
        (alone,) = _run(folder, tmp_path / method, [method], pref)
        assert alone.metrics["test"] == shared[method]["test"]
        assert alone.metrics["validation"] == shared[method]["validation"]


def test_dpo_loss_is_the_sigmoid_loss():
    chosen, rejected = torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -1.0])
    reference_chosen, reference_rejected = torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0])
    margins = 0.5 * torch.tensor([(1.0) - (-1.0), (0.0) - (1.0)])
    expected = torch.log1p(torch.exp(-margins)).mean()
    loss = dpo_loss(chosen, rejected, reference_chosen, reference_rejected, beta=0.5)
    assert loss.item() == pytest.approx(expected.item())


def test_fine_tuning_lowers_perplexity_and_forgetting_is_recorded(folder, tmp_path):
    tasks = _tasks(folder, forgetting=True, generate=False)[:1]
    runs = _run(folder, tmp_path, ["frozen", "full"], tasks, learning_rate=3e-3, epochs=3)
    frozen, full = sorted(runs, key=lambda r: r.method != "frozen")
    assert full.metrics["test"]["perplexity"] < frozen.metrics["test"]["perplexity"] / 2
    assert "rouge1" not in full.metrics["test"]  # generate: false
    assert frozen.metrics["forgetting"]["rise"] == pytest.approx(0.0, abs=1e-9)
    assert full.metrics["forgetting"]["loss_after"] != full.metrics["forgetting"]["loss_before"]


def test_last_n_reads_its_frozen_blocks_from_the_cache_with_the_same_results(
    folder, tmp_path, monkeypatch
):
    tasks, last_n = _tasks(folder, generate=False)[:1], [{"name": "last_n", "n": 1}]
    (cached,) = _run(folder, tmp_path / "cached", last_n, tasks, epochs=3, learning_rate=3e-3)
    monkeypatch.setattr(prefix_cache, "MAX_CACHE_BYTES", 0)  # too large to keep: no cache
    (plain,) = _run(folder, tmp_path / "plain", last_n, tasks, epochs=3, learning_rate=3e-3)
    assert cached.costs["frozen_prefix_blocks"] == plain.costs["frozen_prefix_blocks"] == 1
    assert plain.costs["prefix_skipped_tokens"] == 0 < cached.costs["prefix_skipped_tokens"]
    losses = [h["loss"] for h in plain.history if "loss" in h]
    assert [h["loss"] for h in cached.history if "loss" in h] == pytest.approx(losses, rel=1e-5)
    for split in ("validation", "test"):
        expected = plain.metrics[split]["perplexity"]
        assert cached.metrics[split]["perplexity"] == pytest.approx(expected, rel=1e-5)


def test_gradient_checkpointing_trains_the_same_and_prefix_tuning_refuses_it(folder, tmp_path):
    tasks, on = _tasks(folder, generate=False)[:1], {"gradient_checkpointing": True}
    (plain,) = _run(folder, tmp_path / "plain", ["lora"], tasks)
    runs = _run(folder, tmp_path / "on", ["lora", "prefix"], tasks, **on)
    lora, prefix = sorted(runs, key=lambda run: run.method != "lora")
    assert prefix.status == "failed" and "does not work with method prefix" in prefix.reason
    assert lora.status == "completed" and lora.config["training"]["gradient_checkpointing"]
    losses = [h["loss"] for h in plain.history if "loss" in h]
    assert [h["loss"] for h in lora.history if "loss" in h] == pytest.approx(losses, rel=1e-5)
    expected = plain.metrics["test"]["perplexity"]
    assert lora.metrics["test"]["perplexity"] == pytest.approx(expected, rel=1e-5)


def test_an_encoder_backbone_fails_generative_runs_clearly(folder, tmp_path):
    study = {
        "name": "enc",
        "backbones": [str(folder / "encoder")],
        "tasks": _tasks(folder)[:1],
        "methods": ["lora"],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(study))
    run_study(load_study(tmp_path / "s.yaml"), tmp_path / "run", Console(quiet=True))
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        (run,) = store.runs()
    assert run.status == "failed" and "is an encoder" in run.reason


@pytest.mark.parametrize("name", ["frozen", "lora", "prompt", "prefix"])
def test_batched_left_padded_generation_equals_one_at_a_time(name):
    tokenizer = tiny_tokenizer()
    model = METHODS[name].apply(tiny_causal_lm(), METHODS[name].config())
    renderer = Renderer(tokenizer, "chat")
    prompts = ["a", "a much longer prompt here", "mid size"]
    config = TrainingConfig(max_length=64)
    cpu = Accelerator(cpu=True)
    together = generate(model, renderer, prompts, config, 6, cpu)
    alone = [generate(model, renderer, [p], config, 6, cpu)[0] for p in prompts]
    assert together == alone


def test_generation_scores():
    scores = generation_scores(["Yes.", "the cat sat"], ["yes", "a cat sat down"], True)
    assert scores["exact_match"] == [1.0, 0.0]  # "Yes." matches "yes"; the second does not
    assert scores["rouge1"][0] == 1.0 and 0 < scores["rouge1"][1] < 1
    assert scores["rouge2"][1] <= scores["rouge1"][1]
    assert normalise("  The  Answer: NO! ") == "answer no"


def test_selection_metric_must_be_one_the_family_reports(folder, tmp_path):
    study = {
        "name": "bad",
        "backbones": [str(folder / "lm")],
        "tasks": _tasks(folder)[:1],
        "methods": ["lora"],
        "training": {"selection_metric": "accuracy"},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(study))
    with pytest.raises(UserError, match="generation task .g. reports perplexity, loss"):
        load_study(tmp_path / "s.yaml")
