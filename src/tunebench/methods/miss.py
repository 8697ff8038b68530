"""`miss`: matrix shard sharing (Kang & Yin, 2024; formerly Bone).

The update of each adapted weight is one trained r × out shard, shared across its blocks of
input features: LoRA-like parameter counts with a different inductive bias and no B/A product.
"""

from typing import Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class MissConfig(TunerConfig):
    name: Literal["miss"] = "miss"
    r: PositiveInt = 64
    """The shard's rows; at most the adapted layers' input width."""
    dropout: float = Field(0.0, ge=0, lt=1)


METHOD = tuner(
    "miss",
    MissConfig,
    "MISS",
    1e-3,
    "one trained weight shard shared across each layer's input blocks",
    renamed={"dropout": "miss_dropout"},
    mergeable=True,
)
