"""`adapter`: bottleneck adapters inside every block, through AdapterHub's `adapters` library.

Houlsby placement (Houlsby et al., 2019) puts one adapter after attention and one after the
feed-forward; Pfeiffer placement (Pfeiffer et al., 2021) only after the feed-forward.
"""

from typing import Literal

import adapters
from adapters import DoubleSeqBnConfig, SeqBnConfig
from pydantic import PositiveInt

from tunebench.methods.base import Method, MethodConfig

ADAPTER_NAME = "tunebench"


class AdapterConfig(MethodConfig):
    name: Literal["adapter"] = "adapter"
    reduction_factor: PositiveInt = 16
    placement: Literal["houlsby", "pfeiffer"] = "pfeiffer"


def apply(model, config: AdapterConfig, backbone_path: str):
    layout = DoubleSeqBnConfig if config.placement == "houlsby" else SeqBnConfig
    adapters.init(model.backbone)
    model.backbone.add_adapter(
        ADAPTER_NAME, config=layout(reduction_factor=config.reduction_factor)
    )
    model.backbone.train_adapter(ADAPTER_NAME)  # freezes the backbone except the adapter
    model.classifier.requires_grad_(True)
    return model


METHOD = Method("adapter", AdapterConfig, 1e-3, "bottleneck adapters (Houlsby or Pfeiffer)", apply)
