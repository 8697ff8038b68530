"""Loading an exported folder (export/__init__.py) back: what `tunebench predict` runs on, and
the reader of our own bottleneck-adapter format. The peft and model formats need nothing of
tunebench; docs/export.md shows the same steps in plain transformers + peft.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from tunebench.errors import UserError
from tunebench.export.info import read_info
from tunebench.export.writers import BOTTLENECK_CONFIG, BOTTLENECK_WEIGHTS, HEAD_WEIGHTS
from tunebench.models.heads import pool


@dataclass
class Exported:
    info: dict
    model: nn.Module
    """The transformer (a peft model for the peft format), in eval mode."""
    tokenizer: PreTrainedTokenizerBase
    head: nn.Linear | None
    """A classifier's linear head on the pooled hidden states; None for a causal LM."""
    processor: Any = None
    """An image-text model's processor (its tokenizer is `tokenizer`); None for text models."""

    @torch.inference_mode()
    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> torch.Tensor:
        """(len(texts), classes) class probabilities, right-padded as in training."""
        batch = self.tokenizer(
            texts,
            pairs,
            padding=True,
            truncation=True,
            max_length=self.info["max_length"],
            return_tensors="pt",
        )
        if pairs is None:
            batch.pop("token_type_ids", None)  # as training fed single texts
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"]
        virtual = hidden.shape[1] - mask.shape[1]  # prompt tuning's tokens come first
        mask = torch.cat([mask.new_ones(mask.shape[0], virtual), mask], dim=1)
        return self.head(pool(hidden, mask, self.info["pooling"])).float().softmax(-1)

    @torch.inference_mode()
    def word_tags(self, sentences: list[list[str]]) -> list[list[str]]:
        """A token classifier's tag for each word of each sentence, read at the word's first
        sub-token (a word cut off by `max_length`: "O"); the words tokenised as running text,
        as in training, right-padded so that padding changes no real token."""
        texts = [[w if i == 0 else f" {w}" for i, w in enumerate(ws)] for ws in sentences]
        self.tokenizer.padding_side = "right"
        batch = self.tokenizer(
            texts,
            is_split_into_words=True,
            truncation=True,
            max_length=self.info["max_length"],
            padding=True,
            return_tensors="pt",
        )
        word_ids = [batch.word_ids(row) for row in range(len(sentences))]
        batch.pop("token_type_ids", None)
        hidden = self.model(**batch).last_hidden_state
        logits = self.head(hidden[:, hidden.shape[1] - batch["input_ids"].shape[1] :])
        labels, tags = self.info["labels"], []
        for row, words in enumerate(sentences):
            first = {w: i for i, w in reversed(list(enumerate(word_ids[row]))) if w is not None}
            picked = [
                int(logits[row, first[w]].argmax()) if w in first else None
                for w in range(len(words))
            ]
            tags.append(["O" if p is None else labels[p] for p in picked])
        return tags


def load_export(folder: Path) -> Exported:
    """An exported folder's model, tokenizer and head (UserError if it is not one)."""
    info = read_info(folder)
    if info["model_kind"] == "image_text":
        return _image_text(folder, info)
    causal = info["model_kind"] == "causal_lm"
    model_class = AutoModelForCausalLM if causal else AutoModel
    if info["format"] == "peft":
        from peft import PeftModel

        model = PeftModel.from_pretrained(model_class.from_pretrained(info["base_model"]), folder)
    elif info["format"] == "bottleneck":
        model = load_bottleneck(folder, model_class)
    else:
        model = model_class.from_pretrained(folder)
    head = None if causal else _head(folder / HEAD_WEIGHTS)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return Exported(info, model.eval(), tokenizer, head)


def _image_text(folder: Path, info: dict) -> Exported:
    """A visual_qa export: one model folder and its processor (export/image_text.py)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    return Exported(info, model.eval(), processor.tokenizer, None, processor)


def load_bottleneck(folder: Path, model_class=AutoModel) -> nn.Module:
    """The backbone of a bottleneck-adapter export with its adapters in place."""
    from tunebench.models.bottleneck import add_adapters

    config = json.loads((folder / BOTTLENECK_CONFIG).read_text())
    model = model_class.from_pretrained(config["base_model_name_or_path"])
    backbone = getattr(model, "base_model", model)  # adapters live in the transformer's blocks
    add_adapters(backbone, config["placement"], config["reduction_factor"], config["non_linearity"])
    loaded = model.load_state_dict(load_file(folder / BOTTLENECK_WEIGHTS), strict=False)
    if loaded.unexpected_keys:
        unplaced = ", ".join(loaded.unexpected_keys[:3])
        raise UserError(f"{folder}: adapter tensors that fit no module ({unplaced}, ...)")
    return model


def _head(path: Path) -> nn.Linear:
    state = load_file(path)
    classes, hidden = state["weight"].shape
    head = nn.Linear(hidden, classes)
    head.load_state_dict(state)
    return head.eval()
