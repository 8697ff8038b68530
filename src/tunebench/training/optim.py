"""What the loop trains with: the accelerator (device, precision, DDP), the optimiser and the
learning-rate schedule, all from a run's `TrainingConfig`."""

from __future__ import annotations

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from torch import nn
from transformers import get_scheduler
from transformers.optimization import Adafactor

from tunebench.training.config import TrainingConfig


def make_accelerator(config: TrainingConfig) -> Accelerator:
    on_gpu = torch.cuda.is_available()
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if on_gpu and torch.cuda.is_bf16_supported() else "no"
    # Under `accelerate launch` (DDP), some trainable weights may get no gradient in a step
    # (a pooler that the head does not read): DDP must not wait for them.
    unused = DistributedDataParallelKwargs(find_unused_parameters=True)
    return Accelerator(
        cpu=not on_gpu,
        mixed_precision=precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        kwargs_handlers=[unused],
    )


def build_optimizer(
    model: nn.Module, config: TrainingConfig, groups: list[dict] | None = None
) -> torch.optim.Optimizer:
    """The configured optimiser over the trainable parameters, or over `groups` (each a torch
    parameter group that may set its own lr and weight decay, e.g. a downstream model's)."""
    parameters = groups or [p for p in model.parameters() if p.requires_grad]
    lr = config.learning_rate
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adafactor":
        return Adafactor(
            parameters,
            lr=lr,
            scale_parameter=False,
            relative_step=False,
            warmup_init=False,
            weight_decay=config.weight_decay,
        )
    # The fused kernel updates all tensors in one pass: on a 2-core CPU it makes the AdamW step
    # of MiniLM full fine-tuning ~6x faster (3.1 s -> 0.5 s per 27 steps), the same arithmetic.
    return torch.optim.AdamW(parameters, lr=lr, weight_decay=config.weight_decay, fused=True)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig, total_steps: int):
    """Linear, cosine or constant, after `warmup_ratio` of the steps of linear warm-up."""
    return get_scheduler(
        "constant_with_warmup" if config.scheduler == "constant" else config.scheduler,
        optimizer,
        num_warmup_steps=int(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
