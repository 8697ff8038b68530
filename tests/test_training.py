"""The training loop on tiny models: batching, determinism, divergence, best-epoch restore."""

import math

import pytest
import torch

from tunebench.families.classification.run import Collator, Encoded, evaluate, fit_encoded
from tunebench.methods import METHODS
from tunebench.training import data
from tunebench.training.config import TrainingConfig
from tunebench.training.data import LengthGroupedBatches, eval_batches
from tunebench.training.loop import RunFailed

from tiny import tiny_classifier, tiny_context, tiny_tokenizer

LABELS = ["a", "b"]


def toy_data(n: int = 48, seed: int = 0) -> Encoded:
    """Label 1 texts contain token 7: learnable by any method in a few epochs."""
    generator = torch.Generator().manual_seed(seed)
    ids, labels = [], []
    for i in range(n):
        length = 4 + int(torch.randint(0, 8, (1,), generator=generator))
        row = torch.randint(10, 100, (length,), generator=generator).tolist()
        label = i % 2
        if label:
            row[0] = 7
        ids.append(row)
        labels.append(label)
    return Encoded(ids, None, labels)


def run(method="lora", seed=0, **overrides):
    torch.manual_seed(seed)
    model = METHODS[method].apply(tiny_classifier("encoder"), METHODS[method].config(), "")
    settings = {"epochs": 3, "batch_size": 8, "log_every": 1, "learning_rate": 1e-2, **overrides}
    config = TrainingConfig(**settings)
    context = tiny_context(config, method, seed)
    outcome = fit_encoded(context, model, toy_data(), toy_data(16, 1), LABELS, 0)
    return model, outcome, context.accelerator, config


def test_length_grouped_batches_cover_every_example_once_per_epoch():
    lengths = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 11]
    sampler = LengthGroupedBatches(lengths, batch_size=3, seed=0)
    first = list(sampler)
    assert sorted(i for batch in first for i in batch) == list(range(len(lengths)))
    assert list(sampler) == first  # same epoch, same order
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_eval_batches_are_longest_first_and_complete():
    batches = eval_batches([3, 9, 1, 5], batch_size=2)
    assert batches == [[1, 3], [0, 2]]


def test_collator_pads_right_and_masks():
    encoded = Encoded([[5, 6, 7], [8]], None, [0, 1])
    batch = Collator(encoded, pad_token_id=0)([0, 1])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [0, 1]


def test_tokenising_in_chunks_gives_the_ids_of_one_call(monkeypatch):
    tokenizer = tiny_tokenizer(chat=False)
    texts = [f"text {i} " * (i % 7) for i in range(11)]
    pairs = [f"pair {i}" for i in range(11)]
    whole = tokenizer(texts, pairs, truncation=True, max_length=12)
    monkeypatch.setattr(data, "TOKENIZE_CHUNK", 4)  # 11 texts: three calls
    chunked = data.tokenize(tokenizer, texts, 12, pairs)
    assert chunked["input_ids"] == whole["input_ids"]
    assert chunked["attention_mask"] == whole["attention_mask"]
    assert max(map(len, chunked["input_ids"])) == 12  # truncation applied
    assert data.tokenize(tokenizer, [], 12) == {"input_ids": []}


def untimed(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in entry.items() if not k.endswith("seconds")} for entry in history]


def test_same_seed_repeats_a_cpu_run_exactly():
    model_a, outcome_a, _, _ = run(seed=3)
    model_b, outcome_b, _, _ = run(seed=3)
    assert untimed(outcome_a.history) == untimed(outcome_b.history)
    for (name, a), (_, b) in zip(
        model_a.named_parameters(), model_b.named_parameters(), strict=True
    ):
        assert torch.equal(a, b), name
    _, outcome_c, _, _ = run(seed=4)
    assert untimed(outcome_c.history) != untimed(outcome_a.history)


def test_training_learns_the_toy_task():
    model, outcome, accelerator, config = run(method="full", epochs=10, learning_rate=3e-3)
    metrics = evaluate(model, toy_data(16, 1), LABELS, config, 0, accelerator)
    assert metrics["accuracy"] >= 0.9
    losses = [h["loss"] for h in outcome.history if "loss" in h]
    assert losses[-1] < losses[0] / 10
    assert outcome.steps == 10 * 6  # 48 examples / batch 8, ten epochs


def test_a_nan_loss_fails_the_run_as_diverged():
    with pytest.raises(RunFailed) as failure:
        run(method="full", learning_rate=1e6, max_grad_norm=None, optimizer="sgd")
    assert failure.value.reason == "diverged"


def test_best_epoch_weights_are_restored(monkeypatch):
    """Validation scores 0.9, 0.5, 0.1: the weights after epoch 0 must come back."""
    scores = iter([0.9, 0.5, 0.1])
    snapshots = []

    def fake_evaluate(model, *args, **kwargs):
        snapshots.append(model.classifier.modules_to_save.default.weight.detach().clone())
        return {"accuracy": next(scores)}

    monkeypatch.setattr("tunebench.families.classification.run.evaluate", fake_evaluate)
    model, outcome, _, _ = run()
    assert outcome.best_epoch == 0
    assert torch.equal(model.classifier.modules_to_save.default.weight, snapshots[0])
    assert not torch.equal(snapshots[0], snapshots[2])


def test_early_stopping_stops_after_patience(monkeypatch):
    scores = iter([0.9, 0.5, 0.4, 0.3, 0.2])
    monkeypatch.setattr(
        "tunebench.families.classification.run.evaluate", lambda *a, **k: {"accuracy": next(scores)}
    )
    _, outcome, _, _ = run(epochs=5, early_stopping_patience=2)
    validations = [h for h in outcome.history if "validation" in h]
    assert len(validations) == 3


def test_validate_every_epochs_validates_those_and_the_last(monkeypatch):
    """Five epochs, every second validated: epochs 1, 3 and (the last) 4; only they can win."""
    scores = iter([0.5, 0.9, 0.1])
    monkeypatch.setattr(
        "tunebench.families.classification.run.evaluate", lambda *a, **k: {"accuracy": next(scores)}
    )
    _, outcome, _, _ = run(epochs=5, validate_every_epochs=2)
    validated = [h["epoch"] for h in outcome.history if "validation" in h]
    assert validated == [1, 3, 4]
    assert outcome.best_epoch == 3
    assert outcome.steps == 5 * 6  # every epoch still trains


def test_validate_every_epochs_at_its_default_keeps_run_ids():
    from tunebench.training.config import identity

    spec = {"training": TrainingConfig().model_dump(), "method": {"name": "lora"}}
    assert "validate_every_epochs" not in identity(spec)["training"]
    spec["training"]["validate_every_epochs"] = 2
    assert identity(spec)["training"]["validate_every_epochs"] == 2


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "adafactor"])
@pytest.mark.parametrize("scheduler", ["linear", "cosine", "constant"])
def test_optimisers_and_schedules_train(optimizer, scheduler):
    _, outcome, _, _ = run(optimizer=optimizer, scheduler=scheduler, epochs=1)
    losses = [h["loss"] for h in outcome.history if "loss" in h]
    assert losses and all(math.isfinite(loss) for loss in losses)


def test_gradient_accumulation_halves_the_optimiser_steps():
    _, outcome, _, _ = run(epochs=1, gradient_accumulation_steps=2)
    assert outcome.steps == 3  # 6 batches, 2 per step


def test_compile_trains_the_same_and_validates_the_eager_model(monkeypatch):
    """`compile: true` runs the training steps through torch.compile with the same arithmetic;
    validation gets the module itself, not the wrapper. The `eager` backend (dynamo traces,
    nothing is generated) keeps this to seconds; inductor's speed is a benchmark's business."""
    from torch._dynamo.utils import counters

    from tunebench.training import loop

    monkeypatch.setattr(loop, "COMPILE_BACKEND", "eager")

    seen = []

    def recording_evaluate(model, *args, **kwargs):
        seen.append(type(model).__name__)
        return {"accuracy": 0.5}

    monkeypatch.setattr("tunebench.families.classification.run.evaluate", recording_evaluate)
    _, eager, _, _ = run("full", epochs=1)
    counters.clear()
    _, compiled, _, _ = run("full", epochs=1, compile=True)
    assert counters["stats"]["unique_graphs"] > 0  # something was compiled
    losses = [h["loss"] for h in eager.history if "loss" in h]
    assert [h["loss"] for h in compiled.history if "loss" in h] == pytest.approx(losses, rel=1e-4)
    assert "OptimizedModule" not in seen


def test_a_failed_run_crosses_a_process_boundary_with_its_reason():
    """Worker processes (the parallel executor, the benchmarks) hand exceptions back pickled."""
    import pickle

    failed = pickle.loads(pickle.dumps(RunFailed("unsupported", "method qlora: no CUDA")))
    assert (failed.reason, failed.detail) == ("unsupported", "method qlora: no CUDA")
    assert str(failed) == "unsupported: method qlora: no CUDA"
