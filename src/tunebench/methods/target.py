"""What a method changes: the model it returns, the transformer it edits, the head that trains
with every method, and how peft should treat inputs and labels."""

from __future__ import annotations

from dataclasses import dataclass

from peft import TaskType
from torch import nn
from transformers import PreTrainedModel

from tunebench.models.heads import SequenceClassifier


@dataclass(frozen=True)
class Target:
    """`model` is what the method returns (wrapped by peft for the peft methods), `backbone` the
    transformer whose blocks it changes, `head` what trains with every method (None for a
    causal language model), and `peft_task` tells peft how inputs and labels flow: SEQ_CLS for
    our classifiers and text encoder (they take peft's virtual tokens themselves), CAUSAL_LM for
    a language model (virtual tokens get -100 labels, `generate` works).
    """

    model: nn.Module
    backbone: nn.Module
    head: nn.Module | None
    peft_task: TaskType | None
    backbone_path: str = ""

    @classmethod
    def of(cls, model: nn.Module, backbone_path: str = "") -> Target:
        if isinstance(model, SequenceClassifier):  # also the text encoder and token classifier
            return cls(model, model.backbone, model.classifier, TaskType.SEQ_CLS, backbone_path)
        if isinstance(model, PreTrainedModel) and model.base_model is not model:
            return cls(model, model.base_model, None, TaskType.CAUSAL_LM, backbone_path)
        raise TypeError(f"cannot apply a method to {type(model).__name__}")

    @classmethod
    def inside(cls, language_model: nn.Module, backbone_path: str = "") -> Target:
        """The language model of an image-text model as the whole target: the method sees it
        alone, so the vision encoder and the connector are out of its reach by construction.
        PEFT wraps it in its base `PeftModel`, which passes every input through; the caller
        puts what the method returns back in the image-text model."""
        return cls(language_model, language_model, None, None, backbone_path)

    @classmethod
    def around_image_text(
        cls, model: nn.Module, language_model: nn.Module, backbone_path: str = ""
    ) -> Target:
        """A whole image-text model as the target of a prompt-learning method: PEFT's causal-LM
        wrapper adds its virtual tokens to the input embeddings (or its prefixes to the
        attention) of the language model, which alone sees them; the image features join the
        sequence inside the model, after the virtual tokens are in place."""
        return cls(model, language_model, None, TaskType.CAUSAL_LM, backbone_path)

    def train_head(self) -> None:
        if self.head is not None:
            self.head.requires_grad_(True)
