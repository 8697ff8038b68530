"""`adapter`: bottleneck adapters inside every block (models/bottleneck.py).

Houlsby placement (Houlsby et al., 2019) puts one adapter after attention and one after the
feed-forward; Pfeiffer placement (Pfeiffer et al., 2021) only after the feed-forward. The
non-linearity defaults to each placement's own (swish, relu), as in AdapterHub.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import PositiveInt

from tunebench.methods.base import Method, MethodConfig, register
from tunebench.models.blocks import freeze

if TYPE_CHECKING:
    from tunebench.methods.target import Target


class AdapterConfig(MethodConfig):
    name: Literal["adapter"] = "adapter"
    reduction_factor: PositiveInt = 16
    placement: Literal["houlsby", "pfeiffer"] = "pfeiffer"
    non_linearity: Literal["relu", "swish", "gelu", "tanh"] | None = None
    """None: the placement's own (houlsby swish, pfeiffer relu)."""


def apply(target: Target, config: AdapterConfig):
    from tunebench.models.bottleneck import DEFAULT_NON_LINEARITY, add_adapters

    freeze(target.model)  # a language model's output layer too
    non_linearity = config.non_linearity or DEFAULT_NON_LINEARITY[config.placement]
    add_adapters(target.backbone, config.placement, config.reduction_factor, non_linearity)
    target.train_head()
    return target.model


METHOD = register(
    Method("adapter", AdapterConfig, 1e-3, "bottleneck adapters (Houlsby or Pfeiffer)", apply)
)
