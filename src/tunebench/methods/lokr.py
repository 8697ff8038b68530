"""`lokr`: low-rank Kronecker product adaptation (Yeh et al., 2024; LyCORIS).

The update is the Kronecker product of a small dense factor and a low-rank one: a full-rank
update from very few parameters.
"""

from typing import Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class LokrConfig(TunerConfig):
    name: Literal["lokr"] = "lokr"
    r: PositiveInt = 8
    alpha: float = Field(8.0, gt=0)
    rank_dropout: float = Field(0.0, ge=0, lt=1)
    module_dropout: float = Field(0.0, ge=0, lt=1)
    decompose_both: bool = False
    """Also factorise the left Kronecker factor into a low-rank product."""


METHOD = tuner(
    "lokr",
    LokrConfig,
    "LOKR",
    1e-3,
    "Kronecker product of a small and a low-rank factor (LyCORIS)",
    mergeable=True,
)
