"""The sequence-classification model every method trains: backbone -> pooling -> linear head.

One wrapper for encoders and decoders keeps the head, the pooling and the loss identical across
methods, so a comparison measures the method and nothing else. Its forward accepts the keyword
arguments that peft's prompt-learning wrappers pass (`inputs_embeds`, `past_key_values`).
"""

from __future__ import annotations

import inspect
from typing import Literal

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

Pooling = Literal["cls", "mean", "last"]


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """Reduce (batch, seq, hidden) to (batch, hidden); the mask is right-padded."""
    mask = attention_mask[:, -hidden.shape[1] :]  # prefix tuning extends the mask, not the states
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    last = mask.sum(1).long() - 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class SequenceClassifier(nn.Module):
    """Backbone + pooling + dropout + linear classifier, with cross-entropy loss."""

    def __init__(
        self, backbone: PreTrainedModel, num_labels: int, pooling: Pooling, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config  # peft reads the architecture from here
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(backbone.config.hidden_size, num_labels)
        self.num_labels = num_labels
        parameters = inspect.signature(backbone.forward).parameters
        self._accepts_token_types = "token_type_ids" in parameters
        # transformers 5 calls prefix tuning's keys and values `cache` (`past_key_values` is
        # deprecated there, to be removed in 5.40); remote-code models may still want the old name
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"

    @property
    def device(self) -> torch.device:
        return self.classifier.weight.device

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        past_key_values=None,
        token_type_ids: torch.Tensor | None = None,
        **_ignored,
    ) -> SequenceClassifierOutput:
        pooled = self.embed(
            input_ids, attention_mask, inputs_embeds, past_key_values, token_type_ids
        )
        logits = self.classifier(self.dropout(pooled))
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def embed(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None = None,
        past_key_values=None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The pooled (batch, hidden) text embedding the head reads."""
        hidden = self.hidden_states(
            input_ids, attention_mask, inputs_embeds, past_key_values, token_type_ids
        )
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], device=hidden.device, dtype=torch.long)
        return pool(hidden, attention_mask, self.pooling)

    def hidden_states(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None = None,
        past_key_values=None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The backbone's last hidden states, (batch, seq, hidden); peft's prompt tuning puts
        its virtual tokens first."""
        kwargs = {}
        if token_type_ids is not None and self._accepts_token_types:
            kwargs["token_type_ids"] = token_type_ids
        if past_key_values is not None:
            kwargs[self._cache_argument] = past_key_values
        outputs = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            use_cache=False if past_key_values is None else None,
            **kwargs,
        )
        return outputs.last_hidden_state


class TextEncoder(SequenceClassifier):
    """Backbone + pooling with no classifier: `forward` returns the (batch, hidden) embedding.

    The tabular pipelines train a language model through a method (lora, prompt, full, ...)
    and feed its embeddings to a downstream model. Methods are applied to this module exactly
    as to a `SequenceClassifier` (same attribute names, same forward arguments), so each method
    is written once; `classifier` is an identity that peft can wrap.
    """

    def __init__(self, backbone: PreTrainedModel, pooling: Pooling) -> None:
        super().__init__(backbone, num_labels=1, pooling=pooling, dropout=0.0)
        self.classifier = nn.Identity()

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        past_key_values=None,
        token_type_ids: torch.Tensor | None = None,
        **_ignored,
    ) -> torch.Tensor:
        return self.embed(input_ids, attention_mask, inputs_embeds, past_key_values, token_type_ids)
