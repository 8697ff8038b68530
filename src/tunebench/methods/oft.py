"""`oft`: orthogonal fine-tuning (Qiu et al., 2023).

Each adapted weight is multiplied by a trained block-diagonal orthogonal matrix, which keeps
the angles between its neurons (the "hyperspherical energy") as pretrained. `block_size` must
divide the adapted layers' input width (MiniLM 384, SmolLM2 576, Gemma 3 640: 32 does).
"""

from typing import Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class OftConfig(TunerConfig):
    name: Literal["oft"] = "oft"
    block_size: PositiveInt = 32
    module_dropout: float = Field(0.0, ge=0, lt=1)
    coft: bool = False
    """Constrained OFT: keep the rotation within `eps` of the identity."""


METHOD = tuner(
    "oft",
    OftConfig,
    "OFT",
    1e-3,
    "trained block-diagonal orthogonal rotation of each adapted weight",
    renamed={"block_size": "oft_block_size"},
    fixed={"r": 0},
    mergeable=True,
)
