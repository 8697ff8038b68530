"""`vera`: vector-based random matrix adaptation (Kopiczko et al., 2024).

One pair of frozen random low-rank matrices is shared by every adapted layer; each layer trains
only two scaling vectors, so the trained parameters are a small fraction of LoRA's at a much
higher rank (PEFT's default r = 256). The paper trains them at rates ~10× LoRA's.
"""

from typing import Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class VeraConfig(TunerConfig):
    name: Literal["vera"] = "vera"
    r: PositiveInt = 256
    d_initial: float = Field(0.1, gt=0)
    """The starting value of the scaling vector d (the paper's best for classification)."""
    dropout: float = Field(0.0, ge=0, lt=1)


METHOD = tuner(
    "vera",
    VeraConfig,
    "VERA",
    1e-2,
    "shared frozen random low-rank matrices, trained scaling vectors per layer",
    renamed={"dropout": "vera_dropout"},
)
