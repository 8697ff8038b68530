"""A language model trained together with a model on top: the one-step pipeline's model, and
step 1 of the two-step pipeline (the same language model under a text-only head).

`JointModel` runs the method-applied `TextEncoder` once per text column of a batch, pools one
embedding per row and column, and hands them with the numeric and categorical features to the
downstream model; one loss, one backward pass, so gradients reach the language model's
trainable parameters (and only through the text tokens). A missing text gives a zero vector,
as in the frozen pipeline. Training goes through the one loop (`RunContext.fit`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from transformers.modeling_outputs import SequenceClassifierOutput

from tunebench.families.context import RunContext
from tunebench.families.tabular.data import Problem, TabularData, TabularSplit
from tunebench.families.tabular.train import loss_of, score_outputs, training_targets
from tunebench.training.clock import elapsed
from tunebench.training.costs import validation_seconds
from tunebench.training.data import LengthGroupedBatches, eval_batches, pad_right, tokenize
from tunebench.training.loop import TrainOutcome
from tunebench.training.metering import trainable_state


class TextHead(nn.Module):
    """Two-step's step-1 head: dropout and one linear layer over the text embeddings alone."""

    def __init__(self, text_dims: Sequence[int], d_out: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(sum(text_dims), d_out)

    def forward(self, x_num: Tensor, x_cat: Tensor, texts: Sequence[Tensor]) -> Tensor:
        return self.linear(self.dropout(torch.cat(list(texts), dim=1)))


class JointModel(nn.Module):
    """Text encoder (through its method) -> one embedding per text column -> downstream model."""

    def __init__(
        self, encoder: nn.Module, downstream: nn.Module, problem: Problem, n_texts: int
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.downstream = downstream
        self.problem = problem
        self.n_texts = n_texts

    def forward(
        self, x_num: Tensor, x_cat: Tensor, labels: Tensor | None = None, **columns: Tensor
    ) -> SequenceClassifierOutput:
        texts = [
            self._embed(columns[f"input_ids_{j}"], columns[f"attention_mask_{j}"])
            for j in range(self.n_texts)
        ]
        output = self.downstream(x_num, x_cat, texts)
        loss = loss_of(self.problem, output.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=output)

    def _embed(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        present = attention_mask.any(dim=1)
        if not present.any():
            width = self.encoder.config.hidden_size
            return attention_mask.new_zeros((len(input_ids), width), dtype=torch.float32)
        # Rows with no text see one (masked-in) pad token, then their vector is zeroed.
        safe_mask = attention_mask.clone()
        safe_mask[~present, 0] = 1
        pooled = self.encoder(input_ids=input_ids, attention_mask=safe_mask)
        return torch.where(present.unsqueeze(1), pooled, torch.zeros_like(pooled))


@dataclass(frozen=True)
class TokenisedTable:
    """One split ready for joint training: features, token ids per text column, and targets on
    the training scale (class ids, or the standardised regression target)."""

    numeric: np.ndarray
    categorical: np.ndarray
    ids: list[list[list[int]]]
    """column -> row -> token ids, no padding; [] for a missing text"""
    targets: np.ndarray
    raw_target: np.ndarray
    rows: list
    """Each row's index in the source file."""

    def __len__(self) -> int:
        return len(self.targets)

    def lengths(self) -> list[int]:
        """Tokens per row over all text columns: batches group rows of similar total length."""
        return [sum(len(column[i]) for column in self.ids) for i in range(len(self))]


def tokenise_table(
    data: TabularData, split: TabularSplit, tokenizer, max_length: int
) -> TokenisedTable:
    """Tokenise every text column of `split` once (missing texts stay empty)."""
    ids = []
    for column in data.text_columns:
        texts = split.texts[column]
        present = [i for i, text in enumerate(texts) if text]
        rows: list[list[int]] = [[] for _ in texts]
        encoded = tokenize(tokenizer, [texts[i] for i in present], max_length)
        for i, row in zip(present, encoded["input_ids"], strict=True):
            rows[i] = row
        ids.append(rows)
    targets = training_targets(data.problem, split.target, data.target_mean, data.target_std)
    return TokenisedTable(
        split.numeric, split.categorical, ids, targets.numpy(), split.target, split.ids
    )


class TableCollator:
    """Row indices -> a batch dict: features, `labels`, `input_ids_j` / `attention_mask_j`."""

    def __init__(self, table: TokenisedTable, pad_token_id: int) -> None:
        self.table = table
        self.pad_token_id = pad_token_id

    def __call__(self, indices: list[int]) -> dict[str, Tensor]:
        rows = np.asarray(indices)
        batch = {
            "x_num": torch.from_numpy(self.table.numeric[rows]),
            "x_cat": torch.from_numpy(self.table.categorical[rows]),
            "labels": torch.from_numpy(self.table.targets[rows]),
        }
        for j, column in enumerate(self.table.ids):
            input_ids, mask = pad_right([column[i] for i in indices], self.pad_token_id)
            batch[f"input_ids_{j}"], batch[f"attention_mask_{j}"] = input_ids, mask
        return batch


@torch.inference_mode()
def evaluate_joint(
    model: nn.Module,
    table: TokenisedTable,
    data: TabularData,
    batch_size: int,
    pad_token_id: int,
    accelerator,
) -> dict:
    """Metrics of the joint model on one split, on the target's original scale."""
    model.eval()
    collate = TableCollator(table, pad_token_id)
    outputs: Tensor | None = None
    for indices in eval_batches(table.lengths(), batch_size):
        batch = {k: v.to(accelerator.device) for k, v in collate(indices).items()}
        batch.pop("labels")
        with accelerator.autocast():
            logits = model(**batch).logits.float().cpu()
        if outputs is None:
            outputs = torch.zeros((len(table), logits.shape[-1]))
        outputs[indices] = logits
    assert outputs is not None, "cannot evaluate an empty split"
    return score_outputs(
        data.problem,
        outputs,
        table.raw_target,
        data.target_mean,
        data.target_std,
        data.label_names,
        table.rows,
    )


@dataclass
class JointResult:
    metrics: dict
    costs: dict
    outcome: TrainOutcome
    test_seconds: float


def train_jointly(
    context: RunContext, model: JointModel, tokenizer, groups: list[dict] | None = None
) -> JointResult:
    """Tokenise once, train through the one loop (best validation epoch restored), test."""
    data, training, accelerator = context.data, context.spec.training, context.accelerator
    pad = tokenizer.pad_token_id
    tables = {
        name: tokenise_table(data, split, tokenizer, training.max_length)
        for name, split in data.splits.items()
    }
    train = tables["train"]
    batches = LengthGroupedBatches(
        train.lengths(), training.batch_size, context.spec.seed, group=training.group_by_length
    )
    loader = DataLoader(
        range(len(train)), batch_sampler=batches, collate_fn=TableCollator(train, pad)
    )

    def validate(model: nn.Module) -> dict:
        return evaluate_joint(
            model, tables["validation"], data, training.eval_batch_size, pad, accelerator
        )

    outcome = context.fit(model, batches, loader, validate, groups=groups)
    started = time.perf_counter()
    test = evaluate_joint(model, tables["test"], data, training.eval_batch_size, pad, accelerator)
    test_seconds = elapsed(started)
    seconds = max(outcome.train_seconds, 1e-9)
    costs = {
        "train_seconds": outcome.train_seconds,
        "eval_seconds": test_seconds + validation_seconds(outcome),
        "train_samples_per_s": outcome.train_samples / seconds,
        "train_tokens_per_s": outcome.real_tokens / seconds,
        "trainable_params": sum(t.numel() for t in trainable_state(model).values()),
        "steps": outcome.steps,
        "best_epoch": outcome.best_epoch,
        "learning_rate": training.learning_rate,
    }
    metrics = {"validation": outcome.best_validation, "test": test}
    return JointResult(metrics, costs, outcome, test_seconds)
