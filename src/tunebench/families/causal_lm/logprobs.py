"""Log-likelihoods of labelled tokens without the full-vocabulary logits.

A causal LM's own loss computes logits at every position: rows x length x vocabulary floats
(16 x 256 x 49,152 in fp32 is 0.8 GB), and cross-entropy keeps several copies of them for the
backward pass. Only the labelled positions (the response, the option, the chosen answer) are
scored, so the head runs on their hidden states alone, in chunks of at most
`CHUNK_LOGITS` logits, and under gradient each chunk is checkpointed: its logits are recomputed
in the backward pass instead of kept. The result equals the full computation (the same
log-softmax, on fewer rows); tests hold it to transformers' own loss.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from tunebench.families.causal_lm.sequences import IGNORE

CHUNK_LOGITS = 2**25
"""Logits per chunk (128 MB in fp32): 682 tokens of a 49k vocabulary, 128 of a 262k one."""


def continuation_logprobs(
    model: nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of log-probabilities of each row's labelled tokens, their count), one per row.

    `batch`: `input_ids`, `attention_mask` and `labels` (B, T), -100 where unscored; an
    `example_index` (prefix-cache keys) goes to the model with it. peft's prompt tuning
    prepends virtual tokens to the hidden states: only the last T positions are the input's.
    """
    input_ids, labels = batch["input_ids"], batch["labels"]
    keys = {"example_index": batch["example_index"]} if "example_index" in batch else {}
    outputs = model(
        input_ids=input_ids,
        attention_mask=batch["attention_mask"],
        use_cache=False,  # one pass: no key/value cache to build
        output_hidden_states=True,  # the last one is after the final norm, as the head sees it
        logits_to_keep=1,  # the model's own head runs on one position only
        **keys,
    )
    hidden = outputs.hidden_states[-1][:, -input_ids.shape[1] : -1]  # (B, T - 1, H)
    targets = labels[:, 1:]  # position t predicts token t + 1
    scored = targets != IGNORE
    token_logprobs = labelled_logprobs(model, hidden[scored], targets[scored])  # (N,)
    rows = scored.nonzero()[:, 0]
    sums = torch.zeros(len(labels), dtype=token_logprobs.dtype, device=labels.device)
    return sums.index_add(0, rows, token_logprobs), scored.sum(1)


def labelled_logprobs(
    model: nn.Module, hidden: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """log p(target) under the model's head for each of N hidden states (N, H) -> (N,)."""
    language_model = getattr(model, "module", model)  # inside DistributedDataParallel
    head = language_model.get_output_embeddings()
    softcap = getattr(language_model.config.get_text_config(), "final_logit_softcapping", None)

    def chunk_logprobs(states: torch.Tensor, chunk_targets: torch.Tensor) -> torch.Tensor:
        logits = head(states).float()
        if softcap:  # Gemma 2's tanh capping, applied by its model after the head
            logits = torch.tanh(logits / softcap) * softcap
        picked = logits.gather(-1, chunk_targets.unsqueeze(-1)).squeeze(-1)
        return picked - torch.logsumexp(logits, dim=-1)

    size = max(CHUNK_LOGITS // head.weight.shape[0], 1)
    pieces = []
    for start in range(0, len(targets), size):
        states, chunk_targets = hidden[start : start + size], targets[start : start + size]
        if torch.is_grad_enabled():
            pieces.append(checkpoint(chunk_logprobs, states, chunk_targets, use_reentrant=False))
        else:
            pieces.append(chunk_logprobs(states, chunk_targets))
    return torch.cat(pieces) if pieces else hidden.new_zeros(0, dtype=torch.float32)


def response_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The mean loss over labelled tokens: transformers' causal-LM loss, computed lean."""
    logprobs, counts = continuation_logprobs(model, batch)
    return -logprobs.sum() / counts.sum().clamp(min=1)
