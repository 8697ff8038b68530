"""The tabular frozen pipeline against its floor: one plain inference pass over the distinct
texts plus the downstream model's training.

`tunebench`'s frozen pipeline (`minilm-l6` embeddings into an MLP, `clothing_reviews_rating`,
500 training / 500 validation / 500 test rows, an empty embedding cache) must encode each
distinct text exactly once and add little around it: its end-to-end time over (a plain batched
`model(**batch)` pass over the same distinct texts + its own downstream training time).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from tunebench.backbones import load_backbone
from tunebench.tabular import load_tabular_task
from tunebench.tabular.data import distinct_texts
from tunebench.tabular.grid import TabularStudyConfig, expand_tabular
from tunebench.tabular.pipelines import execute_tabular

STUDY = {
    "name": "bench_tabular",
    "tasks": [
        {"name": "clothing_reviews_rating", "max_train_samples": 500, "max_eval_samples": 500}
    ],
    "backbones": ["minilm-l6"],
    "downstream": ["mlp"],
    "pipelines": ["frozen"],
    "training": {"max_length": 128},
}


def plain_inference_seconds(backbone_name: str, texts: list[str], max_length: int) -> float:
    """A plain script's encoding pass: batches of 64 in the given order, padded to the longest."""
    backbone = load_backbone(backbone_name)
    model = backbone.model.eval()
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = backbone.tokenizer(
                texts[start : start + 64],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            model(**batch)
    return time.perf_counter() - started


def compare_frozen_pipeline() -> dict:
    (spec,) = expand_tabular(TabularStudyConfig.model_validate(STUDY))
    with tempfile.TemporaryDirectory() as cache:
        outcome = execute_tabular(spec, Path(cache), None)
    texts = distinct_texts(load_tabular_task(spec.task))
    floor = plain_inference_seconds("minilm-l6", texts, spec.training.max_length)
    costs = outcome.costs
    return {
        "name": "tabular_frozen_vs_floor",
        "distinct_texts": len(texts),
        "backbone_texts_encoded": costs["backbone_texts_encoded"],
        "tunebench_wall_seconds": costs["wall_seconds"],
        "plain_inference_seconds": floor,
        "downstream_train_seconds": costs["downstream_train_seconds"],
        "ratio": costs["wall_seconds"] / (floor + costs["downstream_train_seconds"]),
    }
