"""The two plain scripts tunebench is measured against, on the model tunebench builds.

Both build the same classifier (tunebench's `SequenceClassifier` on the same backbone, the same
method applied, the same seed before initialisation), so what differs is only how it is trained:

- `trainer`: the good-practice script — Hugging Face `Trainer` with `DataCollatorWithPadding`
  (random batches padded to their longest text), AdamW, linear schedule with warm-up, the same
  gradient clipping; no evaluation until the end.
- `maxlen`: the seed-002-style script — every text padded to `max_length`, a plain PyTorch loop.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, get_scheduler
from transformers import set_seed as hf_set_seed

from tunebench.families.registry import load_task
from tunebench.methods import METHODS
from tunebench.models.backbones import load_backbone
from tunebench.models.heads import SequenceClassifier
from tunebench.study.spec import RunSpec


@dataclass(frozen=True)
class BaselineResult:
    samples_per_s: float
    train_seconds: float
    test_accuracy: float


def build(spec: RunSpec):
    """The classifier tunebench would train for `spec`, and the task and tokenizer."""
    task = load_task(spec.task)
    backbone = load_backbone(spec.backbone)
    hf_set_seed(spec.seed)
    pooling = backbone.default_pooling if spec.training.pooling == "auto" else spec.training.pooling
    classifier = SequenceClassifier(backbone.model, task.num_labels, pooling)
    model = METHODS[spec.method.name].apply(classifier, spec.method, backbone.path)
    return model, task, backbone.tokenizer


def trainer_arguments(folder: str, spec: RunSpec, **extra) -> TrainingArguments:
    """The Trainer's settings for `spec`'s training: its batch, epochs, learning rate, linear
    schedule with warm-up, clipping, seed and compile setting; no evaluation, saving or logging
    while it trains (nor does tunebench count those in its training time)."""
    training = spec.training
    return TrainingArguments(
        output_dir=folder,
        per_device_train_batch_size=training.batch_size,
        num_train_epochs=training.epochs,
        learning_rate=training.learning_rate,
        weight_decay=training.weight_decay,
        lr_scheduler_type="linear",
        warmup_steps=training.warmup_ratio,  # transformers 5: a float below 1 is a ratio
        max_grad_norm=training.max_grad_norm,
        seed=spec.seed,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        torch_compile=training.compile,
        **extra,
    )


def trainer_baseline(spec: RunSpec) -> BaselineResult:
    model, task, tokenizer = build(spec)
    training = spec.training
    train = _tokenised(task.train, tokenizer, training.max_length, padding=False)
    test = _tokenised(task.test, tokenizer, training.max_length, padding=False)
    with tempfile.TemporaryDirectory() as folder:
        arguments = trainer_arguments(
            folder, spec, per_device_eval_batch_size=training.eval_batch_size
        )
        trainer = Trainer(
            model=model,
            args=arguments,
            train_dataset=train,
            data_collator=DataCollatorWithPadding(tokenizer),
        )
        result = trainer.train()
        logits = trainer.predict(test).predictions
    seconds = result.metrics["train_runtime"]
    return BaselineResult(
        len(train) * training.epochs / seconds, seconds, _accuracy(logits, task.test.labels)
    )


def maxlen_baseline(spec: RunSpec) -> BaselineResult:
    model, task, tokenizer = build(spec)
    training = spec.training
    train = _tokenised(task.train, tokenizer, training.max_length, padding="max_length")
    test = _tokenised(task.test, tokenizer, training.max_length, padding="max_length")
    collate = DataCollatorWithPadding(tokenizer)
    generator = torch.Generator().manual_seed(spec.seed)
    loader = DataLoader(
        train, batch_size=training.batch_size, shuffle=True, collate_fn=collate, generator=generator
    )
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        parameters, lr=training.learning_rate, weight_decay=training.weight_decay
    )
    steps = len(loader) * training.epochs
    schedule = get_scheduler("linear", optimizer, int(training.warmup_ratio * steps), steps)
    model.train()
    started = time.perf_counter()
    for _ in range(training.epochs):
        for batch in loader:
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, training.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
    seconds = time.perf_counter() - started
    model.eval()
    logits = []
    with torch.no_grad():
        for batch in DataLoader(test, batch_size=training.eval_batch_size, collate_fn=collate):
            batch.pop("labels")
            logits.append(model(**batch).logits)
    accuracy = _accuracy(torch.cat(logits).numpy(), task.test.labels)
    return BaselineResult(len(train) * training.epochs / seconds, seconds, accuracy)


def _tokenised(split, tokenizer, max_length: int, padding) -> list[dict]:
    encoded = tokenizer(
        split.texts, split.text_pairs, truncation=True, max_length=max_length, padding=padding
    )
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    return [
        {**{k: encoded[k][i] for k in keys}, "labels": label}
        for i, label in enumerate(split.labels)
    ]


def _accuracy(logits: np.ndarray, labels: list[int]) -> float:
    return float((np.asarray(logits).argmax(-1) == np.asarray(labels)).mean())
