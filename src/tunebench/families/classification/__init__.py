"""Text classification: one text or a text pair -> a label, a head on the pooled backbone.

Built in: `sms_spam`, `20newsgroups`, `boolq` (data.py); user files with a text column, an
optional pair column and a label column (files.py). Metrics: accuracy, macro precision / recall
/ F1, AUROC for two classes, a per-class report.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import field_validator, model_validator

from tunebench.families.base import BuiltinTask, Family, SplitLengths, TaskSource
from tunebench.families.classification import data, seed_tasks
from tunebench.metrics import CLASSIFICATION, metric_table

Strip = Literal["headers", "footers", "quotes"]


class ClassificationTask(TaskSource):
    """A classification task: one text or a text pair, and a label.

    `max_train_samples` and `max_eval_samples` take stratified subsets (train seeded by
    `data_seed`; validation and test by a fixed seed) for quick studies: results are then
    measured on a subset and are not comparable with full-data numbers.
    """

    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    strip: list[Strip] = []
    """20newsgroups only: remove headers, footers and/or quotes from the posts."""

    file_fields: ClassVar[tuple[str, ...]] = ("text_column", "text_pair_column", "label_column")
    family_name: ClassVar[str] = "classification"
    transfers: ClassVar[bool] = True

    @property
    def family(self) -> str:
        return "classification"  # not a field: run ids of classification runs stay as they were

    @field_validator("strip")
    @classmethod
    def _canonical_strip(cls, value: list[Strip]) -> list[Strip]:
        """Same parts in any order or repeated mean the same data (and the same cache entry)."""
        return [s for s in ("headers", "footers", "quotes") if s in value]

    @model_validator(mode="after")
    def _check_strip(self) -> ClassificationTask:
        if self.strip and self.name != "20newsgroups":
            raise ValueError(f"strip only applies to 20newsgroups, not to task {self.name!r}")
        return self


ClassificationTask.builtins = {
    "sms_spam": BuiltinTask(
        "SMS spam vs ham, UCI SMS Spam Collection (5,171 unique messages)",
        "2 classes",
        data.SMS_SPAM,
        data.load_sms_spam,
    ),
    "20newsgroups": BuiltinTask(
        "topic of a Usenet post, 20 Newsgroups by date (18,846 posts)",
        "20 classes",
        data.NEWSGROUPS,
        data.load_20newsgroups,
    ),
    "boolq": BuiltinTask(
        "yes/no question about a Wikipedia passage, BoolQ (12,697 labelled)",
        "2 classes",
        data.BOOLQ,
        data.load_boolq,
    ),
    "snli": BuiltinTask(
        "entailment, neutral or contradiction of a sentence pair, SNLI 1.0 (109,714 pairs)",
        "3 classes",
        seed_tasks.SNLI,
        seed_tasks.load_snli,
    ),
    "tweet_sentiment": BuiltinTask(
        "negative, neutral or positive tweet, six CrowdFlower corpora (37,181 unique)",
        "3 classes",
        seed_tasks.TWEETS,
        seed_tasks.load_tweet_sentiment,
    ),
}


class Classification(Family):
    name = "classification"
    task_config = ClassificationTask
    metrics = metric_table(*CLASSIFICATION)
    validation = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "auroc")
    report_default = "accuracy"
    model_kind = "classifier"

    def load(self, task: ClassificationTask) -> data.TaskData:
        """A built-in task or a user file, with the config's sample caps."""
        if task.path is None:
            loaded = self.builtins[task.name].loader(task)
        else:
            from tunebench.families.classification.files import load_file_task

            loaded = load_file_task(task)
        return data.limit(loaded, task.max_train_samples, task.max_eval_samples, task.data_seed)

    def train_and_test(self, context):
        from tunebench.families.classification.run import train_and_test

        return train_and_test(context)

    def transfer_problem(self, trained: data.TaskData, tested: data.TaskData) -> str | None:
        """The tested task's labels must be labels the model was trained to predict (by name:
        a file's labels are its column's values)."""
        unknown = sorted(set(tested.label_names) - set(trained.label_names))
        if unknown:
            return (
                f"labels {', '.join(map(repr, unknown))} are not among the trained task's "
                f"({', '.join(map(repr, trained.label_names))}): rename them in the file"
            )
        return None

    def token_lengths(self, spec, task_data: data.TaskData) -> SplitLengths:
        """Each text (with its pair) tokenised as the run tokenises it."""
        from tunebench.models.backbones import load_tokenizer
        from tunebench.training.data import tokenize

        tokenizer = load_tokenizer(spec.backbone, spec.trust_remote_code)
        max_length = spec.training.max_length

        def lengths(split: data.Split) -> list[int]:
            encoded = tokenize(tokenizer, split.texts, max_length, split.text_pairs)
            return [len(ids) for ids in encoded["input_ids"]]

        splits = (task_data.train, task_data.validation, task_data.test)
        return SplitLengths(*(lengths(split) for split in splits))


FAMILY = Classification()
