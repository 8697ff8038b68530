"""`qlora`: LoRA on a backbone whose linear layers are quantised to 4-bit NF4 (Dettmers et
al., 2023), through bitsandbytes — CUDA only.

The frozen base weights are stored in 4 bits (a quarter of bf16's memory) and dequantised per
matrix multiply in bf16; LoRA's matrices and the head train in full precision. On a machine
without a CUDA device, or without `bitsandbytes` installed (`pip install bitsandbytes`), the
run fails as `unsupported` with the reason, before it trains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from tunebench.errors import UserError
from tunebench.methods import lora
from tunebench.methods.base import TEXT_KINDS
from tunebench.methods.tuner import tuner

if TYPE_CHECKING:
    from torch import nn

    from tunebench.methods.target import Target


class QloraConfig(lora.LoraConfig):
    name: Literal["qlora"] = "qlora"  # type: ignore[assignment]


def quantised_base(target: Target, chosen: dict[str, Any]) -> dict[str, Any]:
    """Quantise the backbone's linear layers in place (the head stays as it is)."""
    import torch

    if not torch.cuda.is_available():
        raise UserError(
            "method qlora: bitsandbytes' 4-bit NF4 kernels need a CUDA device, and this "
            "machine has none; use lora (the same adapters on unquantised weights)"
        )
    try:
        import bitsandbytes as bnb
    except ImportError as error:
        raise UserError("method qlora needs bitsandbytes: pip install bitsandbytes") from error
    for parent in list(target.backbone.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Linear:
                setattr(parent, name, _four_bit(child, bnb))
    return chosen


def _four_bit(linear: nn.Linear, bnb: Any) -> nn.Module:
    import torch

    quantised = bnb.nn.Linear4bit(
        linear.in_features,
        linear.out_features,
        bias=linear.bias is not None,
        compute_dtype=torch.bfloat16,
        quant_type="nf4",
    )
    weight = linear.weight.data.to("cpu", torch.float16)
    quantised.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4")
    if linear.bias is not None:
        quantised.bias = torch.nn.Parameter(linear.bias.data, requires_grad=False)
    return quantised.cuda()  # bitsandbytes quantises on the move to the device


METHOD = tuner(
    "qlora",
    QloraConfig,
    "LORA",
    lora.METHOD.default_lr,
    "LoRA on 4-bit NF4 quantised base weights (CUDA, bitsandbytes)",
    renamed=lora.RENAMED,
    resolve=quantised_base,
    gradient_checkpointing=False,
    kinds=TEXT_KINDS,  # untested inside an image-text model: no CUDA in our CI
)
