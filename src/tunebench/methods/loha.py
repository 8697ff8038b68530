"""`loha`: low-rank Hadamard product adaptation (Hyeon-Woo et al., 2022; LyCORIS).

The update is the element-wise product of two LoRA-like low-rank products, so its rank can
reach r² with twice LoRA's parameters at the same r.
"""

from typing import Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class LohaConfig(TunerConfig):
    name: Literal["loha"] = "loha"
    r: PositiveInt = 8
    alpha: float = Field(8.0, gt=0)
    rank_dropout: float = Field(0.0, ge=0, lt=1)
    module_dropout: float = Field(0.0, ge=0, lt=1)


METHOD = tuner(
    "loha",
    LohaConfig,
    "LOHA",
    1e-3,
    "Hadamard product of two low-rank updates (LyCORIS)",
    mergeable=True,
)
