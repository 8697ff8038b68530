"""`adapter`: bottleneck adapters inside every block, through AdapterHub's `adapters` library.

Houlsby placement (Houlsby et al., 2019) puts one adapter after attention and one after the
feed-forward; Pfeiffer placement (Pfeiffer et al., 2021) only after the feed-forward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import PositiveInt

from tunebench.methods.base import Method, MethodConfig, register
from tunebench.models.blocks import freeze

ADAPTER_NAME = "tunebench"

if TYPE_CHECKING:
    from tunebench.methods.target import Target


class AdapterConfig(MethodConfig):
    name: Literal["adapter"] = "adapter"
    reduction_factor: PositiveInt = 16
    placement: Literal["houlsby", "pfeiffer"] = "pfeiffer"


def apply(target: Target, config: AdapterConfig):
    import adapters
    from adapters import DoubleSeqBnConfig, SeqBnConfig

    layout = DoubleSeqBnConfig if config.placement == "houlsby" else SeqBnConfig
    freeze(target.model)  # a language model's output layer too
    adapters.init(target.backbone)
    target.backbone.add_adapter(
        ADAPTER_NAME, config=layout(reduction_factor=config.reduction_factor)
    )
    target.backbone.train_adapter(ADAPTER_NAME)  # freezes the backbone except the adapter
    target.train_head()
    return target.model


METHOD = register(
    Method("adapter", AdapterConfig, 1e-3, "bottleneck adapters (Houlsby or Pfeiffer)", apply)
)
