"""Tasks: the built-in registry and `load_task`, the one entry point that turns config into data.

Families: classification (`TaskData`), generation (`GenerationData`), multiple choice
(`ChoiceData`) and preference (`PreferenceData`); each family's data module holds its loaders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tunebench.tasks.base import Split, TaskData
from tunebench.tasks.config import (
    AnyTaskConfig,
    ChoiceTaskConfig,
    Family,
    GenerationTaskConfig,
    PreferenceTaskConfig,
    TaskConfig,
)
from tunebench.tasks.files import load_file_task
from tunebench.tasks.generation import GenerationData, load_generation_task
from tunebench.tasks.multiple_choice import ChoiceData, load_choice_task
from tunebench.tasks.preference import PreferenceData, load_preference_task
from tunebench.tasks.splits import limit
from tunebench.tasks.text_classification import load_20newsgroups, load_boolq, load_sms_spam

AnyTaskData = TaskData | GenerationData | ChoiceData | PreferenceData


@dataclass(frozen=True)
class BuiltinTask:
    """A built-in task as `tunebench list tasks` shows it."""

    family: Family
    description: str
    target: str
    """What is predicted: "2 classes", "summary", "5 options", ..."""
    loader: Callable[[Any], AnyTaskData] | None = None
    """Classification tasks' own loader; other families load through their module."""


BUILTIN_TASKS: dict[str, BuiltinTask] = {
    "sms_spam": BuiltinTask(
        "classification",
        "SMS spam vs ham, UCI SMS Spam Collection (5,171 unique messages)",
        "2 classes",
        load_sms_spam,
    ),
    "20newsgroups": BuiltinTask(
        "classification",
        "topic of a Usenet post, 20 Newsgroups by date (18,846 posts)",
        "20 classes",
        load_20newsgroups,
    ),
    "boolq": BuiltinTask(
        "classification",
        "yes/no question about a Wikipedia passage, BoolQ (12,697 labelled)",
        "2 classes",
        load_boolq,
    ),
    "xsum": BuiltinTask(
        "generation", "BBC article -> one-sentence summary, XSum (1,000 articles)", "summary"
    ),
    "boolq_gen": BuiltinTask(
        "generation", "BoolQ passage + question -> 'yes' / 'no', generated", "yes / no"
    ),
    "commonsense_qa": BuiltinTask(
        "multiple_choice", "CommonsenseQA (1,221 labelled questions)", "5 options"
    ),
    "piqa": BuiltinTask("multiple_choice", "PIQA physical commonsense (1,500 goals)", "2 options"),
    "openbookqa": BuiltinTask(
        "multiple_choice", "OpenBookQA elementary science (500 questions)", "4 options"
    ),
    "siqa": BuiltinTask("multiple_choice", "Social IQa (1,954 questions)", "3 options"),
    "hellaswag": BuiltinTask(
        "multiple_choice",
        "HellaSwag: unavailable, the packaged copy has no gold labels",
        "4 endings",
    ),
    "summary_pairs": BuiltinTask(
        "preference",
        "news sentence -> factually correct vs incorrect summary (371 pairs)",
        "chosen vs rejected",
    ),
}


def load_task(cfg: AnyTaskConfig) -> AnyTaskData:
    """Load a built-in task or a user file of any family, with the config's sample caps."""
    if isinstance(cfg, GenerationTaskConfig):
        return load_generation_task(cfg)
    if isinstance(cfg, ChoiceTaskConfig):
        return load_choice_task(cfg)
    if isinstance(cfg, PreferenceTaskConfig):
        return load_preference_task(cfg)
    data = load_file_task(cfg) if cfg.path is not None else BUILTIN_TASKS[cfg.name].loader(cfg)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


__all__ = [
    "BUILTIN_TASKS",
    "AnyTaskConfig",
    "AnyTaskData",
    "BuiltinTask",
    "ChoiceTaskConfig",
    "GenerationTaskConfig",
    "PreferenceTaskConfig",
    "Split",
    "TaskConfig",
    "TaskData",
    "load_task",
]
