"""Visual question answering batches: the image and question in the processor's chat prompt,
the answer after it, and the loss on the answer's tokens only.

Each example is rendered with the processor's chat template (a user turn holding the image
and the question, then the assistant's turn opened) and the answer plus the tokenizer's end
of sequence appended. The processor builds a whole batch at once — it expands the image
placeholder into the model's image tokens and makes `pixel_values` and whatever else the
architecture needs (Idefics3's pixel mask, Qwen2-VL's image grid) — padded on the right.
Labels are the input ids with everything but the answer and its end token set to -100; the
prompt's length is counted by processing the prompts alone with the same images. Nothing is
truncated: cutting a sequence could cut its image tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from tunebench.families.causal_lm.prompt_generation import translated_cache

IGNORED = -100
"""The label cross-entropy leaves out."""


def prompt_text(processor: Any, question: str) -> str:
    """The chat prompt asking `question` about one image, ready for the answer."""
    message = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}
    return processor.apply_chat_template([message], add_generation_prompt=True, tokenize=False)


def open_images(paths: list[Path]) -> list[Image.Image]:
    """The images as RGB (a PNG with transparency or a greyscale scan included)."""
    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def row_tokens(
    processor: Any, paths: list[Path], questions: list[str], answers: list[str]
) -> tuple[list[int], list[int]]:
    """(prompt tokens, prompt + answer + end tokens) of each row, the prompt's with the image
    tokens the processor expands its placeholder into, one row at a time (an image's count
    can depend on its size). Counted once per run: they group the batches by length, place
    the labels, and are what `tunebench plan` scales by."""
    tokenizer = processor.tokenizer
    prompts, totals = [], []
    for path, question, answer in zip(paths, questions, answers, strict=True):
        text = [prompt_text(processor, question)]
        prompt = processor(text=text, images=open_images([path]))["input_ids"][0]
        ending = tokenizer(answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        prompts.append(len(prompt))
        totals.append(len(prompt) + len(ending))
    return prompts, totals


def training_batch(
    processor: Any,
    paths: list[Path],
    questions: list[str],
    answers: list[str],
    prompt_lengths: list[int] | None = None,
) -> dict[str, torch.Tensor]:
    """The processor's batch of prompt + answer + end of sequence, right-padded, with `labels`
    on the answer and end tokens alone; each row's prompt tokens are `prompt_lengths` (from
    `row_tokens`), else counted by processing the prompts alone. Shapes: input_ids,
    attention_mask, labels (batch, width); pixel_values as the processor makes them."""
    images = open_images(paths)
    prompts = [prompt_text(processor, q) for q in questions]
    end = processor.tokenizer.eos_token
    texts = [p + a + end for p, a in zip(prompts, answers, strict=True)]
    processor.tokenizer.padding_side = "right"
    batch = processor(text=texts, images=images, padding=True, return_tensors="pt")
    if prompt_lengths is None:
        alone = processor(text=prompts, images=images, padding=True, return_tensors="pt")
        prompt_lengths = alone["attention_mask"].sum(dim=1).tolist()
    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = IGNORED
    for row, length in enumerate(prompt_lengths):
        labels[row, :length] = IGNORED
    return {**batch, "labels": labels}


@torch.inference_mode()
def generate_answers(
    model: Any,
    processor: Any,
    paths: list[Path],
    questions: list[str],
    max_new_tokens: int,
    rows_per_batch: int,
) -> list[str]:
    """Greedy answers, `rows_per_batch` questions at a time, left-padded so that every prompt
    ends where its answer starts; the new tokens decoded without special tokens."""
    model.eval()
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "left"
    answers = []
    for start in range(0, len(paths), rows_per_batch):
        end = start + rows_per_batch
        prompts = [prompt_text(processor, q) for q in questions[start:end]]
        inputs = processor(
            text=prompts, images=open_images(paths[start:end]), padding=True, return_tensors="pt"
        ).to(model.device)
        with translated_cache(model):  # prompt learning generates with its tokens
            generated = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        new = generated[:, inputs["input_ids"].shape[1] :]
        answers.extend(t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True))
    return answers


@torch.inference_mode()
def option_logprobs(model: Any, processor: Any, path: Path, question: str, options: list[str]):
    """The summed log-probability of each option (its tokens and the end token) as the answer
    to `question` about the image at `path`: one batch of the options."""
    model.eval()
    batch = training_batch(processor, [path] * len(options), [question] * len(options), options)
    batch = {k: v.to(model.device) for k, v in batch.items()}
    labels = batch.pop("labels")
    width = labels.shape[1]  # prompt tuning's virtual tokens come first in the logits
    logits = model(**batch).logits[:, -width:-1].float()
    targets = labels[:, 1:]
    scored = targets != IGNORED
    picked = logits.log_softmax(-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * scored).sum(dim=1).tolist()
