"""Multiple choice: each option scored by its log-likelihood as a continuation of the context.

Two accuracies, as lm-evaluation-harness reports them: `accuracy` picks the option with the
highest summed log-probability, `accuracy_norm` divides it by the option's length in
characters first (so long options are not penalised for having more tokens). Fine-tuning
trains the language-model loss on the right option's tokens, the same tokens that are scored.
A question's options share its tokens, so the question runs once for all of them
(`shared_prompts`), except under prompt learning.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from tunebench.families.causal_lm.scoring import CausalRun, train_loader
from tunebench.families.causal_lm.sequences import Renderer, Sequences
from tunebench.families.causal_lm.shared_prompts import score_continuations
from tunebench.families.context import RunContext
from tunebench.families.multiple_choice.data import ChoiceSplit
from tunebench.models.backbones import Backbone
from tunebench.training.metrics import with_rows


def prepare(context: RunContext, backbone: Backbone) -> CausalRun:
    data, spec, accelerator = context.data, context.spec, context.accelerator
    config = spec.training
    renderer = Renderer(backbone.tokenizer, "cloze")
    pad = backbone.tokenizer.pad_token_id
    train = renderer.encode(data.train.contexts, right_options(data.train), config.max_length)
    batches, loader = train_loader(train, config, spec.seed, pad)
    validation = option_sequences(data.validation, renderer, config.max_length)
    test = option_sequences(data.test, renderer, config.max_length)

    def scorer(split: ChoiceSplit, sequences: Sequences):
        def evaluate(model: nn.Module) -> dict:
            rows = config.eval_batch_size
            logprobs, _ = score_continuations(model, sequences, pad, accelerator, rows)
            return choice_accuracy(logprobs, split)

        return evaluate

    return CausalRun(batches, loader, scorer(data.validation, validation), scorer(data.test, test))


def right_options(split: ChoiceSplit) -> list[str]:
    """Each question's right option: what fine-tuning trains on."""
    return [opts[label] for opts, label in zip(split.options, split.labels, strict=True)]


def option_sequences(split: ChoiceSplit, renderer: Renderer, max_length: int) -> Sequences:
    """One sequence per (example, option), examples in order, options in order."""
    contexts = [c for c, opts in zip(split.contexts, split.options, strict=True) for _ in opts]
    options = [o for opts in split.options for o in opts]
    return renderer.encode(contexts, options, max_length)


def choice_accuracy(logprobs: np.ndarray, split: ChoiceSplit) -> dict:
    """Accuracy from raw and length-normalised option log-likelihoods (ties: first option)."""
    raw, normalised, start = [], [], 0
    for options in split.options:
        scores = logprobs[start : start + len(options)]
        characters = np.array([len(o) for o in options], dtype=np.float64)
        raw.append(int(np.argmax(scores)))
        normalised.append(int(np.argmax(scores / characters)))
        start += len(options)
    labels = np.asarray(split.labels)
    return {
        "accuracy": float(np.mean(np.asarray(raw) == labels)),
        "accuracy_norm": float(np.mean(np.asarray(normalised) == labels)),
        "examples": with_rows(
            {"prediction": raw, "prediction_norm": normalised, "label": split.labels}, split.ids
        ),
    }
