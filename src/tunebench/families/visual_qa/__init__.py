"""Visual question answering: an image-text model answers questions about images (seed 001's
multimodal half), for users with vision-language weights and data on disk or the Hub.

A task is a user's file (data.py): images, questions, answers, optionally choices. The run
(run.py) loads any model `AutoModelForImageTextToText` loads (LLaVA, Idefics3 / SmolVLM,
Qwen2-VL; models/image_text.py), keeps the vision encoder frozen, applies the method to the
language model alone, trains the connector only when the method entry says `connector:
trainable`, and trains with the loss on the answer tokens (batches.py). Scoring (answers.py):
exact match and token F1 after VQA normalisation, accuracy on yes/no questions and the
POPE-style hallucination rate; a question with choices is answered by the option the model
finds likeliest. No vision-language weights or images reach the project's machines: the tests
run tiny models built from configs, and no figure from them is a result.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import PositiveInt

from tunebench.families.base import Cell, Family, SplitLengths, TaskSource
from tunebench.families.visual_qa import data
from tunebench.families.visual_qa.answers import METRICS
from tunebench.metrics import Metric, metric_table


class VisualQATask(TaskSource):
    """A user's file of images (paths relative to it), questions and answers."""

    family: Literal["visual_qa"] = "visual_qa"
    image_column: str = "image"
    question_column: str = "question"
    answer_column: str = "answer"
    choices_column: str | None = None
    """A column of options (a list; in a CSV a JSON array): such a question is answered by
    the option the model finds likeliest instead of by generating."""
    max_new_tokens: PositiveInt = 16
    """Greedy generation length of an answer."""

    file_fields: ClassVar[tuple[str, ...]] = (
        "image_column",
        "question_column",
        "answer_column",
        "choices_column",
    )
    family_name: ClassVar[str] = "visual_qa"
    transfers: ClassVar[bool] = True


class VisualQA(Family):
    name = "visual_qa"
    task_config = VisualQATask
    metrics = metric_table(Metric("loss", False), *METRICS, Metric("generation_seconds", False))
    validation = ("loss",)
    report_default = "exact_match"
    model_kind = "image_text"
    baseline = "zero_shot"  # `frozen` with a frozen connector trains nothing: the model as loaded
    has_connector = True

    def load(self, task: VisualQATask) -> data.VQAData:
        return data.load_visual_qa(task)

    def cells(self, study: Any, task: TaskSource) -> list[Cell]:
        """Every backbone with every method; a method entry's `connector` (default frozen)
        is a setting of its runs."""
        return [
            Cell(backbone, entry, f"methods.{index}", {"connector": entry.connector or "frozen"})
            for backbone in study.backbones
            for index, entry in enumerate(study.methods)
        ]

    def run_label(self, run) -> str:
        """The usual label, and the connector where it trains."""
        label = super().run_label(run)
        if run.options.get("connector") == "trainable":
            label = label.replace(" · seed", " · connector trainable · seed")
        return label

    def token_lengths(self, spec, task_data: data.VQAData) -> SplitLengths:
        """Each row's tokens as the run counts them (`row_tokens`, image tokens included):
        prompt + answer in training and validation, the prompt for the test's answers."""
        from tunebench.families.visual_qa.batches import row_tokens
        from tunebench.models.image_text import load_processor

        processor = load_processor(spec.backbone, spec.trust_remote_code)
        splits = (task_data.train, task_data.validation, task_data.test)
        train, validation, test = (
            row_tokens(processor, s.images, s.questions, s.answers) for s in splits
        )
        return SplitLengths(train[1], validation[1], test[0])

    def train_and_test(self, context):
        from tunebench.families.visual_qa.run import train_and_test

        return train_and_test(context)


FAMILY = VisualQA()
