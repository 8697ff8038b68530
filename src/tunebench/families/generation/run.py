"""Generation tasks: supervised fine-tuning on responses, scored by perplexity and by greedy
generations (ROUGE-1 / 2 / L, and exact match where answers are short).

Training minimises the language-model loss on response tokens only. Validation (which picks the
best epoch) is perplexity alone; the test split adds generations, bounded by the task's
`max_new_tokens`, since generating is the expensive part on a CPU.
"""

from __future__ import annotations

import re
import string
import time

import numpy as np
import torch
from accelerate import Accelerator
from rouge_score import rouge_scorer
from torch import nn
from transformers import GenerationConfig

from tunebench.families.causal_lm.prompt_generation import translated_cache
from tunebench.families.causal_lm.scoring import (
    EVAL_TOKENS_PER_BATCH,
    CausalRun,
    perplexity,
    score,
    train_loader,
)
from tunebench.families.causal_lm.sequences import (
    Renderer,
    collate,
    resolve_format,
    token_budget_batches,
)
from tunebench.families.context import RunContext
from tunebench.families.generation.data import GenerationSplit
from tunebench.models.backbones import Backbone
from tunebench.training.clock import elapsed
from tunebench.training.metrics import with_rows

ROUGE = ("rouge1", "rouge2", "rougeL")
SAMPLES_KEPT = 3


def prepare(context: RunContext, backbone: Backbone) -> CausalRun:
    data, spec, accelerator = context.data, context.spec, context.accelerator
    tokenizer, config = backbone.tokenizer, spec.training
    renderer = Renderer(tokenizer, resolve_format(spec.task.prompt_format, tokenizer))
    pad = tokenizer.pad_token_id

    def encode(split: GenerationSplit):
        return renderer.encode(split.prompts, split.responses, config.max_length)

    train, validation, test = encode(data.train), encode(data.validation), encode(data.test)

    def keyed(rows: list[int]) -> dict:
        """A training batch with its prefix-cache keys (validation's come after them)."""
        return {**collate(train, rows, pad), "example_index": torch.tensor(rows)}

    batches, loader = train_loader(train, config, spec.seed, pad, keyed)

    def validate(model: nn.Module) -> dict:
        rows = config.eval_batch_size
        return perplexity(*score(model, validation, pad, accelerator, rows, len(train)))

    def evaluate(model: nn.Module) -> dict:
        logprobs, counts = score(model, test, pad, accelerator, config.eval_batch_size)
        metrics = perplexity(logprobs, counts)
        examples = {"nll": (-logprobs).tolist(), "tokens": counts.tolist()}
        if spec.task.generate:
            started = time.perf_counter()
            generated = generate(
                model, renderer, data.test.prompts, config, data.max_new_tokens, accelerator
            )
            metrics["generation_seconds"] = elapsed(started)
            scores = generation_scores(generated, data.test.responses, data.exact_match)
            metrics.update({name: float(np.mean(values)) for name, values in scores.items()})
            examples.update(scores)
            metrics["samples"] = [
                {"reference": r, "generated": g}
                for r, g in zip(data.test.responses[:SAMPLES_KEPT], generated, strict=False)
            ]
        metrics["examples"] = with_rows(examples, data.test.ids)
        return metrics

    cached_tokens = sum(train.lengths()) + sum(validation.lengths())
    return CausalRun(batches, loader, validate, evaluate, prefix_tokens=cached_tokens)


@torch.inference_mode()
def generate(
    model: nn.Module,
    renderer: Renderer,
    prompts: list[str],
    config,
    max_new_tokens: int,
    accelerator: Accelerator,
) -> list[str]:
    """Greedy continuations of each prompt, left-padded in token-budget batches, with the
    key/value cache (one new token per step after the prompt)."""
    model.eval()
    tokenizer = renderer.tokenizer
    prompt_ids = [renderer.fitted_prompt_ids(p, config.max_length) for p in prompts]
    settings = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    lengths = [len(ids) + max_new_tokens for ids in prompt_ids]
    outputs = [""] * len(prompts)
    for rows in token_budget_batches(lengths, EVAL_TOKENS_PER_BATCH, config.eval_batch_size):
        width = max(len(prompt_ids[i]) for i in rows)
        input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for r, i in enumerate(rows):  # left padding: every prompt ends where generation starts
            input_ids[r, width - len(prompt_ids[i]) :] = torch.tensor(prompt_ids[i])
            attention_mask[r, width - len(prompt_ids[i]) :] = 1
        with accelerator.autocast(), translated_cache(model):
            sequences = model.generate(
                input_ids=input_ids.to(accelerator.device),
                attention_mask=attention_mask.to(accelerator.device),
                generation_config=settings,
            )
        for r, i in enumerate(rows):
            new = sequences[r, width:]
            outputs[i] = tokenizer.decode(new, skip_special_tokens=True).strip()
    return outputs


def generation_scores(
    generated: list[str], references: list[str], exact_match: bool
) -> dict[str, list[float]]:
    """Per example: ROUGE F-measures (Google's rouge-score, Porter stemming), in [0, 1], and
    exact match after SQuAD-style normalisation when the task's answers are short."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE), use_stemmer=True)
    scores = [scorer.score(ref, gen) for ref, gen in zip(references, generated, strict=True)]
    per_example = {name: [s[name].fmeasure for s in scores] for name in ROUGE}
    if exact_match:
        per_example["exact_match"] = [
            float(normalise(g) == normalise(r)) for g, r in zip(generated, references, strict=True)
        ]
    return per_example


def normalise(text: str) -> str:
    """Lower case, no punctuation, articles or extra spaces (SQuAD's answer normalisation)."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())
