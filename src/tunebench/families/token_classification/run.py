"""One token-classification run: backbone -> a linear layer on every token's hidden state,
the method applied, trained through the one loop, scored at the word level.

Words are tokenised as running text (every word after the first with its leading space, so a
byte-level BPE tokenizer sees " Paris" as in a sentence); a word's tag is learned and predicted
at its first sub-token, the other sub-tokens are ignored in the loss (label -100). On a decoder
each token sees only the words before it. A word cut off by `max_length` is predicted `O`.
Metrics: entity-level precision / recall / F1 by seqeval in strict IOB2 mode, and the share of
words tagged right (`token_accuracy`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers.modeling_outputs import TokenClassifierOutput

from tunebench.errors import UserError
from tunebench.families.context import FamilyResult, RunContext
from tunebench.families.token_classification.data import TokenSplit
from tunebench.families.token_classification.scores import word_metrics
from tunebench.models.heads import SequenceClassifier
from tunebench.training.clock import elapsed
from tunebench.training.data import TOKENIZE_CHUNK, LengthGroupedBatches, eval_batches

IGNORE = -100


class TokenClassifier(SequenceClassifier):
    """Backbone -> dropout -> linear, on every position; cross-entropy over labelled ones.
    The logits are those of the last `labels.shape[1]` positions: peft's prompt tuning puts its
    virtual tokens first (prefix tuning passes them as past keys and values instead). It is a
    `SequenceClassifier` that does not pool, so every method applies to it as to one."""

    def __init__(self, backbone, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__(backbone, num_labels, pooling="last", dropout=dropout)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        past_key_values=None,
        token_type_ids: torch.Tensor | None = None,
        **_ignored,
    ) -> TokenClassifierOutput:
        hidden = self.hidden_states(
            input_ids, attention_mask, inputs_embeds, past_key_values, token_type_ids
        )
        logits = self.classifier(self.dropout(hidden[:, -labels.shape[1] :]))
        loss = nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE
        )
        return TokenClassifierOutput(loss=loss, logits=logits)


@dataclass(frozen=True)
class EncodedWords:
    """A tokenised split: token ids (no padding), per token the tag id at a word's first
    sub-token and -100 elsewhere, and per word its first sub-token's position (-1: cut off)."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    first_tokens: list[list[int]]

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def encode(split: TokenSplit, tokenizer, label_ids: dict[str, int], max_length: int):
    if not tokenizer.is_fast:
        raise UserError(
            f"token classification needs a fast tokenizer (word ids); {type(tokenizer).__name__} "
            "is not one"
        )
    input_ids, labels, firsts = [], [], []
    for start in range(0, len(split), TOKENIZE_CHUNK):
        words = split.words[start : start + TOKENIZE_CHUNK]
        as_text = [[w if i == 0 else f" {w}" for i, w in enumerate(s)] for s in words]
        encoding = tokenizer(
            as_text, is_split_into_words=True, truncation=True, max_length=max_length
        )
        for row, ids in enumerate(encoding["input_ids"]):
            tags = split.tags[start + row]
            first = [-1] * len(tags)
            row_labels = []
            for position, word in enumerate(encoding.word_ids(row)):
                starts = word is not None and first[word] == -1
                if starts:
                    first[word] = position
                row_labels.append(label_ids[tags[word]] if starts else IGNORE)
            input_ids.append(ids)
            labels.append(row_labels)
            firsts.append(first)
    return EncodedWords(input_ids, labels, firsts)


class WordCollator:
    """Row indices -> right-padded `input_ids`, `attention_mask`, `labels` (-100 on padding)
    and, with `index_base`, the prefix-cache keys `example_index`."""

    def __init__(self, encoded: EncodedWords, pad_token_id: int, index_base: int | None = None):
        self.encoded = encoded
        self.pad_token_id = pad_token_id
        self.index_base = index_base

    def __call__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        width = max(len(self.encoded.input_ids[i]) for i in indices)
        input_ids = torch.full((len(indices), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(indices), width), IGNORE, dtype=torch.long)
        attention_mask = torch.zeros((len(indices), width), dtype=torch.long)
        for r, i in enumerate(indices):
            ids = self.encoded.input_ids[i]
            input_ids[r, : len(ids)] = torch.tensor(ids)
            labels[r, : len(ids)] = torch.tensor(self.encoded.labels[i])
            attention_mask[r, : len(ids)] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        if self.index_base is not None:
            batch["example_index"] = torch.tensor(indices) + self.index_base
        return batch


def train_and_test(context: RunContext) -> FamilyResult:
    task, spec, accelerator = context.data, context.spec, context.accelerator
    backbone = context.backbone()
    context.seed()  # the head's and the method's random initialisation
    classifier = TokenClassifier(backbone.model, len(task.label_names))
    model = context.apply_method(classifier, backbone, "token_classifier")
    pad, config = backbone.tokenizer.pad_token_id, spec.training
    label_ids = {name: i for i, name in enumerate(task.label_names)}
    train, validation, test = (
        encode(split, backbone.tokenizer, label_ids, config.max_length)
        for split in (task.train, task.validation, task.test)
    )
    batches = LengthGroupedBatches(
        train.lengths(), config.batch_size, spec.seed, group=config.group_by_length
    )
    loader = DataLoader(
        range(len(train)), batch_sampler=batches, collate_fn=WordCollator(train, pad, 0)
    )

    def validate(model: nn.Module) -> dict:
        return evaluate(
            model, validation, task.validation, task.label_names, context, pad, len(train)
        )

    tokens = sum(train.lengths()) + sum(validation.lengths())
    outcome = context.fit(model, batches, loader, validate, prefix_tokens=tokens)
    started = time.perf_counter()
    test_metrics = evaluate(model, test, task.test, task.label_names, context, pad)
    seconds = elapsed(started)
    metrics = {"validation": outcome.best_validation, "test": test_metrics}
    return FamilyResult(metrics, outcome, accelerator.unwrap_model(model), backbone.model, seconds)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    encoded: EncodedWords,
    split: TokenSplit,
    label_names: list[str],
    context: RunContext,
    pad_token_id: int,
    index_base: int | None = None,
) -> dict:
    """Word-level metrics of `model` on one split, in length-sorted batches."""
    model.eval()
    accelerator = context.accelerator
    collate = WordCollator(encoded, pad_token_id, index_base)
    predicted: list[list[str]] = [[] for _ in range(len(encoded))]
    for indices in eval_batches(encoded.lengths(), context.spec.training.eval_batch_size):
        batch = {k: v.to(accelerator.device) for k, v in collate(indices).items()}
        with accelerator.autocast():
            best = model(**batch).logits.argmax(dim=-1).cpu().numpy()
        for r, i in enumerate(indices):
            positions = np.asarray(encoded.first_tokens[i])
            tags = np.where(positions >= 0, best[r, np.maximum(positions, 0)], 0)
            predicted[i] = [
                label_names[t] if p >= 0 else "O" for t, p in zip(tags, positions, strict=True)
            ]
    return word_metrics(split.tags, predicted, split.ids)
