"""`adalora`: LoRA with an adaptive rank budget (Zhang et al., 2023), driven by our loop.

Every adapted layer starts at rank `init_r`; after a warm-up, the loop's hook (`after_step`,
PEFT's `update_and_allocate`) scores each singular direction's importance from its gradients
and prunes the least important, until the average rank reaches `r` at `1 - final_fraction` of
the run's steps; the final ranks then stay fixed. The phases are fractions of the run's own
step count, which the loop knows and the study file need not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner

if TYPE_CHECKING:
    from torch import nn

    from tunebench.methods.target import Target

ADAPTER = "default"
_ANY_LENGTH = 1_000_000
"""A placeholder step count that PEFT's config accepts; the loop's first step sets the real one."""


class AdaloraConfig(TunerConfig):
    name: Literal["adalora"] = "adalora"
    r: PositiveInt = 8
    """The average rank the budget ends at."""
    init_r: PositiveInt = 12
    alpha: float = Field(8.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    warmup_fraction: float = Field(0.1, ge=0, lt=1)
    """Steps trained at `init_r` before pruning starts (PEFT's tinit, as a fraction)."""
    final_fraction: float = Field(0.3, ge=0, lt=1)
    """Last steps trained at the final ranks (PEFT's tfinal, as a fraction)."""
    orth_reg_weight: float = Field(0.5, ge=0)


def peft_fields(target: Target, chosen: dict[str, Any]) -> dict[str, Any]:
    """PEFT's names; the phases are set by `allocate_ranks` once the step count is known."""
    chosen = dict(chosen)
    del chosen["warmup_fraction"], chosen["final_fraction"]
    return {**chosen, "target_r": chosen.pop("r"), "total_step": _ANY_LENGTH}


def allocate_ranks(model: nn.Module, settings: AdaloraConfig, step: int, total: int) -> None:
    """PEFT's rank allocation after optimiser step `step` of `total` (gradients still set)."""
    from peft.tuners.adalora import AdaLoraModel

    # The PEFT tuner inside the trained module (a PeftModel, or a family's wrapper around one)
    adalora = next(m for m in model.modules() if isinstance(m, AdaLoraModel))
    config = adalora.peft_config[ADAPTER]  # the object its rank allocator reads
    if config.total_step != total:
        config.total_step = total
        config.tinit = int(settings.warmup_fraction * total)
        config.tfinal = int(settings.final_fraction * total)
    adalora.update_and_allocate(step)


METHOD = tuner(
    "adalora",
    AdaloraConfig,
    "ADALORA",
    1e-3,
    "LoRA whose ranks are pruned to a budget by importance during training",
    renamed={"alpha": "lora_alpha", "dropout": "lora_dropout"},
    resolve=peft_fields,
    after_step=allocate_ranks,
)
