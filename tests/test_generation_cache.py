"""Greedy generation with the key/value cache, for every kind of method: the continuations
equal argmax decoding by full forward passes, and after the prompt each step feeds the model
one new token. Prompt and prefix tuning go through `translated_cache` (peft 0.21 under
transformers 5 otherwise generates without their virtual tokens or without the cache)."""

import pytest
import torch
from accelerate import Accelerator

from tunebench.families.causal_lm.sequences import Renderer
from tunebench.families.generation.run import generate
from tunebench.methods import METHODS
from tunebench.training import checkpointing
from tunebench.training.config import TrainingConfig

from tiny import tiny_causal_lm, tiny_tokenizer

NEW_TOKENS = 6


def _sharp_model(name: str):
    """A tiny decoder whose weights are scaled up so greedy continuations vary by position,
    and the method's trainable parameters perturbed so that the method changes them."""
    base = tiny_causal_lm()
    with torch.no_grad():
        for parameter in base.parameters():
            parameter.mul_(8)
    if name in ("lora", "ia3"):
        checkpointing.enable(base)  # what `gradient_checkpointing: auto` does on decoders
    model = METHODS[name].apply(base, METHODS[name].config())
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter))
    return base, model.eval()


def _full_forward_greedy(model, prompt_ids: list[int], tokenizer) -> str:
    sequence = torch.tensor([prompt_ids])
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            logits = model(input_ids=sequence, attention_mask=torch.ones_like(sequence)).logits
            sequence = torch.cat([sequence, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    new = sequence[0, len(prompt_ids) :].tolist()
    if tokenizer.eos_token_id in new:
        new = new[: new.index(tokenizer.eos_token_id)]
    return tokenizer.decode(new, skip_special_tokens=True).strip()


@pytest.mark.parametrize("name", ["frozen", "lora", "ia3", "prompt", "prefix"])
def test_cached_greedy_generation_equals_full_forward_argmax(name):
    tokenizer = tiny_tokenizer()
    base, model = _sharp_model(name)
    renderer = Renderer(tokenizer, "chat")
    config = TrainingConfig(max_length=64)
    prompts = ["a much longer prompt here", "mid size"]
    widths: list[int] = []

    def record_width(module, args, kwargs):
        widths.append((args[0] if args else kwargs["hidden_states"]).shape[1])

    hook = base.model.layers[0].register_forward_pre_hook(record_width, with_kwargs=True)
    generated = generate(model, renderer, prompts, config, NEW_TOKENS, Accelerator(cpu=True))
    hook.remove()
    expected = [
        _full_forward_greedy(model, renderer.fitted_prompt_ids(p, 64), tokenizer) for p in prompts
    ]
    assert generated == expected
    assert any(generated), "every continuation is empty: the comparison shows nothing"
    steps_after_prompt = widths[1:]
    assert steps_after_prompt and set(steps_after_prompt) == {1}, widths
