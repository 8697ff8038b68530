"""Scoring continuations that share a prompt, running the prompt once.

A multiple-choice question is scored as one sequence per option, each repeating the question:
CommonsenseQA's five options of one or two tokens after a ~40-token question spend four fifths
of the computation on copies of the same question. Here each distinct prompt runs once with the
key/value cache on, the cache is copied to its continuations, and only the continuation tokens
run after it (at their own positions, the prompt's padding masked). The log-likelihoods equal
`scoring.score`'s (tests hold them to it per method).

Methods that change the prompt's inputs (peft's prompt tuning and prefix tuning insert virtual
tokens or keys) keep the one-sequence-per-continuation path: `shares_prompts` says which.
"""

from __future__ import annotations

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn

from tunebench.families.causal_lm.logprobs import labelled_logprobs
from tunebench.families.causal_lm.scoring import EVAL_TOKENS_PER_BATCH, score
from tunebench.families.causal_lm.sequences import Sequences, token_budget_batches
from tunebench.training.data import pad_right


def score_continuations(
    model: nn.Module,
    sequences: Sequences,
    pad_token_id: int,
    accelerator: Accelerator,
    max_rows: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`scoring.score`'s result, with each run of identical prompts computed once where the
    model allows it."""
    if shares_prompts(model, sequences):
        return score_shared(
            model, sequences, pad_token_id, accelerator, EVAL_TOKENS_PER_BATCH, max_rows
        )
    return score(model, sequences, pad_token_id, accelerator, max_rows)


def shares_prompts(model: nn.Module, sequences: Sequences) -> bool:
    """Whether `model` can compute the prompts of `sequences` once for several continuations:
    not for prompt learning, nor where a prompt is empty (nothing would predict the first
    continuation token)."""
    config = getattr(getattr(model, "module", model), "active_peft_config", None)  # DDP inside
    prompt_learning = config is not None and config.is_prompt_learning
    return not prompt_learning and min(sequences.prompt_lengths, default=1) > 0


def prompt_groups(sequences: Sequences) -> list[list[int]]:
    """Runs of consecutive rows whose prompt tokens are identical (a question's options)."""
    groups: list[list[int]] = []
    previous: list[int] | None = None
    for row, (ids, length) in enumerate(
        zip(sequences.input_ids, sequences.prompt_lengths, strict=True)
    ):
        prompt = ids[:length]
        if prompt == previous:
            groups[-1].append(row)
        else:
            groups.append([row])
            previous = prompt
    return groups


@torch.inference_mode()
def score_shared(
    model: nn.Module,
    sequences: Sequences,
    pad_token_id: int,
    accelerator: Accelerator,
    max_tokens: int,
    max_rows: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(log-probability of each continuation, its token count), in the order of `sequences`,
    each distinct prompt run once; batches hold at most `max_tokens` padded tokens."""
    model.eval()
    groups = prompt_groups(sequences)
    logprobs = np.zeros(len(sequences), dtype=np.float64)
    counts = np.zeros(len(sequences), dtype=np.int64)
    sizes = [len(sequences.input_ids[g[0]]) * len(g) for g in groups]
    for chosen in token_budget_batches(sizes, max_tokens, max_rows):
        batch_groups = [groups[i] for i in chosen]
        rows = [row for group in batch_groups for row in group]
        with accelerator.autocast():
            logprob, count = _group_logprobs(model, sequences, batch_groups, pad_token_id)
        logprobs[rows] = logprob.double().cpu().numpy()
        counts[rows] = count.cpu().numpy()
    return logprobs, counts


def _group_logprobs(
    model: nn.Module, sequences: Sequences, groups: list[list[int]], pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch: G prompts (right-padded, P wide), then their R continuations (O wide)."""
    device = next(model.parameters()).device
    prompt_ids = [sequences.input_ids[g[0]][: sequences.prompt_lengths[g[0]]] for g in groups]
    prompts, prompt_mask = pad_right(prompt_ids, pad)  # (G, P)
    prompts, prompt_mask = prompts.to(device), prompt_mask.to(device)
    outputs = model(
        input_ids=prompts,
        attention_mask=prompt_mask,
        use_cache=True,
        output_hidden_states=True,
        logits_to_keep=1,
    )
    lengths = prompt_mask.sum(1)  # (G,)
    last = outputs.hidden_states[-1][torch.arange(len(groups), device=device), lengths - 1]
    owner = torch.tensor([i for i, g in enumerate(groups) for _ in g], device=device)  # (R,)
    cache = outputs.cache
    cache.reorder_cache(owner)
    continuation_ids = [
        sequences.input_ids[row][sequences.prompt_lengths[row] :] for g in groups for row in g
    ]
    continuations, continuation_mask = pad_right(continuation_ids, pad)  # (R, O)
    continuations, continuation_mask = continuations.to(device), continuation_mask.to(device)
    width = continuations.shape[1]
    positions = lengths[owner].unsqueeze(1) + torch.arange(width, device=device)
    hidden = model(
        input_ids=continuations,
        attention_mask=torch.cat([prompt_mask[owner], continuation_mask], dim=1),
        position_ids=positions,
        cache=cache,
        use_cache=True,
        output_hidden_states=True,
        logits_to_keep=1,
    ).hidden_states[-1]  # (R, O, H)
    # Token j of a continuation is predicted by the state before it: the prompt's last for j 0.
    predictors = torch.cat([last[owner].unsqueeze(1), hidden[:, :-1]], dim=1)  # (R, O, H)
    scored = continuation_mask.bool()
    token_logprobs = labelled_logprobs(model, predictors[scored], continuations[scored])
    sums = torch.zeros(len(owner), dtype=token_logprobs.dtype, device=device)
    return sums.index_add(0, scored.nonzero()[:, 0], token_logprobs), scored.sum(1)
