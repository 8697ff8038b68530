"""Training a torch downstream model on table features plus fixed text embeddings.

This is the second half of the frozen and two-step pipelines: the text embeddings are arrays
computed beforehand (see `embeddings`), so an epoch never touches the language model. It follows
the FT-Transformer paper's protocol: AdamW, a standardised regression target, evaluation on
validation after every epoch, the best epoch's weights restored, stop after `patience` epochs
without improvement.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tunebench.families.tabular.config import DownstreamTrainingConfig
from tunebench.families.tabular.data import Problem
from tunebench.families.tabular.models.ft_transformer import (
    FTTransformerWithText,
    make_parameter_groups,
)
from tunebench.training.loop import StepCallback
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


@dataclass
class DownstreamOutcome:
    best_epoch: int
    epochs: int
    train_seconds: float
    best_validation: dict
    history: list[dict] = field(default_factory=list)


def train_downstream(
    model: nn.Module,
    problem: Problem,
    train: Features,
    validation: Features,
    config: DownstreamTrainingConfig,
    seed: int,
    target_mean: float | None = None,
    target_std: float | None = None,
    label_names: list[str] | None = None,
    on_epoch: StepCallback | None = None,
) -> DownstreamOutcome:
    """Train in place, on the device the model is on; on return `model` holds the weights of
    its best validation epoch. `on_epoch(epoch, max_epochs, loss)` reports progress."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    groups = (
        make_parameter_groups(model)
        if isinstance(model, FTTransformerWithText)
        else model.parameters()
    )
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, weight_decay=config.weight_decay)
    targets = training_targets(problem, train.target, target_mean, target_std)
    metric, higher_is_better = (
        ("accuracy", True) if problem == "classification" else ("rmse", False)
    )
    best_score, best_epoch, best_state, best_validation = None, -1, None, {}
    history: list[dict] = []
    train_seconds = 0.0
    for epoch in range(config.max_epochs):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(train), generator=generator).numpy()
        total = torch.zeros(())
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            output = model(*train.batch(rows, device))
            loss = loss_of(problem, output, targets[rows].to(device))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            total += loss.detach() * len(rows)
        train_seconds += time.perf_counter() - started
        validation_metrics = evaluate_downstream(
            model, problem, validation, config, target_mean, target_std, label_names
        )
        score = validation_metrics[metric]
        history.append({"epoch": epoch, "loss": float(total) / len(train), metric: score})
        if on_epoch is not None:
            on_epoch(epoch + 1, config.max_epochs, history[-1]["loss"])
        if best_score is None or (score > best_score if higher_is_better else score < best_score):
            best_score, best_epoch, best_validation = score, epoch, validation_metrics
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= config.patience:
            break
    model.load_state_dict(best_state)
    return DownstreamOutcome(best_epoch, len(history), train_seconds, best_validation, history)


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
