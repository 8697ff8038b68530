"""The frozen pipeline: embed each distinct text once, then train only the downstream model.

Seed 000's cheapest pipeline (13 minutes against hours once the language model trains): the
backbone never changes, so its embeddings are computed once per distinct text and cached on
disk; every downstream epoch, model and seed reads the cached vectors. An empty (missing) text
is represented by a zero vector rather than by an embedding of the empty string.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from tunebench.families.tabular.data import TabularData, TabularSplit, distinct_texts
from tunebench.families.tabular.embeddings import EmbeddingCache, encode_with
from tunebench.families.tabular.models import DOWNSTREAM_MODELS, GBDTConfig
from tunebench.families.tabular.models.gbdt import fit_gbdt, predict
from tunebench.families.tabular.rate_search import fit_at_best_rate
from tunebench.families.tabular.train import (
    DownstreamTrainingConfig,
    Features,
    evaluate_downstream,
    train_downstream,
)
from tunebench.models.fingerprint import weights_fingerprint
from tunebench.models.heads import Pooling
from tunebench.training.clock import elapsed
from tunebench.training.loop import StepCallback, TrainOutcome
from tunebench.training.metrics import classification_metrics, regression_metrics


@dataclass
class PipelineOutcome:
    metrics: dict
    costs: dict
    history: list[dict]
    test_seconds: float
    model: nn.Module | None = None
    """The trained torch downstream model (None for trees)."""
    outcome: TrainOutcome | None = None
    """Its training through the loop (None for trees)."""


def embed_table(
    data: TabularData,
    encoder: nn.Module,
    tokenizer,
    pooling: Pooling,
    max_length: int,
    cache_root: Path,
) -> tuple[dict[str, Features], dict]:
    """Every split as model features, and the embedding step's costs.

    `encoder` is a `TextEncoder` built with `pooling` (pretrained for the frozen pipeline,
    fine-tuned for two-step); its weights' fingerprint keys the cache, so a fine-tuned encoder
    never reads a pretrained one's vectors.
    """
    started = time.perf_counter()
    identity = f"{weights_fingerprint(encoder)}|{pooling}|{max_length}"
    cache = EmbeddingCache(cache_root, identity)
    encode = encode_with(encoder, tokenizer, max_length, device=next(encoder.parameters()).device)
    texts = distinct_texts(data)
    vectors = dict(zip(texts, cache.embed(texts, encode), strict=True)) if texts else {}
    width = encoder.config.hidden_size
    features = {
        name: _features(split, data.text_columns, vectors, width)
        for name, split in data.splits.items()
    }
    measured = {
        "embed_seconds": elapsed(started),
        "backbone_texts_encoded": cache.texts_encoded,
    }
    return features, {**_embedding_step(cache, texts, measured), "distinct_texts": len(texts)}


def _embedding_step(cache: EmbeddingCache, texts: list[str], measured: dict) -> dict:
    """The costs of the step that embedded these texts with this encoder.

    The step runs once and every later run with the same encoder and texts reads its vectors;
    such a run reports the recorded step (its seconds and texts encoded) with
    `embeddings_reused: true`, so each run shows what its features cost to make.
    """
    record = (
        cache.folder / "steps" / f"{hashlib.sha256(chr(0).join(texts).encode()).hexdigest()}.json"
    )
    if cache.texts_encoded == 0 and record.is_file():
        return {**json.loads(record.read_text()), "embeddings_reused": True}
    if cache.texts_encoded == len(texts):
        record.parent.mkdir(parents=True, exist_ok=True)
        staging = record.with_suffix(f".{os.getpid()}.tmp")  # parallel workers may race
        staging.write_text(json.dumps(measured))
        staging.rename(record)
    return {**measured, "embeddings_reused": cache.texts_encoded < len(texts)}


def _features(
    split: TabularSplit, columns: list[str], vectors: dict[str, np.ndarray], width: int
) -> Features:
    zero = np.zeros(width, dtype=np.float32)
    texts = [np.stack([vectors.get(t, zero) for t in split.texts[c]]) for c in columns]
    return Features(split.numeric, split.categorical, texts, split.target, split.ids)


def train_and_test(
    data: TabularData,
    features: dict[str, Features],
    downstream,
    training: DownstreamTrainingConfig,
    seed: int,
    accelerator,
    on_step: StepCallback | None = None,
) -> PipelineOutcome:
    """Fit the downstream model on the train features, select on validation, report test."""
    if isinstance(downstream, GBDTConfig):
        train, validation, test = features["train"], features["validation"], features["test"]
        return _fit_trees(data, downstream, train, validation, test, seed)
    return _fit_torch(data, downstream, features, training, seed, accelerator, on_step)


def _fit_torch(data, downstream, features, training, seed, accelerator, on_step):
    import torch

    train, validation, test = features["train"], features["validation"], features["test"]

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return DOWNSTREAM_MODELS[downstream.name].build(
            downstream,
            n_num=train.numeric.shape[1],
            cat_cardinalities=data.cardinalities,
            text_dims=[t.shape[1] for t in train.texts],
            d_out=data.d_out,
        )

    scale = (data.target_mean, data.target_std, data.label_names)

    def fit(model: nn.Module, settings: DownstreamTrainingConfig) -> TrainOutcome:
        return train_downstream(
            model, data.problem, train, validation, settings, seed, accelerator, *scale, on_step
        )

    choice = fit_at_best_rate(build, fit, training, data.problem)
    started = time.perf_counter()
    test_metrics = evaluate_downstream(choice.model, data.problem, test, training, *scale)
    test_seconds = elapsed(started)
    outcome = choice.outcome
    costs = {
        "train_seconds": choice.train_seconds,
        "eval_seconds": test_seconds + choice.validation_seconds,
        "epochs": sum("validation" in entry for entry in outcome.history),
        "best_epoch": outcome.best_epoch,
        "trainable_params": sum(p.numel() for p in choice.model.parameters() if p.requires_grad),
        "downstream_learning_rate": choice.learning_rate,
        **({"learning_rate_search": choice.search} if len(choice.search) > 1 else {}),
    }
    metrics = {"validation": outcome.best_validation, "test": test_metrics}
    return PipelineOutcome(metrics, costs, outcome.history, test_seconds, choice.model, outcome)


def _fit_trees(data, downstream, train, validation, test, seed) -> PipelineOutcome:
    def tree_data(split: Features) -> dict:
        return {
            "x_num": split.numeric,
            "x_cat": split.categorical,
            "texts": split.texts,
            "y": split.target,
        }

    config = downstream.model_copy(update={"seed": seed})
    n_classes = len(data.label_names) if data.problem == "classification" else None
    started = time.perf_counter()
    fitted = fit_gbdt(config, data.problem, tree_data(train), tree_data(validation), n_classes)
    train_seconds = elapsed(started)
    started = time.perf_counter()
    metrics = {
        name: _score(data, predict(fitted, tree_data(split)), split)
        for name, split in (("validation", validation), ("test", test))
    }
    costs = {
        "train_seconds": train_seconds,
        "eval_seconds": elapsed(started),
        "trees": fitted.booster.num_trees(),
    }
    return PipelineOutcome(metrics, costs, [], costs["eval_seconds"])


def _score(data: TabularData, predictions: np.ndarray, split: Features) -> dict:
    if data.problem == "regression":
        return regression_metrics(predictions, split.target, split.rows)
    return classification_metrics(predictions, split.target, data.label_names, split.rows)
