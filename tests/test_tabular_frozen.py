"""The frozen pipeline on a tiny backbone: texts encoded once, every downstream model trains."""

import numpy as np
import pytest
from transformers import BertTokenizerFast

from tunebench.families.tabular.config import DownstreamTrainingConfig
from tunebench.families.tabular.data import TabularData, TabularSplit, distinct_texts
from tunebench.families.tabular.frozen import embed_table, train_and_test
from tunebench.families.tabular.models import FTTransformerConfig, GBDTConfig, MLPConfig
from tunebench.models.backbones import Backbone
from tunebench.models.heads import TextEncoder
from tunebench.training.config import TrainingConfig
from tunebench.training.optim import make_accelerator

from tiny import tiny_bert

WORDS = ["good", "bad", "fine", "poor", "great"]
ACCELERATOR = make_accelerator(TrainingConfig())


def split(n: int, seed: int) -> TabularSplit:
    """Regression target = numeric + 2 if the review says 'good' or 'great'; some reviews empty."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 1)).astype(np.float32)
    reviews = [" ".join(rng.choice(WORDS, size=3)) if i % 7 else "" for i in range(n)]
    positive = np.array([("good" in r or "great" in r) for r in reviews], dtype=np.float32)
    target = (numeric[:, 0] + 2 * positive).astype(np.float32)
    categorical = np.full((n, 1), 2, dtype=np.int64)
    return TabularSplit(numeric, categorical, {"review": reviews}, target, list(range(len(target))))


def encoder(backbone: Backbone, pooling: str) -> TextEncoder:
    return TextEncoder(backbone.model, pooling)


@pytest.fixture
def setup(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS]))
    tokenizer = BertTokenizerFast(vocab=str(vocab))
    backbone = Backbone("tiny", tiny_bert(), tokenizer, "encoder", "mean", "tiny-path")
    train, validation, test = split(200, 0), split(60, 1), split(60, 2)
    mean, std = float(train.target.mean()), float(train.target.std())
    data = TabularData(
        "toy",
        "regression",
        ["x"],
        ["c"],
        [3],
        ["review"],
        None,
        mean,
        std,
        train,
        validation,
        test,
        "sha",
    )
    return data, backbone, tmp_path / "cache"


def test_each_distinct_text_reaches_the_backbone_once(setup):
    data, backbone, cache = setup
    seen: list[int] = []
    mean = encoder(backbone, "mean")
    mean.register_forward_hook(lambda module, args, output: seen.append(output.shape[0]))
    features, costs = embed_table(data, mean, backbone.tokenizer, "mean", 16, cache)
    distinct = len(distinct_texts(data))
    assert sum(seen) == costs["backbone_texts_encoded"] == costs["distinct_texts"] == distinct
    assert costs["embeddings_reused"] is False
    assert features["train"].texts[0].shape == (200, 32)
    assert not features["train"].texts[0][0].any()  # row 0 has an empty review: zero vector
    # A second run (another downstream model or seed) never calls the backbone, and reports
    # the recorded embedding step its features come from.
    _, again = embed_table(data, mean, backbone.tokenizer, "mean", 16, cache)
    assert sum(seen) == distinct
    assert again["embeddings_reused"] is True
    assert again["backbone_texts_encoded"] == distinct
    assert again["embed_seconds"] == costs["embed_seconds"]
    _, other = embed_table(data, encoder(backbone, "cls"), backbone.tokenizer, "cls", 16, cache)
    assert other["backbone_texts_encoded"] == distinct and not other["embeddings_reused"]


@pytest.mark.parametrize(
    "downstream",
    [
        FTTransformerConfig(n_blocks=1, d_block=32),
        MLPConfig(n_blocks=1, d_block=32),
        GBDTConfig(num_threads=1, n_estimators=200),
    ],
    ids=["ft_transformer", "mlp", "gbdt"],
)
def test_downstream_models_train_on_frozen_embeddings(setup, downstream):
    data, backbone, cache = setup
    features, _ = embed_table(
        data, encoder(backbone, "mean"), backbone.tokenizer, "mean", 16, cache
    )
    training = DownstreamTrainingConfig(
        max_epochs=40, patience=8, batch_size=32, learning_rate=3e-3
    )
    outcome = train_and_test(data, features, downstream, training, 0, ACCELERATOR)
    test = outcome.metrics["test"]
    assert np.isfinite(test["rmse"])
    # Measured: R² 0.93-0.99 with the embeddings, 0.34-0.48 with the review zeroed out, so this
    # fails unless the model reads the text through its frozen embedding.
    assert test["r2"] > 0.8
    assert outcome.costs["train_seconds"] > 0
