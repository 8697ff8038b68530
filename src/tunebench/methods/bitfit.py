"""`bitfit`: only the bias terms of the backbone train, plus the head (Ben Zaken et al., 2022)."""

from typing import Literal

from tunebench.errors import UserError
from tunebench.methods.base import Method, MethodConfig, Target, freeze


class BitFitConfig(MethodConfig):
    name: Literal["bitfit"] = "bitfit"


def apply(target: Target, config: BitFitConfig):
    biases = [p for name, p in target.backbone.named_parameters() if name.endswith(".bias")]
    if not biases:
        raise UserError(
            f"method bitfit: backbone {type(target.backbone).__name__} has no bias parameters, "
            "so BitFit would train only the head; use method 'frozen' for that"
        )
    freeze(target.model)
    for bias in biases:
        bias.requires_grad_(True)
    target.train_head()
    return target.model


METHOD = Method("bitfit", BitFitConfig, 5e-3, "bias terms + head", apply)
