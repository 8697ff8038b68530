"""`shira`: sparse high-rank adapters (Bhardwaj et al., 2024).

A fixed random sparse subset of each adapted weight's entries trains (r × (in + out) of them,
LoRA's count at the same r) and the rest stay frozen: a high-rank update that swaps in fast.
"""

from typing import Literal

from pydantic import PositiveInt

from tunebench.methods.tuner import ModulesConfig, tuner


class ShiraConfig(ModulesConfig):
    name: Literal["shira"] = "shira"
    r: PositiveInt = 32
    """Trained entries per layer = r × (in + out), fewer than the layer's in × out."""


METHOD = tuner(
    "shira",
    ShiraConfig,
    "SHIRA",
    1e-3,
    "a fixed random sparse subset of each weight's entries trains",
    fixed={"random_seed": 0},
    mergeable=True,
)
