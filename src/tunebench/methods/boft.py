"""`boft`: orthogonal butterfly fine-tuning (Liu et al., 2024).

OFT's orthogonal matrix as a product of sparse butterfly factors: a dense rotation from fewer
parameters. `block_size` must divide the adapted layers' input width.
"""

from typing import Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class BoftConfig(TunerConfig):
    name: Literal["boft"] = "boft"
    block_size: PositiveInt = 4
    butterfly_factors: PositiveInt = 1
    dropout: float = Field(0.0, ge=0, lt=1)


METHOD = tuner(
    "boft",
    BoftConfig,
    "BOFT",
    1e-3,
    "orthogonal rotation from sparse butterfly factors",
    renamed={
        "block_size": "boft_block_size",
        "butterfly_factors": "boft_n_butterfly_factor",
        "dropout": "boft_dropout",
    },
    mergeable=True,
)
