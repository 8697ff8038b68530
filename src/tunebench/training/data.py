"""Tokenise each split once and batch it with little padding (every family's batches).

Texts are tokenised a single time per run (never per epoch). Training batches group texts of
similar length (shuffled within seeded mega-batches, then batch order shuffled), evaluation
batches are sorted by length; both pad only to the longest text in the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Sampler
from transformers import PreTrainedTokenizerBase

from tunebench.training.replay import growth_steps, replay_settings

MEGA_BATCH_FACTOR = 50  # as in transformers' group_by_length
TOKENIZE_CHUNK = 256
"""Texts per tokenizer call. A fast tokenizer holds every text's whole, untruncated encoding
until the call returns: 4,000 long 20newsgroups posts in one call raise peak host memory by
354 MB, in calls of 256 by 44 MB (docs/benchmarks.md, Scaling)."""


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


class LengthGroupedBatches(Sampler[list[int]]):
    """Seeded batches of similar-length examples; `set_epoch` gives each epoch a new order.
    Inside a probe (replay.py) every epoch is the first epoch's memory-growing steps."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, group: bool = True):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.group = group
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        if replay_settings() is not None:
            return len(self._replayed())
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        if replay_settings() is not None:
            yield from self._replayed()
        else:
            yield from self.epoch_batches(self.epoch)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The batches of `epoch`, in order."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        if not self.group:
            return _chunks(order, self.batch_size)
        mega = self.batch_size * MEGA_BATCH_FACTOR
        batches = []
        for start in range(0, len(order), mega):
            chunk = sorted(order[start : start + mega], key=lambda i: -self.lengths[i])
            batches.extend(_chunks(chunk, self.batch_size))
        return [batches[p] for p in torch.randperm(len(batches), generator=generator).tolist()]

    def _replayed(self) -> list[list[int]]:
        accumulate, minimum = replay_settings()
        steps = growth_steps(self.epoch_batches(0), self.lengths, accumulate, minimum)
        return [batch for step in steps for batch in step]


def eval_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Longest first, so padding is minimal and a memory problem shows at the first batch."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return list(_chunks(order, batch_size))


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def pad_right(
    rows: Sequence[Sequence[int]], pad_token_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id rows -> (ids, attention mask), right-padded to the longest row (at least 1)."""
    width = max([len(row) for row in rows] + [1])
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[r, : len(row)] = 1
    return input_ids, mask
