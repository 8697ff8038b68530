"""Forgetting: how much fine-tuning raised the model's loss on general text it was not tuned on.

The general text is a fixed sample of Wikipedia paragraphs: 64 passages of BoolQ's official
dev set (seeded choice), each cut to 256 tokens, scored as plain text with no prompt. The
run records the mean token loss before the method is applied and after training; `rise` is
their difference (positive = the model got worse at general text).
"""

from __future__ import annotations

import numpy as np
from accelerate import Accelerator
from torch import nn
from transformers import PreTrainedTokenizerBase

from tunebench import assets
from tunebench.families.causal_lm.scoring import perplexity, score
from tunebench.families.causal_lm.sequences import Renderer, Sequences
from tunebench.families.classification.data import BOOLQ, BOOLQ_DIR
from tunebench.families.files import jsonl

SAMPLE_SIZE = 64
MAX_TOKENS = 256
SAMPLE_SEED = 0


def general_text() -> list[str]:
    passages = [r["passage"] for r in jsonl(assets.asset_dir(BOOLQ) / BOOLQ_DIR / "dev.jsonl")]
    chosen = np.random.default_rng(SAMPLE_SEED).choice(len(passages), SAMPLE_SIZE, replace=False)
    return [passages[i] for i in sorted(chosen)]


def general_sequences(tokenizer: PreTrainedTokenizerBase) -> Sequences:
    renderer = Renderer(tokenizer, "cloze")
    texts = general_text()
    return Sequences([renderer.continuation_ids(t)[:MAX_TOKENS] for t in texts], [0] * len(texts))


def general_loss(
    model: nn.Module, sequences: Sequences, pad_token_id: int, accelerator: Accelerator, rows: int
) -> float:
    """Mean loss per token on the general-text sample (the first token of each is unscored)."""
    return perplexity(*score(model, sequences, pad_token_id, accelerator, rows))["loss"]
