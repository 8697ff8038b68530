"""Scoring with shared prompts (multiple-choice options after one question) equals scoring one
sequence per continuation, for every method that shares them; prompt learning does not."""

import numpy as np
import pytest
import torch
from accelerate import Accelerator

from tunebench.families.causal_lm.scoring import score
from tunebench.families.causal_lm.sequences import Sequences
from tunebench.families.causal_lm.shared_prompts import prompt_groups, score_shared, shares_prompts
from tunebench.methods import METHODS

from tiny import tiny_causal_lm

# Three questions: five options of different lengths, two options, and three.
PROMPTS = [[5, 9, 14, 3, 22, 7], [8, 8], [40, 41, 42, 43, 44, 45, 46, 47, 48]]
OPTIONS = [[[11], [12, 13], [14, 15, 16], [17], [18, 19]], [[20], [21, 22, 23]], [[30], [31], [9]]]


def _sequences() -> Sequences:
    ids, lengths = [], []
    for prompt, options in zip(PROMPTS, OPTIONS, strict=True):
        for option in options:
            ids.append(prompt + option)
            lengths.append(len(prompt))
    return Sequences(ids, lengths)


def _model(name: str):
    model = METHODS[name].apply(tiny_causal_lm(), METHODS[name].config())
    torch.manual_seed(1)
    with torch.no_grad():  # trained-looking weights: the method changes what the model says
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def test_prompt_groups_are_runs_of_identical_prompts():
    sequences = _sequences()
    assert prompt_groups(sequences) == [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]
    first_again = sequences.input_ids[:1]
    repeated = Sequences(sequences.input_ids + first_again, [*sequences.prompt_lengths, 6])
    assert prompt_groups(repeated)[-1] == [10]  # not next to its twin: its own group


@pytest.mark.parametrize("name", ["frozen", "lora", "ia3", "full", "bitfit", "adapter", "last_n"])
@pytest.mark.parametrize("max_tokens", [10_000, 12])  # one batch; one question per batch
def test_shared_prompt_scores_equal_one_sequence_per_option(name, max_tokens):
    model, sequences, cpu = _model(name), _sequences(), Accelerator(cpu=True)
    assert shares_prompts(model, sequences)
    expected, expected_counts = score(model, sequences, 0, cpu, max_rows=16)
    logprobs, counts = score_shared(model, sequences, 0, cpu, max_tokens, max_rows=16)
    np.testing.assert_allclose(logprobs, expected, rtol=1e-5, atol=1e-5)
    assert counts.tolist() == expected_counts.tolist() == [len(o) for q in OPTIONS for o in q]
    assert np.ptp(logprobs) > 0.1  # the options are told apart: the check is not vacuous


@pytest.mark.parametrize("name", ["prompt", "prefix"])
def test_prompt_learning_keeps_one_sequence_per_option(name):
    assert not shares_prompts(_model(name), _sequences())


def test_an_empty_prompt_keeps_one_sequence_per_option():
    assert not shares_prompts(_model("lora"), Sequences([[1, 2], [3]], [0, 0]))
