"""`randlora`: full-rank updates from shared random low-rank bases (Albert et al., 2025).

As VeRA, the low-rank bases are random, frozen and shared; RandLoRA sums enough of them for a
full-rank update and trains small diagonal scalings of each.
"""

from typing import Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class RandloraConfig(TunerConfig):
    name: Literal["randlora"] = "randlora"
    r: PositiveInt = 32
    """The rank of each random basis (fewer bases, and parameters, as r grows)."""
    alpha: float = Field(640.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)


METHOD = tuner(
    "randlora",
    RandloraConfig,
    "RANDLORA",
    1e-3,
    "full-rank update from shared random bases with trained scalings",
    renamed={"alpha": "randlora_alpha", "dropout": "randlora_dropout"},
    mergeable=True,
)
