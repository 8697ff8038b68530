"""Prompt + continuation sequences for a causal language model, and their log-likelihoods.

Every generative family reduces to this: a prompt (rendered with the backbone's chat template
when it has one) followed by a continuation (a response, an option, a chosen or rejected
answer) whose tokens alone are scored and trained on. Labels are -100 on prompt and padding
tokens, the convention of transformers' causal-LM loss and of peft, which gives its virtual
tokens -100 labels too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from transformers import PreTrainedTokenizerBase

IGNORE = -100
PromptFormat = Literal["chat", "plain", "cloze"]


@dataclass(frozen=True)
class Sequences:
    """Tokenised prompt + continuation pairs: `input_ids[i][:prompt_lengths[i]]` is the prompt."""

    input_ids: list[list[int]]
    prompt_lengths: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]

    def continuation_tokens(self) -> int:
        return sum(len(ids) - p for ids, p in zip(self.input_ids, self.prompt_lengths, strict=True))


class Renderer:
    """Turns prompts and continuations into token ids in one of three formats.

    `chat`: the prompt as a user turn of the tokenizer's chat template with the assistant turn
    opened; the continuation ends with the end-of-turn token. `plain`: the prompt, a newline,
    the continuation and the end-of-sequence token. `cloze`: context and continuation as they
    are, no special tokens (lm-evaluation-harness's multiple-choice convention). A prompt too
    long for `max_length` loses the end of its own text, never the template around it.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, prompt_format: PromptFormat):
        self.tokenizer = tokenizer
        self.format = prompt_format

    def prompt_ids(self, prompt: str) -> list[int]:
        if self.format == "chat":
            messages = [{"role": "user", "content": prompt}]
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        else:
            text = prompt + ("\n" if self.format == "plain" else "")
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def continuation_ids(self, continuation: str) -> list[int]:
        end = "" if self.format == "cloze" else (self.tokenizer.eos_token or "")
        return self.tokenizer(continuation + end, add_special_tokens=False)["input_ids"]

    def fitted_prompt_ids(self, prompt: str, budget: int) -> list[int]:
        """The rendered prompt in at most `budget` tokens, its text cut at the end if need be."""
        ids = self.prompt_ids(prompt)
        for _ in range(4):  # re-tokenising the cut text can differ by a token or two
            excess = len(ids) - budget
            if excess <= 0:
                return ids
            words = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            keep = max(len(words) - excess - 2, 0)
            prompt = self.tokenizer.decode(words[:keep])
            ids = self.prompt_ids(prompt)
        return ids[-budget:]  # the template alone is too long: keep its end (the turn opener)

    def encode(self, prompts: list[str], continuations: list[str], max_length: int) -> Sequences:
        """Prompt + continuation ids within `max_length`; a continuation keeps at least half."""
        input_ids, prompt_lengths = [], []
        for prompt, continuation in zip(prompts, continuations, strict=True):
            tail = self.continuation_ids(continuation)[: max(max_length // 2, 1)]
            head = self.fitted_prompt_ids(prompt, max_length - len(tail))
            input_ids.append(head + tail)
            prompt_lengths.append(len(head))
        return Sequences(input_ids, prompt_lengths)


def resolve_format(requested: str, tokenizer: PreTrainedTokenizerBase) -> PromptFormat:
    """`auto` -> chat when the tokenizer has a chat template, else plain."""
    if requested == "auto":
        return "chat" if tokenizer.chat_template else "plain"
    return requested  # type: ignore[return-value]


def collate(sequences: Sequences, rows: list[int], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids`, `attention_mask` and `labels` (-100 on prompt and padding)."""
    width = max(len(sequences.input_ids[i]) for i in rows)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for r, i in enumerate(rows):
        ids, prompt = sequences.input_ids[i], sequences.prompt_lengths[i]
        input_ids[r, : len(ids)] = torch.tensor(ids)
        attention_mask[r, : len(ids)] = 1
        labels[r, prompt : len(ids)] = torch.tensor(ids[prompt:])
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def token_budget_batches(lengths: list[int], max_tokens: int, max_rows: int) -> list[list[int]]:
    """Rows in batches of at most `max_tokens` padded tokens (and `max_rows` rows), longest
    first: an evaluation holds (rows x longest x vocabulary) logits, so the budget bounds its
    memory whatever the texts' lengths."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < max_rows:
            longest = lengths[batches[-1][0]]
            if longest * (len(batches[-1]) + 1) <= max_tokens:
                batches[-1].append(i)
                continue
        batches.append([i])
    return batches
