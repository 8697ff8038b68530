"""DPO's reference log-probabilities, scored once per study and kept on disk.

The reference is the backbone before the method is applied, so every run of a study that shares
the backbone, the split's token ids and the scoring settings scores exactly the same thing: a
9-method × 3-seed study would score it 27 times. The first run stores the whole split's scores;
the others read them. A whole split at once, under a key that holds everything the arithmetic
depends on (weights, dtype, tokens, batch sizes, device, precision, threads, library versions),
so a cached result is the bit-identical one a run would compute. Entries are safetensors files,
never pickles.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file, save_file
from torch import nn

import tunebench
from tunebench.families.causal_lm.scoring import EVAL_TOKENS_PER_BATCH
from tunebench.families.causal_lm.sequences import Sequences
from tunebench.models.fingerprint import weights_fingerprint

Scores = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(chosen log-probabilities (N,) float64, rejected (N,) float64, chosen token counts (N,))"""

_NAMES = ("chosen", "rejected", "chosen_tokens")


def scoring_identity(model: nn.Module, accelerator, rows: int) -> str:
    """Everything besides the tokens that the reference's scores depend on."""
    parameter = next(model.parameters())
    parts = [
        weights_fingerprint(model),
        str(parameter.dtype),
        f"{rows} rows, {EVAL_TOKENS_PER_BATCH} tokens",
        accelerator.device.type,
        str(accelerator.mixed_precision),
        str(torch.get_num_threads()),
        torch.__version__,
        transformers.__version__,
        tunebench.__version__,
    ]
    return "|".join(parts)


def cached_scores(
    folder: Path,
    identity: str,
    chosen: Sequences,
    rejected: Sequences,
    score: Callable[[Sequences, Sequences], Scores],
) -> Scores:
    """`score(chosen, rejected)`, computed only if no earlier run stored it."""
    if not len(chosen):
        return score(chosen, rejected)
    path = folder / f"{_key(identity, chosen, rejected)}.safetensors"
    if path.exists():
        tensors = load_file(str(path))
        return tuple(tensors[name] for name in _NAMES)
    scores = score(chosen, rejected)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f"{uuid.uuid4().hex}.tmp"  # parallel workers may race: last rename wins
    # C order: safetensors 0.8 writes a strided view's raw memory (its issue #825)
    arrays = {name: np.ascontiguousarray(array) for name, array in zip(_NAMES, scores, strict=True)}
    save_file(arrays, str(staging))
    staging.rename(path)
    return scores


def _key(identity: str, chosen: Sequences, rejected: Sequences) -> str:
    digest = hashlib.sha256(identity.encode())
    for sequences in (chosen, rejected):
        digest.update(json.dumps([sequences.input_ids, sequences.prompt_lengths]).encode())
    return digest.hexdigest()[:32]
