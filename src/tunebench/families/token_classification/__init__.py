"""Token classification (NER, seed 002's token-level task in its standard form): a tag per
word, from a linear layer on every token's hidden state (encoders and decoders alike).

Built in: `conll2003_sample` (242 CoNLL-2003 sentences: a smoke-sized real task, not a
benchmark); user files in CoNLL column format or JSONL / JSON / Parquet with a list of tokens and
a list of IOB2 tags per row (data.py). Metrics: entity precision / recall / F1 with seqeval in
strict IOB2 mode, and word-level token accuracy (scores.py).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from tunebench.families.base import BuiltinTask, Family, SplitLengths, TaskSource
from tunebench.families.token_classification import data
from tunebench.metrics import Arrays, Metric, metric_table


class TokenTask(TaskSource):
    """Sentences of words with one IOB2 tag each."""

    family: Literal["token_classification"] = "token_classification"
    tokens_column: str = "tokens"
    """JSONL / JSON / Parquet: the column holding each row's list of words."""
    tags_column: str = "tags"
    """... and its list of tags, one per word."""
    token_column: int = 0
    """CoNLL files (.conll, .txt): the whitespace-separated column holding the word."""
    tag_column: int = -1
    """CoNLL files: the column holding the tag (-1: the last)."""

    file_fields: ClassVar[tuple[str, ...]] = (
        "tokens_column",
        "tags_column",
        "token_column",
        "tag_column",
    )
    family_name: ClassVar[str] = "token_classification"


TokenTask.builtins = {
    "conll2003_sample": BuiltinTask(
        "named entities (PER, LOC, ORG, MISC), the first 226 sentences of the CoNLL-2003 test "
        "set (3,140 tokens; smoke-sized)",
        "IOB2 tags",
        data.CONLL,
        data.load_conll_sample,
    )
}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    top, bottom = numerator.sum(axis=1), denominator.sum(axis=1)
    return np.divide(top, bottom, out=np.zeros(len(top)), where=bottom > 0)


def _f1(e: Arrays) -> np.ndarray:
    both = e["entities_predicted"] + e["entities_gold"]
    return _ratio(2 * e["entities_right"], both)


ENTITY_F1 = Metric("entity_f1", True, True, _f1)
ENTITY_PRECISION = Metric(
    "entity_precision", True, True, lambda e: _ratio(e["entities_right"], e["entities_predicted"])
)
ENTITY_RECALL = Metric(
    "entity_recall", True, True, lambda e: _ratio(e["entities_right"], e["entities_gold"])
)
TOKEN_ACCURACY = Metric(
    "token_accuracy", True, True, lambda e: _ratio(e["words_right"], e["words"])
)


class TokenClassification(Family):
    name = "token_classification"
    task_config = TokenTask
    metrics = metric_table(ENTITY_F1, ENTITY_PRECISION, ENTITY_RECALL, TOKEN_ACCURACY)
    validation = ("entity_f1", "entity_precision", "entity_recall", "token_accuracy")
    report_default = "entity_f1"
    model_kind = "token_classifier"

    def load(self, task: TokenTask) -> data.TokenData:
        return data.load_token_task(task)

    def train_and_test(self, context):
        from tunebench.families.token_classification.run import train_and_test

        return train_and_test(context)

    def token_lengths(self, spec, task_data: data.TokenData) -> SplitLengths:
        """Each sentence's sub-tokens, as the run encodes it (truncated to max_length)."""
        from tunebench.families.token_classification.run import encode
        from tunebench.models.backbones import load_tokenizer

        tokenizer = load_tokenizer(spec.backbone, spec.trust_remote_code)
        label_ids = {name: i for i, name in enumerate(task_data.label_names)}
        splits = (task_data.train, task_data.validation, task_data.test)
        return SplitLengths(
            *(encode(s, tokenizer, label_ids, spec.training.max_length).lengths() for s in splits)
        )


FAMILY = TokenClassification()
