"""Greedy generation through PEFT's prompt-learning methods (prompt, prefix and p-tuning) on
transformers 5, whose `generate` keeps its key/value cache under `cache`.

peft 0.21's `prepare_inputs_for_generation` still looks for, and writes, `past_key_values`. So
under transformers 5.24 prefix tuning generates from a cache without its prefix (the base
model's continuations) and prompt tuning never sees its cache: it injects the virtual tokens
at every step and continues from them alone. `translated_cache` renames the cache to
peft's word on the way in and back on the way out, so both generate with their learned
tokens and the cache.

Prompt tuning also loses its positions in a left-padded batch: peft drops `position_ids`, so
the model counts positions over the padding between the virtual tokens and the prompt, and a
padded prompt is read at other distances from its virtual tokens than in training. The
positions are put back from the attention mask, as `generate` does for a plain model.
tests/test_generation_cache.py holds batched, cached generation to argmax decoding by full
forward passes of one prompt at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def translated_cache(model: nn.Module) -> Iterator[None]:
    """Within the block, `model.generate` runs prompt learning with the cache under the name
    peft reads (the base model's prepared inputs) and the name transformers reads (what peft
    hands on); any other model is left as it is."""
    config = getattr(model, "active_peft_config", None)
    if config is None or not config.is_prompt_learning:
        yield
        return
    prepare_base = model.base_model_prepare_inputs_for_generation
    prepare_peft = model.prepare_inputs_for_generation

    def base_with_peft_name(*args, **kwargs) -> dict:
        return _renamed(prepare_base(*args, **kwargs), "cache", "past_key_values")

    def peft_with_transformers_name(*args, **kwargs) -> dict:
        inputs = _renamed(prepare_peft(*args, **kwargs), "past_key_values", "cache")
        return _with_positions(inputs)

    model.base_model_prepare_inputs_for_generation = base_with_peft_name
    model.prepare_inputs_for_generation = peft_with_transformers_name
    try:
        yield
    finally:
        model.base_model_prepare_inputs_for_generation = prepare_base
        del model.prepare_inputs_for_generation  # the class's method again


def _with_positions(inputs: dict) -> dict:
    """Position ids from the (virtual tokens + prompt) attention mask where peft left none."""
    mask = inputs.get("attention_mask")
    if inputs.get("position_ids") is not None or mask is None or mask.dim() != 2:
        return inputs
    embeds = inputs.get("inputs_embeds")
    width = (embeds if embeds is not None else inputs["input_ids"]).shape[1]
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    inputs["position_ids"] = positions[:, -width:]
    return inputs


def _renamed(inputs: dict, old: str, new: str) -> dict:
    if old in inputs:
        inputs[new] = inputs.pop(old)
    return inputs
