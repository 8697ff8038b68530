"""What a fine-tuning method is: a typed config, a default learning rate, and how it applies.

A method is applied to a `Target`: the module to train, the transformer inside it, and the head
that trains with every method (a classifier's; a language model has none beyond its own output
layer, which stays as the method leaves it). It returns the module to train, with exactly the
method's parameters left trainable, so every method is compared with the same head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from peft import TaskType
from pydantic import BaseModel, ConfigDict
from torch import nn
from transformers import PreTrainedModel

from tunebench.heads import SequenceClassifier


class MethodConfig(BaseModel):
    """Base of every method's config; unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str


@dataclass(frozen=True)
class Target:
    """What a method changes.

    `model` is what the method returns (wrapped by peft for the peft methods), `backbone` the
    transformer whose blocks it changes, `head` what trains with every method (None for a
    causal language model), and `peft_task` tells peft how inputs and labels flow: SEQ_CLS for
    our classifier and text encoder, CAUSAL_LM for a language model (virtual tokens get -100
    labels, `generate` works).
    """

    model: nn.Module
    backbone: nn.Module
    head: nn.Module | None
    peft_task: TaskType
    backbone_path: str = ""

    @classmethod
    def of(cls, model: nn.Module, backbone_path: str = "") -> Target:
        if isinstance(model, SequenceClassifier):  # also the tabular TextEncoder
            return cls(model, model.backbone, model.classifier, TaskType.SEQ_CLS, backbone_path)
        if isinstance(model, PreTrainedModel) and model.base_model is not model:
            return cls(model, model.base_model, None, TaskType.CAUSAL_LM, backbone_path)
        raise TypeError(f"cannot apply a method to {type(model).__name__}")

    def train_head(self) -> None:
        if self.head is not None:
            self.head.requires_grad_(True)


@dataclass(frozen=True)
class Method:
    name: str
    config: type[MethodConfig]
    default_lr: float
    description: str
    apply_to: Callable[[Target, MethodConfig], nn.Module]

    def apply(self, model: nn.Module, config: MethodConfig, backbone_path: str = "") -> nn.Module:
        """The model to train: `model` (a classifier, text encoder or causal LM) with this
        method applied. `backbone_path` lets prompt tuning initialise from the tokenizer."""
        return self.apply_to(Target.of(model, backbone_path), config)


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
