"""`ln_tuning`: only the layer norms of the backbone train, plus the head (Zhao et al., 2024).

Like BitFit, a few thousand parameters; PEFT trains copies of the norm layers, so the update
is one small file. PEFT knows the norms' names for Llama-like decoders; on other backbones
(BERT's `LayerNorm`) they are found by type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from tunebench.methods.tuner import ModulesConfig, tuner

if TYPE_CHECKING:
    from tunebench.methods.target import Target


class LnTuningConfig(ModulesConfig):
    name: Literal["ln_tuning"] = "ln_tuning"


def norm_names(target: Target, chosen: dict[str, Any]) -> dict[str, Any]:
    """PEFT's default norms for the architecture, else the names of the backbone's norm
    layers (every module whose class name ends in "Norm")."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LNTUNING_TARGET_MODULES_MAPPING

    model_type = getattr(getattr(target.backbone, "config", None), "model_type", None)
    if (
        chosen["target_modules"]
        or model_type in TRANSFORMERS_MODELS_TO_LNTUNING_TARGET_MODULES_MAPPING
    ):
        return chosen
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in target.backbone.named_modules()
        if type(module).__name__.endswith("Norm")
    }
    return {**chosen, "target_modules": sorted(names)}


METHOD = tuner(
    "ln_tuning",
    LnTuningConfig,
    "LN_TUNING",
    1e-3,
    "only the backbone's layer norms train",
    resolve=norm_names,
)
