"""`p_tuning`: virtual tokens produced by a trained prompt encoder (Liu et al., 2021).

As prompt tuning, trained embeddings are prepended to the input, but they come out of a small
MLP (or LSTM) over learned inputs, which trains more stably; only the encoder's output is
needed at inference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt

from tunebench.methods.base import MethodConfig
from tunebench.methods.tuner import tuner

if TYPE_CHECKING:
    from tunebench.methods.target import Target


class PTuningConfig(MethodConfig):
    name: Literal["p_tuning"] = "p_tuning"
    num_virtual_tokens: PositiveInt = 20
    encoder: Literal["MLP", "LSTM"] = "MLP"
    encoder_hidden_size: PositiveInt | None = None
    """None = the backbone's hidden size."""
    encoder_dropout: float = Field(0.0, ge=0, lt=1)


def encoder_width(target: Target, chosen: dict[str, Any]) -> dict[str, Any]:
    width = chosen["encoder_hidden_size"] or target.backbone.config.hidden_size
    return {**chosen, "encoder_hidden_size": width}


METHOD = tuner(
    "p_tuning",
    PTuningConfig,
    "P_TUNING",
    1e-2,
    "virtual tokens from a trained prompt encoder at the input",
    renamed={"encoder": "encoder_reparameterization_type"},
    resolve=encoder_width,
    prompt_learning=True,
)
