"""Training a torch downstream model on table features plus fixed text embeddings.

This is the second half of the frozen and two-step pipelines (and the tabular-only baseline):
the text embeddings are arrays computed beforehand (see `embeddings`), so an epoch never touches
the language model. It goes through the one loop with the FT-Transformer paper's protocol:
AdamW, a standardised regression target, evaluation on validation after every epoch, the best
epoch's weights restored, stop after `patience` epochs without improvement.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from tunebench.families.tabular.config import DownstreamTrainingConfig
from tunebench.families.tabular.data import Problem
from tunebench.families.tabular.models.ft_transformer import (
    FTTransformerWithText,
    make_parameter_groups,
)
from tunebench.metrics import ACCURACY, RMSE
from tunebench.training.config import TrainingConfig
from tunebench.training.data import LengthGroupedBatches
from tunebench.training.loop import StepCallback, TrainOutcome, fit
from tunebench.training.metrics import classification_metrics, regression_metrics


@dataclass(frozen=True)
class Features:
    """One split as the model reads it; `texts` holds one (n, width) array per text column."""

    numeric: np.ndarray
    categorical: np.ndarray
    texts: list[np.ndarray]
    target: np.ndarray
    rows: list | None = None
    """Each row's index in the source file."""

    def __len__(self) -> int:
        return len(self.target)

    def batch(
        self, rows: np.ndarray, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        return (
            torch.from_numpy(self.numeric[rows]).to(device),
            torch.from_numpy(self.categorical[rows]).to(device),
            [torch.from_numpy(text[rows]).to(device) for text in self.texts],
        )

    def labelled(self, rows: list[int], targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """A training batch of `rows` as the loop feeds it to `WithLoss`."""
        x_num, x_cat, texts = self.batch(np.asarray(rows))
        batch = {"x_num": x_num, "x_cat": x_cat, "labels": targets[rows]}
        batch.update({f"text_{j}": text for j, text in enumerate(texts)})
        return batch


class WithLoss(nn.Module):
    """A downstream model with its loss, as the loop trains it: `model(**batch).loss`."""

    def __init__(self, model: nn.Module, problem: Problem):
        super().__init__()
        self.model = model
        self.problem = problem

    def forward(self, x_num, x_cat, labels, **texts) -> SimpleNamespace:
        columns = [texts[f"text_{j}"] for j in range(len(texts))]
        output = self.model(x_num, x_cat, columns)
        return SimpleNamespace(loss=loss_of(self.problem, output.float(), labels), logits=output)


def loop_settings(config: DownstreamTrainingConfig, problem: Problem) -> TrainingConfig:
    """The paper's protocol in the loop's terms: AdamW at a constant rate, no warm-up and no
    clipping, selection by validation accuracy (RMSE for regression), patience."""
    return TrainingConfig(
        epochs=config.max_epochs,
        early_stopping_patience=config.patience,
        batch_size=config.batch_size,
        eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        optimizer="adamw",
        scheduler="constant",
        warmup_ratio=0.0,
        max_grad_norm=None,
        group_by_length=False,
        selection_metric="accuracy" if problem == "classification" else "rmse",
    )


def train_downstream(
    model: nn.Module,
    problem: Problem,
    train: Features,
    validation: Features,
    config: DownstreamTrainingConfig,
    seed: int,
    accelerator,
    target_mean: float | None = None,
    target_std: float | None = None,
    label_names: list[str] | None = None,
    on_step: StepCallback | None = None,
) -> TrainOutcome:
    """Train through the one loop (training.loop.fit) in seeded random batches of rows; on
    return `model` holds the weights of its best validation epoch."""
    training = loop_settings(config, problem)
    targets = training_targets(problem, train.target, target_mean, target_std)
    batches = LengthGroupedBatches([1] * len(train), config.batch_size, seed, group=False)
    loader = DataLoader(
        range(len(train)),
        batch_sampler=batches,
        collate_fn=lambda rows: train.labelled(rows, targets),
    )
    groups = make_parameter_groups(model) if isinstance(model, FTTransformerWithText) else None
    selection = ACCURACY if problem == "classification" else RMSE

    def validate(trained: nn.Module) -> dict:
        inner = accelerator.unwrap_model(trained).model
        return evaluate_downstream(
            inner, problem, validation, config, target_mean, target_std, label_names
        )

    wrapped = WithLoss(model, problem)
    return fit(
        wrapped, batches, loader, validate, training, selection, accelerator, on_step, groups
    )


@torch.inference_mode()
def evaluate_downstream(
    model: nn.Module,
    problem: Problem,
    data: Features,
    config: DownstreamTrainingConfig,
    target_mean: float | None = None,
    target_std: float | None = None,
    label_names: list[str] | None = None,
) -> dict:
    """Metrics on the original target scale (regression) or class probabilities."""
    model.eval()
    device = next(model.parameters()).device
    outputs = []
    for start in range(0, len(data), config.eval_batch_size):
        rows = np.arange(start, min(start + config.eval_batch_size, len(data)))
        outputs.append(model(*data.batch(rows, device)).float().cpu())
    return score_outputs(
        problem, torch.cat(outputs), data.target, target_mean, target_std, label_names, data.rows
    )


def score_outputs(
    problem: Problem,
    output: torch.Tensor,
    target: np.ndarray,
    target_mean: float | None = None,
    target_std: float | None = None,
    label_names: list[str] | None = None,
    rows: list | None = None,
) -> dict:
    """Model outputs -> metrics: regression outputs are de-standardised first, classification
    logits become probabilities; `rows` are the examples' ids in the source file."""
    if problem == "regression":
        predictions = output.squeeze(-1).numpy() * (target_std or 1.0) + (target_mean or 0.0)
        return regression_metrics(predictions, target, rows)
    probabilities = torch.softmax(output, dim=-1).numpy()
    names = label_names or [str(i) for i in range(probabilities.shape[1])]
    return classification_metrics(probabilities, target, names, rows)


def training_targets(
    problem: Problem, target: np.ndarray, mean: float | None, std: float | None
) -> torch.Tensor:
    if problem == "classification":
        return torch.from_numpy(target.astype(np.int64))
    return torch.from_numpy(((target - (mean or 0.0)) / (std or 1.0)).astype(np.float32))


def loss_of(problem: Problem, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if problem == "classification":
        return nn.functional.cross_entropy(output, target)
    return nn.functional.mse_loss(output.squeeze(-1), target)
