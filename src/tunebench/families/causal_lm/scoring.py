"""What the decoder families' recipe needs from each of them, and the pieces they share.

A family (generation, multiple choice, preference) turns its data into training batches for the
shared loop and into two scoring functions, one per held-out split (`CausalRun`). Scoring runs
under `inference_mode`, in token-budget batches, with the accelerator's autocast (bf16 on a GPU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader

from tunebench.families.causal_lm.logprobs import continuation_logprobs
from tunebench.families.causal_lm.sequences import (
    Sequences,
    collate,
    token_budget_batches,
)
from tunebench.training.config import TrainingConfig
from tunebench.training.data import LengthGroupedBatches
from tunebench.training.loop import LossOf

EVAL_TOKENS_PER_BATCH = 2048
"""Padded tokens per evaluation batch: with a 49k vocabulary the fp32 logits take 0.4 GB."""


def _rows(batch: dict) -> int:
    return batch["labels"].shape[0]


@dataclass
class CausalRun:
    batches: LengthGroupedBatches
    loader: DataLoader
    validate: Callable[[nn.Module], dict]
    test: Callable[[nn.Module], dict]
    wrap: Callable[[nn.Module], nn.Module] = field(default=lambda model: model)
    """What the loop trains around the method-applied model (DPO adds its loss)."""
    policy: Callable[[nn.Module], nn.Module] = field(default=lambda model: model)
    """The language model inside what `wrap` made (scored for forgetting)."""
    examples_in: Callable[[dict], int] = _rows
    loss_of: LossOf | None = None
    """How a training batch becomes the loss; None: the mean over labelled tokens, computed
    without the full-vocabulary logits (logprobs.response_loss)."""
    prefix_tokens: int | None = None
    """Set by a family whose training and validation batches carry `example_index` keys: the
    runner then installs the frozen-prefix rule and cache (prefix_cache.py) for this many
    tokens. None: batches carry no keys, the whole model runs every time."""


def train_loader(
    sequences: Sequences,
    config: TrainingConfig,
    seed: int,
    pad_token_id: int,
    collate_rows: Callable[[list[int]], dict] | None = None,
    lengths: list[int] | None = None,
) -> tuple[LengthGroupedBatches, DataLoader]:
    """Length-grouped, seeded training batches of `sequences` (or of what `collate_rows`
    builds from row indices, grouped by `lengths`)."""
    batches = LengthGroupedBatches(
        lengths or sequences.lengths(), config.batch_size, seed, group=config.group_by_length
    )
    collate_fn = collate_rows or (lambda rows: collate(sequences, rows, pad_token_id))
    loader = DataLoader(range(len(batches.lengths)), batch_sampler=batches, collate_fn=collate_fn)
    return batches, loader


@torch.inference_mode()
def score(
    model: nn.Module,
    sequences: Sequences,
    pad_token_id: int,
    accelerator: Accelerator,
    max_rows: int,
    index_base: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(log-probability of each continuation, its token count), in the order of `sequences`.
    With `index_base`, batches carry their rows' prefix-cache keys (row + `index_base`)."""
    model.eval()
    logprobs = np.zeros(len(sequences), dtype=np.float64)
    counts = np.zeros(len(sequences), dtype=np.int64)
    for rows in token_budget_batches(sequences.lengths(), EVAL_TOKENS_PER_BATCH, max_rows):
        batch = collate(sequences, rows, pad_token_id)
        if index_base is not None:
            batch["example_index"] = torch.tensor(rows) + index_base
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        with accelerator.autocast():
            logprob, count = continuation_logprobs(model, batch)
        logprobs[rows] = logprob.double().cpu().numpy()
        counts[rows] = count.cpu().numpy()
    return logprobs, counts


def perplexity(logprobs: np.ndarray, counts: np.ndarray) -> dict:
    """Corpus-level: the mean loss over all scored tokens (not a mean of per-text means)."""
    loss = float(-logprobs.sum() / max(counts.sum(), 1))
    return {"loss": loss, "perplexity": float(np.exp(loss))}
