"""The tabular frozen pipeline against its floor: one plain inference pass over the distinct
texts plus the downstream model's training.

`tunebench`'s frozen pipeline (`minilm-l6` embeddings into an MLP, `clothing_reviews_rating`,
500 training / 500 validation / 500 test rows, an empty embedding cache) must encode each
distinct text exactly once and add little around it: its end-to-end time over (a plain batched
`model(**batch)` pass over the same distinct texts + its own downstream training time).
"""

from __future__ import annotations

import time

import torch

from tunebench.families.registry import load_task
from tunebench.families.tabular.data import distinct_texts
from tunebench.models.backbones import load_backbone
from tunebench.study.expand import expand
from tunebench.study.run_path import execute
from tunebench.study.schema import StudyConfig

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
    (spec,) = expand(StudyConfig.model_validate(STUDY))
    outcome = execute(spec)  # an empty cache: every distinct text is encoded
    texts = distinct_texts(load_task(spec.task))
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
