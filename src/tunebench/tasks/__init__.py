"""Tasks: the built-in registry and `load_task`, the one entry point that turns config into data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tunebench.tasks.base import Split, TaskData
from tunebench.tasks.config import TaskConfig
from tunebench.tasks.files import load_file_task
from tunebench.tasks.splits import limit
from tunebench.tasks.text_classification import load_20newsgroups, load_boolq, load_sms_spam


@dataclass(frozen=True)
class BuiltinTask:
    """A built-in task as `tunebench list tasks` shows it."""

    loader: Callable[[TaskConfig], TaskData]
    description: str
    num_labels: int


BUILTIN_TASKS: dict[str, BuiltinTask] = {
    "sms_spam": BuiltinTask(
        load_sms_spam, "SMS spam vs ham, UCI SMS Spam Collection (5,171 unique messages)", 2
    ),
    "20newsgroups": BuiltinTask(
        load_20newsgroups, "topic of a Usenet post, 20 Newsgroups by date (18,846 posts)", 20
    ),
    "boolq": BuiltinTask(
        load_boolq, "yes/no question about a Wikipedia passage, BoolQ (12,697 labelled)", 2
    ),
}


def load_task(cfg: TaskConfig) -> TaskData:
    """Load a built-in task or a user file, then apply the config's sample caps."""
    data = load_file_task(cfg) if cfg.path is not None else BUILTIN_TASKS[cfg.name].loader(cfg)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


__all__ = ["BUILTIN_TASKS", "BuiltinTask", "Split", "TaskConfig", "TaskData", "load_task"]
