"""What each part of a tabular run's training scales with, for `tunebench plan`.

A tabular run trains in parts (`train_parts` in its costs): the language model on tokens
(one_step's joint training, two_step's step 1), the embedding pass over every distinct text
(frozen, two_step, one_step's rate search), the downstream model on rows, TF-IDF over every
row. A probe cut to a few batches of rows measures each part; the plan scales each by the
run's size over the probe's — padded tokens for the first two, rows for the others — instead
of scaling the whole run by rows, which an embedding pass, a shared step 1 or a tree fit do
not follow.
"""

from __future__ import annotations

from typing import Any

from tunebench.families.tabular.data import TabularData, distinct_texts
from tunebench.families.tabular.joint import tokenise_table
from tunebench.training.config import TrainingConfig
from tunebench.training.data import LengthGroupedBatches, eval_batches, tokenize

EMBED_BATCH = 64
"""Texts per batch of the embedding pass (embeddings.encode_with's default)."""


def part_sizes(spec: Any, data: TabularData) -> dict[str, float]:
    """part -> its size for `spec` on `data`: `downstream` training rows, `tfidf` rows of all
    splits, `embedding` padded tokens of the distinct texts' length-sorted batches,
    `language_model` padded tokens of every training batch of every epoch."""
    pipeline = spec.options["pipeline"]
    sizes = {"downstream": float(len(data.train.ids))}
    if pipeline == "tfidf":
        sizes["tfidf"] = float(sum(len(split.ids) for split in data.splits.values()))
    if pipeline in ("frozen", "one_step", "two_step"):
        from tunebench.models.backbones import load_tokenizer

        tokenizer = load_tokenizer(spec.backbone, spec.trust_remote_code)
        training = spec.training or TrainingConfig()
        texts = tokenize(tokenizer, distinct_texts(data), training.max_length)["input_ids"]
        lengths = [len(ids) for ids in texts]
        sizes["embedding"] = float(_padded(eval_batches(lengths, EMBED_BATCH), [lengths]))
        if pipeline != "frozen":
            sizes["language_model"] = _training_tokens(spec, data, tokenizer, training)
    return sizes


def _training_tokens(spec: Any, data: TabularData, tokenizer, training: TrainingConfig) -> float:
    """Padded tokens of the language model's training: each batch of each epoch, each text
    column padded on its own (as TableCollator pads them)."""
    table = tokenise_table(data, data.train, tokenizer, training.max_length)
    columns = [[len(row) for row in column] for column in table.ids]
    batches = LengthGroupedBatches(
        table.lengths(), training.batch_size, spec.seed, group=training.group_by_length
    )
    epochs = [batches.epoch_batches(epoch) for epoch in range(training.epochs)]
    return float(sum(_padded(ordered, columns) for ordered in epochs))


def _padded(batches: list[list[int]], columns: list[list[int]]) -> int:
    """Rows times the longest row of each batch (at least one token, as `pad_right` pads),
    summed over batches and columns."""
    return sum(len(b) * max([column[i] for i in b] + [1]) for b in batches for column in columns)
