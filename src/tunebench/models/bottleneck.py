"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2021) in any supported block.

An adapter is A(h) = up(f(down(h))): hidden size d -> d // reduction_factor -> d, initialised
as BERT initialises linear layers (normal, std 0.02; zero bias). Where it goes and which
residuals it gets follow AdapterHub's `DoubleSeqBnConfig` (houlsby) and `SeqBnConfig`
(pfeiffer), so that a study means the same as it did with that library, parameter for parameter.
With h a sublayer's output and x its residual input:

    post-norm blocks (BERT: h = dropout(dense(.)) and the sublayer's LayerNorm LN)
        houlsby, after attention and after the feed-forward:  LN(h + A(h) + x)
        pfeiffer, after the feed-forward only:                LN(h + x + A(LN(h + x)))
    pre-norm blocks (Llama: h is added to the residual stream x)
        houlsby, after attention and after the feed-forward:  x + h + A(h)
        pfeiffer, after the feed-forward only:                y + A(y), y = x + h (block output)
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from transformers.activations import get_activation

from tunebench.errors import UserError
from tunebench.models.blocks import transformer_layers

Placement = Literal["houlsby", "pfeiffer"]
DEFAULT_NON_LINEARITY = {"houlsby": "swish", "pfeiffer": "relu"}


class Bottleneck(nn.Module):
    """A(h) for h of shape (batch, length, d); the same shape out."""

    def __init__(self, d: int, reduction_factor: int, non_linearity: str) -> None:
        super().__init__()
        inner = max(1, d // reduction_factor)
        self.down = nn.Linear(d, inner)
        self.activation = get_activation(non_linearity)
        self.up = nn.Linear(inner, d)
        for linear in (self.down, self.up):
            nn.init.normal_(linear.weight, std=0.02)
            nn.init.zeros_(linear.bias)

    def forward(self, h: Tensor) -> Tensor:
        return self.up(self.activation(self.down(h)))


def add_adapters(
    backbone: nn.Module, placement: Placement, reduction_factor: int, non_linearity: str
) -> int:
    """Put adapters into every block of `backbone`; returns how many. Each is a child module
    named `adapter` (or `output_adapter` on a pre-norm block) of the module it follows."""
    d = backbone.config.hidden_size
    added = 0
    for block in transformer_layers(backbone):
        post_norm = [m for m in block.modules() if hasattr(m, "dense") and hasattr(m, "LayerNorm")]
        if post_norm:
            sublayers = post_norm if placement == "houlsby" else post_norm[-1:]
            for sublayer in sublayers:
                sublayer.adapter = Bottleneck(d, reduction_factor, non_linearity)
                sublayer.forward = _PostNorm(sublayer, placement == "pfeiffer")
        elif hasattr(block, "self_attn") and hasattr(block, "mlp"):
            sublayers = [block.self_attn, block.mlp] if placement == "houlsby" else [block]
            for sublayer in sublayers:
                adapter = Bottleneck(d, reduction_factor, non_linearity)
                sublayer.add_module(
                    "adapter" if sublayer is not block else "output_adapter", adapter
                )
                sublayer.register_forward_hook(_with_adapter(adapter))
        else:
            raise UserError(
                f"adapter: {type(block).__name__} is neither a post-norm block (BERT-like: "
                "sublayers with dense and LayerNorm) nor a pre-norm one (self_attn and mlp)"
            )
        added += len(sublayers)
    return added


class _PostNorm:
    """The forward of a BERT-style output sublayer (hidden_states, input_tensor) with its
    adapter. A plain callable, not a module: the sublayer keeps its own parameters and names."""

    def __init__(self, sublayer: nn.Module, pfeiffer: bool) -> None:
        self.sublayer, self.pfeiffer = sublayer, pfeiffer

    def __call__(self, hidden_states: Tensor, input_tensor: Tensor) -> Tensor:
        layer = self.sublayer
        h = layer.dropout(layer.dense(hidden_states))
        inside = layer.LayerNorm(h + input_tensor) if self.pfeiffer else h
        return layer.LayerNorm(h + layer.adapter(inside) + input_tensor)


def _with_adapter(adapter: Bottleneck):
    """A forward hook: the module's output o (or its first element) becomes o + A(o)."""

    def hook(module: nn.Module, args, output):
        if isinstance(output, tuple):
            return (output[0] + adapter(output[0]), *output[1:])
        return output + adapter(output)

    return hook
