"""The training loop, on accelerate: one loop for every family and method, so a comparison is
fair.

`fit` trains for the configured epochs, evaluates on validation after each (or every
`validate_every_epochs`, and always after the last), keeps the weights of the best validated
epoch (`BestEpoch`, by the run's selection metric) and restores them before the test evaluation;
it stops early after `early_stopping_patience` validations without improvement. A NaN or
infinite loss ends the run with reason `diverged`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from accelerate.utils import is_compiled_module
from torch import nn
from torch.utils.data import DataLoader

from tunebench.metrics import Metric
from tunebench.models.blocks import transformer_layers
from tunebench.training.clock import elapsed
from tunebench.training.config import TrainingConfig
from tunebench.training.data import LengthGroupedBatches
from tunebench.training.metering import trainable_state
from tunebench.training.optim import build_optimizer, build_scheduler
from tunebench.training.prefix_cache import PrefixCache

COMPILE_BACKEND = "inductor"
"""torch.compile's backend for `training.compile` (the tests swap in a fast one)."""
StepCallback = Callable[[int, int, float | None], None]
"""(steps done, total steps, running loss or None)"""
Validate = Callable[[nn.Module], dict]
"""model -> the validation metrics (the selection metric among them)"""
LossOf = Callable[[nn.Module, dict], torch.Tensor]
"""(model, training batch) -> the loss to minimise"""


def model_loss(model: nn.Module, batch: dict) -> torch.Tensor:
    """The default: the loss the model computes itself from the batch's `labels`."""
    return model(**batch).loss


class RunFailed(Exception):
    """A run that cannot go on; `reason` is recorded in the store (e.g. 'diverged')."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail

    def __reduce__(self):
        """Picklable with both arguments: it crosses from a worker process to its parent."""
        return type(self), (self.reason, self.detail)


@dataclass
class TrainOutcome:
    best_validation: dict
    best_epoch: int
    steps: int
    train_seconds: float
    train_samples: int
    real_tokens: int
    padded_tokens: int
    history: list[dict] = field(default_factory=list)
    frozen_prefix_blocks: int = 0
    """Blocks at the bottom with nothing to train (run in eval mode; prefix_cache.py)."""
    prefix_skipped_tokens: int = 0
    """Padded tokens of the batches whose frozen prefix was skipped (read from the cache)."""


def zero_shot(validation: dict, seconds: float = 0.0) -> TrainOutcome:
    """The outcome of a run that trains nothing: the validation metrics, no steps; the one
    validation pass's `seconds` count in its evaluation time as an epoch's would."""
    return TrainOutcome(validation, -1, 0, 0.0, 0, 0, 0, [{"validation_seconds": seconds}])


def with_frozen_prefix(
    model: nn.Module, tokens: int, cache: bool, run: Callable[[], TrainOutcome]
) -> TrainOutcome:
    """`run()` with the frozen-prefix rule (and, with `cache`, the cache for `tokens` tokens)
    installed on `model`, its batches carrying `example_index` keys; the outcome records the
    prefix's depth and the tokens it skipped."""
    prefix = PrefixCache(model, transformer_layers(model), tokens, cache)
    try:
        outcome = run()
    finally:
        prefix.remove()
    outcome.frozen_prefix_blocks = prefix.depth
    outcome.prefix_skipped_tokens = prefix.skipped_tokens
    return outcome


class BestEpoch:
    """Which epoch is best so far by `metric`, a copy of its trainable weights, and whether
    `patience` epochs have passed without improvement."""

    def __init__(self, metric: Metric, patience: int | None = None):
        self.metric = metric
        self.patience = patience
        self.score: float | None = None
        self.epoch = -1
        self.validation: dict = {}
        self.state: dict[str, torch.Tensor] | None = None
        self.epochs_without_gain = 0

    def update(self, epoch: int, validation: dict, model: nn.Module) -> None:
        score = validation[self.metric.name]
        if self.score is None or self.metric.better(score, self.score):
            self.score, self.epoch, self.validation = score, epoch, validation
            self.state = trainable_state(model)
            self.epochs_without_gain = 0
        else:
            self.epochs_without_gain += 1

    @property
    def patience_ran_out(self) -> bool:
        return self.patience is not None and self.epochs_without_gain >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self.state is not None:
            unexpected = model.load_state_dict(self.state, strict=False).unexpected_keys
            assert not unexpected, f"best-epoch weights did not match the model: {unexpected[:3]}"


@dataclass
class _Training:
    """What one `fit` trains with, and what it has processed so far."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    accelerator: object
    config: TrainingConfig
    total_steps: int
    examples_in: Callable[[dict], int]
    loss_of: LossOf
    on_step: StepCallback | None
    after_step: Callable[[nn.Module, int, int], None] | None = None
    step: int = 0
    samples: int = 0
    padded_tokens: int = 0
    train_seconds: float = 0.0
    history: list[dict] = field(default_factory=list)
    real_tokens: torch.Tensor = field(init=False)
    """Counted on the device and read once, at the end: no host sync per step."""

    def __post_init__(self) -> None:
        self.real_tokens = torch.zeros((), dtype=torch.long, device=self.accelerator.device)


def fit(
    model: nn.Module,
    batches: LengthGroupedBatches,
    loader: DataLoader,
    validate: Validate,
    config: TrainingConfig,
    selection: Metric,
    accelerator,
    on_step: StepCallback | None = None,
    groups: list[dict] | None = None,
    examples_in: Callable[[dict], int] = lambda batch: batch["labels"].shape[0],
    loss_of: LossOf = model_loss,
    after_step: Callable[[nn.Module, int, int], None] | None = None,
) -> TrainOutcome:
    """The loop shared by every family: `loader` yields dicts with `labels` and one or more
    `attention_mask*` tensors (none for tabular features), `loss_of(model, batch)` is minimised,
    `validate(model)` returns the metrics that `selection` picks the best epoch from.
    `examples_in(batch)` counts the examples a batch holds (a preference pair is two
    sequences); `groups` are optimiser parameter groups (default: every trainable parameter);
    `after_step(model, step, total_steps)` runs after each optimiser step (AdaLoRA's rank
    allocation: methods/adalora.py)."""
    optimizer = build_optimizer(model, config, groups)
    total_steps = math.ceil(len(batches) / config.gradient_accumulation_steps) * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    scheduler = build_scheduler(optimizer, config, total_steps)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    # Compiled here, not through accelerate, whose first Accelerator fixes compilation for the
    # process (an HF Trainer that compiled earlier in it makes `prepare` compile: not twice).
    if config.compile and not is_compiled_module(model):
        model = torch.compile(model, backend=COMPILE_BACKEND)
    prepared = (model, optimizer, scheduler, accelerator, config, total_steps)
    run = _Training(*prepared, examples_in, loss_of, on_step, after_step)
    best = BestEpoch(selection, config.early_stopping_patience)
    for epoch in range(config.epochs):
        batches.set_epoch(epoch)
        started = time.perf_counter()
        _train_epoch(run, loader, epoch)
        run.train_seconds += elapsed(started)
        last = epoch == config.epochs - 1 or run.step >= total_steps
        if not last and (epoch + 1) % config.validate_every_epochs:
            continue
        best.update(epoch, _validate(run, validate, epoch), accelerator.unwrap_model(model))
        if last or best.patience_ran_out:
            break
    best.restore(accelerator.unwrap_model(model))
    return TrainOutcome(
        best.validation,
        best.epoch,
        run.step,
        run.train_seconds,
        run.samples,
        int(run.real_tokens),
        run.padded_tokens,
        run.history,
    )


def _validate(run: _Training, validate: Validate, epoch: int) -> dict:
    """`validate(model)`, timed and logged in the run's history; the model as it was prepared,
    less `torch.compile`'s wrapper (evaluation runs eagerly: its shapes would recompile)."""
    started = time.perf_counter()
    validation = validate(getattr(run.model, "_orig_mod", run.model))
    seconds = elapsed(started)
    entry = {"epoch": epoch, "step": run.step, "validation": _scalars(validation)}
    run.history.append({**entry, "validation_seconds": seconds})
    return validation


def _train_epoch(run: _Training, loader: DataLoader, epoch: int) -> None:
    """One pass over `loader` (or up to the step budget), logging the mean loss every
    `log_every` steps (one host sync per log)."""
    model, optimizer, scheduler = run.model, run.optimizer, run.scheduler
    accelerator, config = run.accelerator, run.config
    model.train()
    running = torch.zeros((), device=accelerator.device)
    running_batches = 0
    for batch in loader:
        with accelerator.accumulate(model):
            loss = run.loss_of(model, batch)
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.max_grad_norm is not None:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            if run.after_step is not None and accelerator.sync_gradients:
                run.after_step(accelerator.unwrap_model(model), run.step + 1, run.total_steps)
            optimizer.zero_grad(set_to_none=True)
        running += loss.detach()
        running_batches += 1
        run.samples += run.examples_in(batch)
        for key, mask in batch.items():
            if key.startswith("attention_mask"):
                run.padded_tokens += mask.numel()
                run.real_tokens += mask.sum()
        if not accelerator.sync_gradients:
            continue
        run.step += 1
        if run.step % config.log_every == 0 or run.step == run.total_steps:
            mean_loss = (running / running_batches).item()
            _check_finite(mean_loss, run.step)
            run.history.append({"step": run.step, "epoch": epoch, "loss": mean_loss})
            running.zero_()
            running_batches = 0
            if run.on_step:
                run.on_step(run.step, run.total_steps, mean_loss)
        if run.step >= run.total_steps:
            break
    if running_batches:
        _check_finite((running / running_batches).item(), run.step)


def _check_finite(loss: float, step: int) -> None:
    if not math.isfinite(loss):
        raise RunFailed("diverged", f"training loss became {loss} by step {step}")


def _scalars(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not isinstance(v, dict)}
