"""One classification run: backbone -> pooling -> linear head, the method applied, trained
through the one loop on length-grouped batches, tested on the test split.

The frozen blocks at the bottom run in eval mode and, where nothing below them trains, their
outputs are cached after the first pass over the training and validation examples
(training/prefix_cache.py); validation examples are cache keys after the training ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from tunebench.families.classification.data import Split
from tunebench.families.context import FamilyResult, RunContext
from tunebench.models.backbones import Backbone
from tunebench.models.heads import SequenceClassifier
from tunebench.training.clock import elapsed
from tunebench.training.data import LengthGroupedBatches, eval_batches, tokenize
from tunebench.training.loop import TrainOutcome
from tunebench.training.metrics import classification_metrics


def train_and_test(context: RunContext) -> FamilyResult:
    task, spec, accelerator = context.data, context.spec, context.accelerator
    backbone = context.backbone()
    context.seed()  # the head's and the method's random initialisation
    classifier = build_classifier(backbone, task.num_labels, spec.training.pooling)
    model = context.apply_method(classifier, backbone, "classifier")
    pad, config = backbone.tokenizer.pad_token_id, spec.training
    train, validation, test = (
        encode(split, backbone.tokenizer, config.max_length)
        for split in (task.train, task.validation, task.test)
    )
    outcome = fit_encoded(context, model, train, validation, task.label_names, pad)
    started = time.perf_counter()
    test_metrics = evaluate(model, test, task.label_names, config, pad, accelerator)
    seconds = elapsed(started)
    metrics = {"validation": outcome.best_validation, "test": test_metrics}
    started, others = time.perf_counter(), spec.task.transfer_tasks()
    transfer = {other.name: _tested_on(context, model, backbone, other) for other in others}
    costs = {"transfer_seconds": elapsed(started)} if transfer else {}
    if transfer:
        metrics["transfer"] = transfer
    trained = accelerator.unwrap_model(model)
    return FamilyResult(metrics, outcome, trained, backbone.model, seconds, costs=costs)


def _tested_on(context: RunContext, model: nn.Module, backbone: Backbone, other) -> dict:
    """The trained model's metrics on another task's test split, its labels mapped by name
    onto the trained task's (the store keeps only the trained task's per-example values)."""
    trained, config = context.data, context.spec.training
    tested = context.family.load(other)
    to_trained = [trained.label_names.index(name) for name in tested.label_names]
    split = replace(tested.test, labels=[to_trained[label] for label in tested.test.labels])
    encoded = encode(split, backbone.tokenizer, config.max_length)
    pad = backbone.tokenizer.pad_token_id
    return evaluate(model, encoded, trained.label_names, config, pad, context.accelerator)


def build_classifier(backbone: Backbone, num_labels: int, pooling: str) -> SequenceClassifier:
    """The classifier around `backbone`; `pooling` "auto" is the backbone's own default."""
    pooling = backbone.default_pooling if pooling == "auto" else pooling
    return SequenceClassifier(backbone.model, num_labels, pooling)


def fit_encoded(
    context: RunContext,
    model: nn.Module,
    train: Encoded,
    validation: Encoded,
    label_names: list[str],
    pad_token_id: int,
    cache: bool = True,
) -> TrainOutcome:
    """Train on length-grouped batches of `train`, validating on `validation` after each
    epoch; validation examples are prefix-cache keys after the training ones (`cache`: see
    RunContext.fit)."""
    config, accelerator = context.spec.training, context.accelerator
    batches = LengthGroupedBatches(
        train.lengths(), config.batch_size, context.spec.seed, group=config.group_by_length
    )
    collate = Collator(train, pad_token_id, index_base=0)
    loader = DataLoader(range(len(train)), batch_sampler=batches, collate_fn=collate)

    def validate(model: nn.Module) -> dict:
        return evaluate(
            model, validation, label_names, config, pad_token_id, accelerator, len(train)
        )

    tokens = sum(train.lengths()) + sum(validation.lengths())
    return context.fit(model, batches, loader, validate, prefix_tokens=tokens, cache=cache)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    data: Encoded,
    label_names: list[str],
    config,
    pad_token_id: int,
    accelerator,
    index_base: int | None = None,
) -> dict:
    """Metrics of `model` on `data`, in length-sorted batches; the model is left in eval mode.
    With `index_base`, batches carry example keys (validation, for the prefix cache)."""
    model.eval()
    collate = Collator(data, pad_token_id, index_base)
    probabilities = np.zeros((len(data), len(label_names)), dtype=np.float32)
    for indices in eval_batches(data.lengths(), config.eval_batch_size):
        batch = {k: v.to(accelerator.device) for k, v in collate(indices).items()}
        batch.pop("labels")
        with accelerator.autocast():
            logits = model(**batch).logits
        probabilities[indices] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    labels = np.asarray(data.labels)
    return classification_metrics(probabilities, labels, label_names, data.ids)


@dataclass(frozen=True)
class Encoded:
    """A tokenised split: token ids per example (no padding), token types if any, labels."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: list[int]
    ids: list[Any] | None = None
    """The examples' rows in the source data."""

    def __len__(self) -> int:
        return len(self.labels)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def encode(split: Split, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Encoded:
    pairs = split.text_pairs
    encoding = tokenize(tokenizer, split.texts, max_length, pairs)
    token_types = encoding.get("token_type_ids") if pairs is not None else None
    return Encoded(encoding["input_ids"], token_types, list(split.labels), split.ids)


class Collator:
    """Right-pads a list of example indices into a batch of tensors. With `index_base` set, the
    batch also says which examples it holds: `example_index` = index + `index_base` (keys of
    the prefix cache; each split gets its own range)."""

    def __init__(self, encoded: Encoded, pad_token_id: int, index_base: int | None = None):
        self.encoded = encoded
        self.pad_token_id = pad_token_id
        self.index_base = index_base

    def __call__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        rows = [self.encoded.input_ids[i] for i in indices]
        width = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = torch.tensor(row)
            attention_mask[r, : len(row)] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.encoded.token_type_ids is not None:
            token_types = torch.zeros((len(rows), width), dtype=torch.long)
            for r, i in enumerate(indices):
                types = self.encoded.token_type_ids[i]
                token_types[r, : len(types)] = torch.tensor(types)
            batch["token_type_ids"] = token_types
        batch["labels"] = torch.tensor([self.encoded.labels[i] for i in indices])
        if self.index_base is not None:
            batch["example_index"] = torch.tensor(indices) + self.index_base
        return batch
