"""Prompt + continuation sequences on a tiny decoder: masking, chat rendering, truncation,
log-likelihoods against hand computation, and peft's virtual tokens."""

import math

import numpy as np
import pytest
import torch
from accelerate import Accelerator

from tunebench.families.causal_lm.logprobs import continuation_logprobs
from tunebench.families.causal_lm.scoring import score
from tunebench.families.causal_lm.sequences import (
    IGNORE,
    Renderer,
    collate,
    resolve_format,
    token_budget_batches,
)
from tunebench.families.multiple_choice.data import ChoiceSplit
from tunebench.families.multiple_choice.run import choice_accuracy, option_sequences
from tunebench.methods import METHODS

from tiny import tiny_causal_lm, tiny_tokenizer

CPU = Accelerator(cpu=True)


def test_labels_cover_the_response_only():
    tokenizer = tiny_tokenizer()
    sequences = Renderer(tokenizer, "chat").encode(["say hi", "a longer prompt"], ["hi", "ok"], 64)
    batch = collate(sequences, [0, 1], tokenizer.pad_token_id)
    for row, (ids, prompt) in enumerate(
        zip(sequences.input_ids, sequences.prompt_lengths, strict=True)
    ):
        labels = batch["labels"][row]
        assert (labels[:prompt] == IGNORE).all()  # prompt
        assert labels[prompt : len(ids)].tolist() == ids[prompt:]  # response + end token
        assert (labels[len(ids) :] == IGNORE).all()  # padding
        assert ids[-1] == tokenizer.eos_token_id  # the model learns to stop
    assert tokenizer.decode(sequences.input_ids[0][sequences.prompt_lengths[0] :]) == "hi<|im_end|>"


def test_transformers_loss_is_the_mean_over_response_tokens():
    tokenizer, model = tiny_tokenizer(), tiny_causal_lm()
    sequences = Renderer(tokenizer, "chat").encode(["say hi", "prompt two"], ["hello", "x"], 64)
    batch = collate(sequences, [0, 1], tokenizer.pad_token_id)
    logprobs, counts = continuation_logprobs(model, batch)
    assert counts.tolist() == [6, 2]  # "hello" + end token, "x" + end token
    assert model(**batch).loss.item() == pytest.approx(-(logprobs.sum() / counts.sum()).item())


def test_chat_rendering_follows_the_template_and_plain_without_one():
    chat = tiny_tokenizer(chat=True)
    assert resolve_format("auto", chat) == "chat"
    rendered = chat.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    ids = Renderer(chat, "chat").prompt_ids("Hi")
    assert ids == chat(rendered, add_special_tokens=False)["input_ids"]
    plain = tiny_tokenizer(chat=False)
    assert resolve_format("auto", plain) == "plain"
    assert plain.decode(Renderer(plain, "plain").prompt_ids("Hi")) == "Hi\n"


def test_a_long_prompt_loses_its_own_end_not_the_template():
    tokenizer = tiny_tokenizer()
    renderer = Renderer(tokenizer, "chat")
    sequences = renderer.encode(["word " * 200], ["yes"], max_length=60)
    ids = sequences.input_ids[0]
    assert len(ids) <= 60
    text = tokenizer.decode(ids)
    assert text.startswith("<|im_start|>user\nword word")
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\nyes<|im_end|>")


def test_token_budget_batches_bound_the_padded_size():
    lengths = [5, 50, 20, 20, 3, 49, 7]
    batches = token_budget_batches(lengths, max_tokens=100, max_rows=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 100


def test_option_scores_match_a_hand_computed_log_likelihood():
    tokenizer, model = tiny_tokenizer(), tiny_causal_lm()
    split = ChoiceSplit(["Q: sky?\nA:"], [[" blue", " a green one"]], [0], [0])
    renderer = Renderer(tokenizer, "cloze")
    sequences = option_sequences(split, renderer, 64)
    logprobs, counts = score(model, sequences, tokenizer.pad_token_id, CPU, 8)
    for k, option in enumerate(split.options[0]):
        context = tokenizer(split.contexts[0], add_special_tokens=False)["input_ids"]
        continuation = tokenizer(option, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([context + continuation])
        with torch.no_grad():
            log_softmax = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
        by_hand = sum(
            log_softmax[len(context) + j - 1, token].item() for j, token in enumerate(continuation)
        )
        assert logprobs[k] == pytest.approx(by_hand, abs=1e-4)
        assert counts[k] == len(continuation)


def test_choice_accuracy_raw_and_length_normalised():
    split = ChoiceSplit(["q1", "q2"], [[" a", " bbbbbbbbb"], [" x", " y"]], [1, 0], [7, 9])
    # q1: the long right option has the lower sum but the higher per-character score
    logprobs = np.array([-3.0, -5.0, -1.0, -2.0])
    metrics = choice_accuracy(logprobs, split)
    assert (metrics["accuracy"], metrics["accuracy_norm"]) == (0.5, 1.0)
    assert metrics["examples"] == {
        "prediction": [0, 0],
        "prediction_norm": [1, 0],
        "label": [1, 0],
        "row": [7, 9],  # the questions' ids in the source data
    }


@pytest.mark.parametrize("name", ["prompt", "prefix", "lora", "ia3"])
def test_peft_models_score_like_their_own_loss(name):
    """Prompt tuning prepends virtual tokens to the logits; the score must skip them and agree
    with peft's own loss (which gives the virtual tokens -100 labels)."""
    tokenizer = tiny_tokenizer()
    model = METHODS[name].apply(tiny_causal_lm(), METHODS[name].config())
    model.eval()
    sequences = Renderer(tokenizer, "chat").encode(["say hi", "two"], ["hello", "x y"], 64)
    batch = collate(sequences, [0, 1], tokenizer.pad_token_id)
    with torch.no_grad():
        logprobs, counts = continuation_logprobs(model, batch)
        loss = model(**batch).loss.item()
    assert loss == pytest.approx(-(logprobs.sum() / counts.sum()).item(), rel=1e-5)
    assert math.isfinite(loss)
