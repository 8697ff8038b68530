"""Preference tuning with DPO: a prompt, a chosen and a rejected response; the policy learns to
prefer the chosen one against the model as loaded (run.py). Built in: `summary_pairs`; user
files with prompt, chosen and rejected columns.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import PositiveFloat

from tunebench.families.base import BuiltinTask, TaskSource
from tunebench.families.causal_lm.family import CausalLMFamily
from tunebench.families.preference import data
from tunebench.metrics import Metric, mean_of, metric_table

PromptFormat = Literal["auto", "chat", "plain"]


class PreferenceTask(TaskSource):
    """Prompt with a chosen and a rejected response, trained with DPO."""

    family: Literal["preference"] = "preference"
    prompt_column: str = "prompt"
    chosen_column: str = "chosen"
    rejected_column: str = "rejected"
    prompt_format: PromptFormat = "auto"
    beta: PositiveFloat = 0.1
    """DPO's beta: how far the policy may move from the reference model."""
    forgetting: bool = False

    file_fields: ClassVar[tuple[str, ...]] = ("prompt_column", "chosen_column", "rejected_column")
    family_name: ClassVar[str] = "preference"
    transfers: ClassVar[bool] = True


PreferenceTask.builtins = {
    "summary_pairs": BuiltinTask(
        "news sentence -> factually correct vs incorrect summary (371 pairs)",
        "chosen vs rejected",
        data.SUMMARY_PAIRS_ASSET,
        data.load_summary_pairs,
    )
}


class Preference(CausalLMFamily):
    name = "preference"
    task_config = PreferenceTask
    metrics = metric_table(
        Metric("loss", False, resample=lambda e: np.logaddexp(0.0, -e["reward_margin"]).mean(1)),
        Metric("reward_accuracy", True, True, lambda e: (e["reward_margin"] > 0).mean(axis=1)),
        Metric("reward_margin", True, resample=mean_of("reward_margin")),
        Metric("chosen_perplexity", False),
        Metric("logp_accuracy", True, True, lambda e: (e["logp_margin"] > 0).mean(axis=1)),
    )
    validation = ("loss", "reward_accuracy", "reward_margin", "chosen_perplexity")
    report_default = "reward_accuracy"

    def load(self, task: PreferenceTask) -> data.PreferenceData:
        return data.load_preference_task(task)

    def prepare(self, context, backbone):
        from tunebench.families.preference.run import prepare

        return prepare(context, backbone)

    def sequence_lengths(self, renderer, split, max_length, train):
        """A training row is a pair padded to its longer response; scoring runs both."""
        chosen, rejected = (
            renderer.encode(split.prompts, answers, max_length).lengths()
            for answers in (split.chosen, split.rejected)
        )
        if train:
            return [max(pair) for pair in zip(chosen, rejected, strict=True)]
        return chosen + rejected


FAMILY = Preference()
