"""Preference tuning with DPO (Rafailov et al., 2023), on the shared training loop.

The loss is DPO's sigmoid loss, as TRL's `DPOTrainer` computes it with `loss_type="sigmoid"`:
-log σ(β · [(log π(chosen) − log π_ref(chosen)) − (log π(rejected) − log π_ref(rejected))]),
log-probabilities summed over the response tokens. The reference model is the backbone before
the method is applied; its log-probabilities are computed once, before training (TRL's
`precompute_ref_log_probs`), so no second copy of the model is kept, and stored for the other
runs of the study (reference.py).

Held-out metrics: `reward_accuracy` (share of pairs whose implicit reward β·(log π − log π_ref)
is higher for the chosen response), `reward_margin` (mean reward difference), `loss`,
`chosen_perplexity` (the policy's perplexity on chosen responses) and `logp_accuracy` (share of
pairs where the policy gives the chosen response the higher log-probability). An untrained
policy is its own reference: its rewards are all zero, so reward metrics are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tunebench.families.causal_lm.logprobs import continuation_logprobs
from tunebench.families.causal_lm.scoring import CausalRun, train_loader
from tunebench.families.causal_lm.sequences import (
    Renderer,
    Sequences,
    collate,
    resolve_format,
)
from tunebench.families.causal_lm.shared_prompts import score_continuations
from tunebench.families.context import RunContext
from tunebench.families.preference.data import PreferenceSplit
from tunebench.families.preference.reference import Scores, cached_scores, scoring_identity
from tunebench.models.backbones import Backbone
from tunebench.training.loop import model_loss
from tunebench.training.metrics import with_rows


def dpo_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Mean DPO sigmoid loss over pairs of summed response log-probabilities."""
    logits = beta * ((chosen - reference_chosen) - (rejected - reference_rejected))
    return -nn.functional.logsigmoid(logits).mean()


@dataclass
class _Output:
    loss: torch.Tensor


class PreferenceModel(nn.Module):
    """The policy with DPO's loss: a batch holds B chosen rows, then their B rejected rows."""

    def __init__(self, policy: nn.Module, beta: float):
        super().__init__()
        self.policy = policy
        self.beta = beta

    def forward(self, input_ids, attention_mask, labels, reference_logprobs) -> _Output:
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        logprobs, _ = continuation_logprobs(self.policy, batch)
        half = input_ids.shape[0] // 2
        loss = dpo_loss(
            logprobs[:half],
            logprobs[half:],
            reference_logprobs[:half],
            reference_logprobs[half:],
            self.beta,
        )
        return _Output(loss)


@dataclass(frozen=True)
class _Pairs:
    chosen: Sequences
    rejected: Sequences
    reference_chosen: np.ndarray
    reference_rejected: np.ndarray
    chosen_tokens: np.ndarray
    ids: list

    def lengths(self) -> list[int]:
        """Each pair's longer sequence: what its training batch is padded to."""
        both = zip(self.chosen.lengths(), self.rejected.lengths(), strict=True)
        return [max(chosen, rejected) for chosen, rejected in both]


def score_pairs(
    model: nn.Module, chosen: Sequences, rejected: Sequences, pad: int, accelerator, rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log-probabilities of the chosen responses, of the rejected ones, the chosen responses'
    token counts); each pair's prompt runs once for both where the model allows it."""
    both = Sequences(
        _interleaved(chosen.input_ids, rejected.input_ids),
        _interleaved(chosen.prompt_lengths, rejected.prompt_lengths),
    )
    logprobs, counts = score_continuations(model, both, pad, accelerator, rows)
    return logprobs[0::2], logprobs[1::2], counts[0::2]


def _interleaved(first: list, second: list) -> list:
    return [item for pair in zip(first, second, strict=True) for item in pair]


def prepare(context: RunContext, backbone: Backbone) -> CausalRun:
    """Must run before the method is applied: the model as it is now is the reference."""
    data, spec, accelerator = context.data, context.spec, context.accelerator
    config, beta = spec.training, spec.task.beta
    tokenizer, pad = backbone.tokenizer, backbone.tokenizer.pad_token_id
    renderer = Renderer(tokenizer, resolve_format(spec.task.prompt_format, tokenizer))
    reference = backbone.model.to(accelerator.device)
    rows = config.eval_batch_size
    identity, folder = scoring_identity(reference, accelerator, rows), context.cache_dir / "dpo"

    def score_reference(chosen: Sequences, rejected: Sequences) -> Scores:
        return score_pairs(reference, chosen, rejected, pad, accelerator, rows)

    def pairs(split: PreferenceSplit) -> _Pairs:
        answers = (split.chosen, split.rejected)
        chosen, rejected = (renderer.encode(split.prompts, a, config.max_length) for a in answers)
        scored = cached_scores(folder, identity, chosen, rejected, score_reference)
        return _Pairs(chosen, rejected, *scored, split.ids)

    trained = context.method.trains_backbone
    validation, test = pairs(data.validation), pairs(data.test)
    train = pairs(data.train) if trained else pairs(data.train.take([]))  # zero-shot: unused
    collate_pairs = _PairCollator(train, pad)
    batches, loader = train_loader(
        train.chosen, config, spec.seed, pad, collate_pairs, train.lengths()
    )

    def scorer(held_out: _Pairs):
        def evaluate(model: nn.Module) -> dict:
            chosen, rejected = held_out.reference_chosen, held_out.reference_rejected
            if trained:  # else the policy is the reference, already scored
                policy = model.policy if isinstance(model, PreferenceModel) else model
                chosen, rejected, _ = score_pairs(
                    policy, held_out.chosen, held_out.rejected, pad, accelerator, rows
                )
            metrics = preference_metrics(
                chosen,
                rejected,
                held_out.reference_chosen,
                held_out.reference_rejected,
                held_out.chosen_tokens,
                beta,
                trained,
            )
            metrics["examples"] = with_rows(metrics["examples"], held_out.ids)
            return metrics

        return evaluate

    return CausalRun(
        batches,
        loader,
        scorer(validation),
        scorer(test),
        wrap=lambda policy: PreferenceModel(policy, beta),
        policy=lambda model: model.policy,
        examples_in=lambda batch: batch["labels"].shape[0] // 2,
        loss_of=model_loss,  # PreferenceModel computes DPO's loss
    )


class _PairCollator:
    """Training rows -> a batch of their chosen sequences, then their rejected ones, with the
    reference model's log-probabilities of both."""

    def __init__(self, train: _Pairs, pad_token_id: int):
        self.train = train
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[int]) -> dict:
        train = self.train
        both = Sequences(
            [train.chosen.input_ids[i] for i in rows] + [train.rejected.input_ids[i] for i in rows],
            [train.chosen.prompt_lengths[i] for i in rows]
            + [train.rejected.prompt_lengths[i] for i in rows],
        )
        batch = collate(both, list(range(len(both))), self.pad_token_id)
        reference_rows = np.concatenate(
            [train.reference_chosen[rows], train.reference_rejected[rows]]
        )
        batch["reference_logprobs"] = torch.tensor(reference_rows, dtype=torch.float32)
        return batch


def preference_metrics(
    chosen: np.ndarray,
    rejected: np.ndarray,
    reference_chosen: np.ndarray,
    reference_rejected: np.ndarray,
    chosen_tokens: np.ndarray,
    beta: float,
    trained: bool,
) -> dict:
    chosen_rewards = beta * (chosen - reference_chosen)
    rejected_rewards = beta * (rejected - reference_rejected)
    margins = chosen_rewards - rejected_rewards
    metrics = {
        "loss": float(np.mean(np.logaddexp(0.0, -margins))),  # -log σ(margin), stably
        "chosen_perplexity": float(np.exp(-chosen.sum() / max(chosen_tokens.sum(), 1))),
        "logp_accuracy": float(np.mean(chosen > rejected)),
        "examples": {"logp_margin": (chosen - rejected).tolist()},
    }
    if trained:
        metrics["reward_accuracy"] = float(np.mean(chosen_rewards > rejected_rewards))
        metrics["reward_margin"] = float(np.mean(margins))
        metrics["examples"]["reward_margin"] = margins.tolist()
    return metrics
