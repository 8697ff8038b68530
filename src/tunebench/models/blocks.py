"""The parts of a transformer that methods, the prefix cache and metering look for."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a model exists: study files validate without it
    from torch import nn


def transformer_layers(backbone: nn.Module) -> nn.ModuleList:
    """The backbone's list of transformer blocks (BERT `encoder.layer`, Llama `layers`, ...)."""
    from torch import nn

    depth = getattr(backbone.config, "num_hidden_layers", None)
    for module in backbone.modules():
        if isinstance(module, nn.ModuleList) and len(module) == depth:
            return module
    raise ValueError(f"cannot find the {depth} transformer blocks of {type(backbone).__name__}")


def freeze(module: nn.Module) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(False)


def trainable_parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def total_params(model: nn.Module) -> int:
    """Parameters of the model as trained, counting peft's frozen head copy only once."""
    return sum(p.numel() for name, p in model.named_parameters() if "original_module" not in name)
