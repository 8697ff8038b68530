"""`fourierft`: fine-tuning in the Fourier domain (Gao et al., 2024).

Each adapted weight's update is the inverse discrete Fourier transform of `n_frequency`
trained spectral coefficients at fixed random frequencies, times `scaling`: far fewer
parameters than LoRA. The paper trains them at high rates (5e-2 on RoBERTa-base).
"""

from typing import Literal

from pydantic import Field, PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class FourierftConfig(TunerConfig):
    name: Literal["fourierft"] = "fourierft"
    n_frequency: PositiveInt = 1000
    """Coefficients per adapted layer (at most the layer's in × out)."""
    scaling: float = Field(150.0, gt=0)


METHOD = tuner(
    "fourierft",
    FourierftConfig,
    "FOURIERFT",
    1e-2,
    "trained spectral coefficients of each weight's update",
    mergeable=True,
)
