"""`c3a`: circular convolution adaptation (Chen et al., 2025).

Each adapted weight's update is a block-circulant matrix: one trained vector per block, applied
by FFT. `block_size` must divide the adapted layers' input and output widths: 64 divides
MiniLM's 384, SmolLM2's 576 and Gemma 3's 640 (PEFT's default, 256, divides none).
"""

from typing import Literal

from pydantic import PositiveInt

from tunebench.methods.tuner import TunerConfig, tuner


class C3aConfig(TunerConfig):
    name: Literal["c3a"] = "c3a"
    block_size: PositiveInt = 64


METHOD = tuner(
    "c3a",
    C3aConfig,
    "C3A",
    1e-2,
    "block-circulant update of each weight, applied by FFT",
    mergeable=True,
)
