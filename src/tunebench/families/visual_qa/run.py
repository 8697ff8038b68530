"""A visual question answering run: the image-text model, the method on its language model,
training on the answers, and the test split answered and scored.

The vision encoder stays frozen, and so does the output head; the method applies to the
language model alone (`RunContext.apply_method_to_image_text`); the connector trains when the
method entry says `connector: trainable`. Each row's tokens are counted once (`Tokened`): they
group the training batches and place the labels. Validation (which picks the best epoch) is the
loss on the validation answers; the test split is answered greedily, or by the likeliest option
where a question has choices, and scored (answers.py), as is the test split of each of the
task's `eval_tasks` (other VQA files the model never trained on).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from tunebench.families.context import FamilyResult, RunContext
from tunebench.families.visual_qa.answers import answer_scores, summary
from tunebench.families.visual_qa.batches import (
    IGNORED,
    generate_answers,
    option_logprobs,
    row_tokens,
    training_batch,
)
from tunebench.families.visual_qa.data import VQASplit
from tunebench.models.image_text import image_text_parts, parameters_by_part
from tunebench.training.clock import elapsed
from tunebench.training.data import LengthGroupedBatches, eval_batches
from tunebench.training.metrics import with_rows


def train_and_test(context: RunContext) -> FamilyResult:
    spec, data, accelerator = context.spec, context.data, context.accelerator
    config = spec.training
    model, processor = context.image_text()
    model.requires_grad_(False)
    context.seed()  # the method's random initialisation
    model = context.apply_method_to_image_text(model, image_text_parts(model).language)
    parts = image_text_parts(model)
    language = parts.language
    if spec.options.get("connector") == "trainable":
        parts.connector.requires_grad_(True)
    model.to(accelerator.device)
    train, validation = (Tokened.of(processor, s) for s in (data.train, data.validation))
    batches = LengthGroupedBatches(
        train.totals, config.batch_size, spec.seed, config.group_by_length
    )
    loader = DataLoader(range(len(train.split)), batch_sampler=batches, collate_fn=train.batch)

    def validate(trained) -> dict:
        return {"loss": answer_loss(trained, validation, config.eval_batch_size)}

    outcome = context.fit(model, batches, loader, validate)
    started = time.perf_counter()
    test = evaluate(model, processor, data.test, spec.task.max_new_tokens, config.eval_batch_size)
    test_seconds = elapsed(started)
    costs = {"parameters_by_part": parameters_by_part(model, image_text_parts(model))}
    metrics = {"validation": outcome.best_validation, "test": test}
    started, others = time.perf_counter(), spec.task.transfer_tasks()
    if others:
        metrics["transfer"] = {
            other.name: evaluate(
                model,
                processor,
                context.family.load(other).test,
                other.max_new_tokens,
                config.eval_batch_size,
            )
            for other in others
        }
        costs["transfer_seconds"] = elapsed(started)
    return FamilyResult(metrics, outcome, model, language, test_seconds, costs=costs)


@dataclass(frozen=True)
class Tokened:
    """A split with each row's prompt and total tokens (`row_tokens`), counted once."""

    processor: Any
    split: VQASplit
    prompts: list[int]
    totals: list[int]

    @classmethod
    def of(cls, processor: Any, split: VQASplit) -> Tokened:
        counts = row_tokens(processor, split.images, split.questions, split.answers)
        return cls(processor, split, *counts)

    def batch(self, rows: list[int]) -> dict[str, torch.Tensor]:
        """The training batch of `rows` (`training_batch`), labels placed by the counts."""
        part = self.split.take(rows)
        prompts = [self.prompts[i] for i in rows]
        return training_batch(self.processor, part.images, part.questions, part.answers, prompts)


@torch.inference_mode()
def answer_loss(model, tokened: Tokened, rows: int) -> float:
    """The mean loss per answer token over the split, in length-sorted batches of `rows`."""
    model.eval()
    total, tokens = 0.0, 0
    for rows_in_batch in eval_batches(tokened.totals, rows):
        batch = {k: v.to(model.device) for k, v in tokened.batch(rows_in_batch).items()}
        counted = int((batch["labels"][:, 1:] != IGNORED).sum())
        total += model(**batch).loss.item() * counted
        tokens += counted
    return total / max(tokens, 1)


def evaluate(model, processor, split: VQASplit, max_new_tokens: int, rows: int) -> dict:
    """Answers to every test question (generated, or the likeliest choice) and their scores,
    with the per-example values the bootstrap resamples."""
    open_rows = [i for i, c in enumerate(split.choices) if c is None]
    started = time.perf_counter()
    generated = generate_answers(
        model,
        processor,
        [split.images[i] for i in open_rows],
        [split.questions[i] for i in open_rows],
        max_new_tokens,
        rows,
    )
    predictions = dict(zip(open_rows, generated, strict=True))
    seconds = elapsed(started)
    for i, options in enumerate(split.choices):
        if options is not None:
            scores = option_logprobs(model, processor, split.images[i], split.questions[i], options)
            predictions[i] = options[max(range(len(options)), key=scores.__getitem__)]
    answered = [predictions[i] for i in range(len(split))]
    per_example = answer_scores(answered, split.answers)
    metrics = {k: v for k, v in summary(per_example).items() if v is not None}
    metrics["generation_seconds"] = seconds
    metrics["samples"] = [
        {"question": q, "reference": r, "generated": g}
        for q, r, g in zip(split.questions[:3], split.answers, answered, strict=False)
    ]
    metrics["examples"] = with_rows(per_example, split.ids)
    return metrics
