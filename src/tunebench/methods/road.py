"""`road`: 2D rotary adaptation (Liao & Monz, 2025).

Each adapted layer's outputs are rotated in pairs by trained angles and scaled by trained
magnitudes: a few parameters per output feature. `group_size` must divide the adapted layers'
output width.
"""

from typing import Literal

from pydantic import PositiveInt

from tunebench.methods.tuner import ModulesConfig, tuner


class RoadConfig(ModulesConfig):
    name: Literal["road"] = "road"
    variant: Literal["road_1", "road_2", "road_4"] = "road_1"
    """road_1 shares one angle and scale per pair; road_2 and road_4 train 2× and 4× as many."""
    group_size: PositiveInt = 64


METHOD = tuner(
    "road",
    RoadConfig,
    "ROAD",
    3e-3,
    "trained 2D rotations and scales of each layer's outputs",
    mergeable=True,
)
