"""The frozen-prefix rule and cache: the bottom blocks that do not train run in eval mode and,
after the first epoch, are skipped — with the same results as without the cache."""

import pytest
import torch

from tunebench.families.classification.run import Encoded, fit_encoded
from tunebench.methods import METHODS
from tunebench.models.blocks import transformer_layers
from tunebench.training import prefix_cache
from tunebench.training.config import TrainingConfig
from tunebench.training.prefix_cache import PrefixCache, first_trainable_block

from tiny import tiny_classifier, tiny_context


def _data(count: int, seed: int) -> Encoded:
    generator = torch.Generator().manual_seed(seed)
    ids, labels = [], []
    for i in range(count):
        length = 3 + int(torch.randint(0, 12, (1,), generator=generator))
        label = i % 2
        ids.append(
            [10 + label * 40 + int(t) for t in torch.randint(0, 30, (length,), generator=generator)]
        )
        labels.append(label)
    return Encoded(ids, None, labels)


def _model(kind: str, method: str, **settings):
    model = tiny_classifier(kind)
    config = METHODS[method].config(**settings)
    return METHODS[method].apply(model, config)


@pytest.mark.parametrize(
    ("method", "settings", "expected"),
    [
        ("frozen", {}, 2),
        ("last_n", {"n": 1}, 1),
        ("last_n", {"n": 2}, 0),
        ("full", {}, 0),
        ("prompt", {"num_virtual_tokens": 2}, 0),
        ("lora", {"layers": [1]}, 1),
    ],
)
def test_the_frozen_prefix_is_the_blocks_below_the_first_trainable_one(method, settings, expected):
    model = _model("encoder", method, **settings)
    assert first_trainable_block(model, transformer_layers(model)) == expected


def _train(kind: str, method: str, cache: bool, **settings):
    torch.manual_seed(0)
    model = _model(kind, method, **settings)
    config = TrainingConfig(epochs=3, batch_size=4, learning_rate=1e-3, log_every=1)
    context = tiny_context(config, method)
    outcome = fit_encoded(context, model, _data(24, 1), _data(12, 2), ["a", "b"], 0, cache)
    return model, outcome


def _scalars(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, float)}


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize(("method", "settings"), [("last_n", {"n": 1}), ("frozen", {})])
def test_the_cache_skips_the_prefix_and_changes_no_result(kind, method, settings):
    _, plain = _train(kind, method, cache=False, **settings)
    model, cached = _train(kind, method, cache=True, **settings)
    assert plain.prefix_skipped_tokens == 0
    assert cached.prefix_skipped_tokens == 2 * plain.padded_tokens // 3  # epochs 2 and 3
    losses = [h["loss"] for h in plain.history if "loss" in h]
    assert [h["loss"] for h in cached.history if "loss" in h] == pytest.approx(losses, rel=1e-5)
    assert _scalars(cached.best_validation) == pytest.approx(_scalars(plain.best_validation))
    layers = transformer_layers(model)
    assert all(type(block).forward is block.forward.__func__ for block in layers)  # undone


def test_the_prefix_runs_without_dropout_while_the_rest_trains():
    model, outcome = _train("encoder", "last_n", cache=False, n=1)
    assert outcome.frozen_prefix_blocks == 1
    model.train()
    layers = transformer_layers(model)
    seen = {}

    def record(name):
        def hook(module, args, output):
            seen[name] = module.training

        return hook

    layers[0].register_forward_hook(record("prefix"))
    layers[1].register_forward_hook(record("trained"))
    prefix = PrefixCache(model, layers, 100, cache=False)
    batch = {
        "input_ids": torch.ones(2, 5, dtype=torch.long),
        "attention_mask": torch.ones(2, 5),
        "labels": torch.tensor([0, 1]),
        "example_index": torch.tensor([0, 1]),
    }
    model(**batch)
    prefix.remove()
    assert seen == {"prefix": False, "trained": True}


def test_validation_after_the_first_epoch_reads_the_cache_too(monkeypatch):
    served = []
    stacked = PrefixCache.stacked

    def spy(self, like):
        served.append("train" if self.training else "validation")
        return stacked(self, like)

    monkeypatch.setattr(PrefixCache, "stacked", spy)
    _, outcome = _train("encoder", "frozen", cache=True)
    # 24 training examples in batches of 4 (epochs 2, 3); 12 validation ones in one batch of up
    # to 64 (the validations after epochs 2 and 3)
    assert served.count("train") == 2 * 6 and served.count("validation") == 2


def test_a_cache_too_large_to_keep_is_dropped_and_the_rule_stays(monkeypatch):
    _, plain = _train("encoder", "last_n", cache=False, n=1)
    monkeypatch.setattr(prefix_cache, "MAX_CACHE_BYTES", 0)
    model, capped = _train("encoder", "last_n", cache=True, n=1)
    assert capped.prefix_skipped_tokens == 0
    # the prefix kept running without dropout (tiny BERT has 0.1): the same losses
    losses = [h["loss"] for h in plain.history if "loss" in h]
    assert [h["loss"] for h in capped.history if "loss" in h] == pytest.approx(losses, rel=1e-5)
    assert all(type(block).forward is block.forward.__func__ for block in transformer_layers(model))
