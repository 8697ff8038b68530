"""Generation (supervised fine-tuning): prompt -> response, trained with the loss on response
tokens only, scored by perplexity and by greedy generations (ROUGE-1 / 2 / L, exact match where
answers are short). Built in: `xsum`, `boolq_gen`; user files with prompt and response columns.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import PositiveInt

from tunebench.families.base import BuiltinTask, TaskSource
from tunebench.families.causal_lm.family import PERPLEXITY, TOKEN_LOSS, CausalLMFamily
from tunebench.families.classification.data import BOOLQ
from tunebench.families.generation import data
from tunebench.metrics import Metric, mean_of, metric_table

PromptFormat = Literal["auto", "chat", "plain"]


class GenerationTask(TaskSource):
    """Prompt -> response pairs, trained with the loss on response tokens only."""

    family: Literal["generation"] = "generation"
    prompt_column: str = "prompt"
    response_column: str = "response"
    prompt_format: PromptFormat = "auto"
    """auto = the backbone's chat template when it has one, else plain text."""
    max_new_tokens: PositiveInt | None = None
    """Greedy generation length for ROUGE / exact match; None = the task's (files: 64)."""
    generate: bool = True
    """Score greedy generations of the test split (slow on a CPU); false = perplexity only."""
    forgetting: bool = False
    """Also record the rise in loss on a fixed sample of general text (docs/generation.md)."""

    file_fields: ClassVar[tuple[str, ...]] = ("prompt_column", "response_column")
    family_name: ClassVar[str] = "generation"
    transfers: ClassVar[bool] = True


GenerationTask.builtins = {
    "xsum": BuiltinTask(
        "BBC article -> one-sentence summary, XSum (1,000 articles)",
        "summary",
        data.XSUM,
        data.load_xsum,
    ),
    "boolq_gen": BuiltinTask(
        "BoolQ passage + question -> 'yes' / 'no', generated",
        "yes / no",
        BOOLQ,
        data.load_boolq_gen,
    ),
}


class Generation(CausalLMFamily):
    name = "generation"
    task_config = GenerationTask
    metrics = metric_table(
        PERPLEXITY,
        TOKEN_LOSS,
        *(Metric(name, True, resample=mean_of(name)) for name in ("rouge1", "rouge2", "rougeL")),
        Metric("exact_match", True, resample=mean_of("exact_match")),
        Metric("generation_seconds", False),
    )
    validation = ("perplexity", "loss")
    report_default = "perplexity"

    def load(self, task: GenerationTask) -> data.GenerationData:
        return data.load_generation_task(task)

    def prepare(self, context, backbone):
        from tunebench.families.generation.run import prepare

        return prepare(context, backbone)

    def sequence_lengths(self, renderer, split, max_length, train):
        return renderer.encode(split.prompts, split.responses, max_length).lengths()


FAMILY = Generation()
