"""Tokenise each split once and batch it with little padding.

Texts are tokenised a single time per run (never per epoch). Training batches group texts of
similar length (shuffled within seeded mega-batches, then batch order shuffled), evaluation
batches are sorted by length; both pad only to the longest text in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Sampler
from transformers import PreTrainedTokenizerBase

from tunebench.tasks.base import Split

MEGA_BATCH_FACTOR = 50  # as in transformers' group_by_length
TOKENIZE_CHUNK = 256
"""Texts per tokenizer call. A fast tokenizer holds every text's whole, untruncated encoding
until the call returns: 4,000 long 20newsgroups posts in one call raise peak host memory by
354 MB, in calls of 256 by 44 MB (docs/benchmarks.md, Scaling)."""


@dataclass(frozen=True)
class Encoded:
    """A tokenised split: token ids per example (no padding), token types if any, labels."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: list[int]

    def __len__(self) -> int:
        return len(self.labels)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def tokenize(
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    max_length: int,
    pairs: list[str] | None = None,
) -> dict[str, list[list[int]]]:
    """`tokenizer(texts, pairs, truncation=True, max_length=max_length)`, unpadded, called on
    `TOKENIZE_CHUNK` texts at a time: the same ids, with a bounded transient."""
    out: dict[str, list[list[int]]] = {"input_ids": []}
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        end = start + TOKENIZE_CHUNK
        chunk_pairs = pairs[start:end] if pairs is not None else None
        encoding = tokenizer(texts[start:end], chunk_pairs, truncation=True, max_length=max_length)
        for key, rows in encoding.items():
            out.setdefault(key, []).extend(rows)
    return out


def encode(split: Split, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Encoded:
    pairs = split.text_pairs
    encoding = tokenize(tokenizer, split.texts, max_length, pairs)
    token_types = encoding.get("token_type_ids") if pairs is not None else None
    return Encoded(encoding["input_ids"], token_types, list(split.labels))


class LengthGroupedBatches(Sampler[list[int]]):
    """Seeded batches of similar-length examples; `set_epoch` gives each epoch a new order."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, group: bool = True):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.group = group
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        if not self.group:
            yield from _chunks(order, self.batch_size)
            return
        mega = self.batch_size * MEGA_BATCH_FACTOR
        batches = []
        for start in range(0, len(order), mega):
            chunk = sorted(order[start : start + mega], key=lambda i: -self.lengths[i])
            batches.extend(_chunks(chunk, self.batch_size))
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position]


def eval_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Longest first, so padding is minimal and a memory problem shows at the first batch."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return list(_chunks(order, batch_size))


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


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
