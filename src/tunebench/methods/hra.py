"""`hra`: Householder reflection adaptation (Yuan et al., 2024).

Each adapted weight is multiplied by a chain of r trained Householder reflections: an
orthogonal update (as OFT's) with LoRA-like parameter counts.
"""

from typing import Literal

from pydantic import PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class HraConfig(TunerConfig):
    name: Literal["hra"] = "hra"
    r: PositiveInt = 8
    gram_schmidt: bool = False
    """Orthogonalise the reflections (Gram-Schmidt) at every step."""


METHOD = tuner(
    "hra",
    HraConfig,
    "HRA",
    1e-3,
    "chain of trained Householder reflections of each weight",
    renamed={"gram_schmidt": "apply_GS"},
    mergeable=True,
)
