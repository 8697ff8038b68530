"""What a fine-tuning method is: a typed config, a default learning rate, and `apply`.

`apply` takes the freshly built classifier (backbone + head, everything trainable) and returns
the module to train, with exactly the method's parameters left trainable. The head is always
trainable: every method is compared with the same head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from torch import nn

from tunebench.heads import SequenceClassifier


class MethodConfig(BaseModel):
    """Base of every method's config; unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str


@dataclass(frozen=True)
class Method:
    name: str
    config: type[MethodConfig]
    default_lr: float
    description: str
    apply: Callable[[SequenceClassifier, MethodConfig, str], nn.Module]
    """(classifier, config, backbone path for tokenizer-initialised prompts) -> model to train"""


def freeze(module: nn.Module) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(False)


def transformer_layers(backbone: nn.Module) -> nn.ModuleList:
    """The backbone's list of transformer blocks (BERT `encoder.layer`, Llama `layers`, ...)."""
    depth = getattr(backbone.config, "num_hidden_layers", None)
    for module in backbone.modules():
        if isinstance(module, nn.ModuleList) and len(module) == depth:
            return module
    raise ValueError(f"cannot find the {depth} transformer blocks of {type(backbone).__name__}")


def trainable_parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
