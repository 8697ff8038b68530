"""The lean language-model head (families/causal_lm/logprobs.py) against transformers' own loss:
the same loss and the same gradients, in one chunk or many, for the methods that change the
forward pass, and with Gemma 2's logit soft-capping."""

import pytest
import torch
from transformers import Gemma2Config, Gemma2ForCausalLM

from tunebench.families.causal_lm import logprobs
from tunebench.families.causal_lm.logprobs import continuation_logprobs, response_loss
from tunebench.families.causal_lm.sequences import Renderer, collate
from tunebench.methods import METHODS

from tiny import tiny_causal_lm, tiny_tokenizer


def _batch(tokenizer):
    prompts, responses = ["say hi", "a longer prompt here", "x"], ["hello there", "ok", "a b c d"]
    sequences = Renderer(tokenizer, "chat").encode(prompts, responses, 64)
    return collate(sequences, [0, 1, 2], tokenizer.pad_token_id)


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _loss_and_grads(model, batch, lean: bool):
    model.zero_grad(set_to_none=True)
    loss = response_loss(model, batch) if lean else model(**batch).loss
    loss.backward()
    return loss.item(), _grads(model)


@pytest.mark.parametrize("chunk_logits", [2**25, 110 * 3])  # one chunk; chunks of 3 tokens
@pytest.mark.parametrize("name", ["full", "lora", "prompt", "prefix", "ia3"])
def test_loss_and_gradients_match_the_models_own(name, chunk_logits, monkeypatch):
    monkeypatch.setattr(logprobs, "CHUNK_LOGITS", chunk_logits)
    tokenizer = tiny_tokenizer()
    model = METHODS[name].apply(tiny_causal_lm(), METHODS[name].config())
    model.eval()  # no dropout: the two computations see the same network
    batch = _batch(tokenizer)
    reference, reference_grads = _loss_and_grads(model, batch, lean=False)
    lean, lean_grads = _loss_and_grads(model, batch, lean=True)
    assert lean == pytest.approx(reference, rel=1e-5)
    assert reference_grads.keys() == lean_grads.keys() and reference_grads
    for key, grad in reference_grads.items():
        torch.testing.assert_close(lean_grads[key], grad, rtol=1e-4, atol=1e-6)


def test_per_row_sums_match_a_log_softmax_over_all_logits(monkeypatch):
    monkeypatch.setattr(logprobs, "CHUNK_LOGITS", 110 * 2)
    tokenizer, model = tiny_tokenizer(), tiny_causal_lm()
    batch = _batch(tokenizer)
    with torch.no_grad():
        sums, counts = continuation_logprobs(model, batch)
        logits = model(**{k: batch[k] for k in ("input_ids", "attention_mask")}).logits
    all_logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
    targets = batch["labels"][:, 1:]
    picked = all_logprobs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    scored = targets != -100
    torch.testing.assert_close(sums, (picked * scored).sum(1))
    assert counts.tolist() == scored.sum(1).tolist()


def test_soft_capped_logits_are_capped_as_the_model_caps_them():
    torch.manual_seed(0)
    config = Gemma2Config(
        vocab_size=110,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        final_logit_softcapping=0.5,  # tight: an uncapped computation would differ
        pad_token_id=0,
    )
    model = Gemma2ForCausalLM(config).eval()
    batch = _batch(tiny_tokenizer())
    with torch.no_grad():
        assert response_loss(model, batch).item() == pytest.approx(model(**batch).loss.item())


def test_a_batch_with_nothing_labelled_scores_zero():
    tokenizer, model = tiny_tokenizer(), tiny_causal_lm()
    batch = _batch(tokenizer)
    batch["labels"][:] = -100
    sums, counts = continuation_logprobs(model, batch)
    assert sums.tolist() == [0.0, 0.0, 0.0] and counts.tolist() == [0, 0, 0]
