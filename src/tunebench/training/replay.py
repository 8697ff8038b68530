"""A probe's training batches: the run's own optimiser steps that grow its memory, in order.

A run's peak host memory on CPU is more than its largest batch's activations: each batch
larger than every one before it needs blocks the allocator does not have yet, and glibc keeps
the heap the smaller ones left behind. Measured, MiniLM-L6 LoRA on 1,000 SMS messages
(batch 16, length 128) peaks at 1,660-1,760 MB, of which ~950 MB is heap grown at the steps
that set a new largest batch; a probe of five batches from 80 other rows peaked at 1,296 MB,
and replaying the run's own record-setting steps at 1,547 MB. With a fixed mmap threshold
the growth disappears (1,190 MB) but training is 35% slower, so the plan models the heap
tunebench really runs with, and the probe replays what grows it.

`replaying_growth` makes every `LengthGroupedBatches` built inside it yield, in every epoch,
the steps of its first epoch that set a new largest batch (padded tokens), topped up with
the first other steps to at least `minimum` — the same steps each epoch, so that the second
epoch times the first epoch's shapes warm.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MINIMUM_STEPS = 5
"""Steps a probe epoch replays at least: four timed after the first."""

_REPLAY: ContextVar[tuple[int, int] | None] = ContextVar("replay", default=None)
"""(gradient accumulation steps, minimum steps) while replaying; None in every real run."""


@contextmanager
def replaying_growth(accumulate: int, minimum: int = MINIMUM_STEPS) -> Iterator[None]:
    token = _REPLAY.set((accumulate, minimum))
    try:
        yield
    finally:
        _REPLAY.reset(token)


def replay_settings() -> tuple[int, int] | None:
    return _REPLAY.get()


def optimiser_steps(batches: list[list[int]], accumulate: int) -> list[list[list[int]]]:
    """`batches` grouped into optimiser steps of `accumulate` batches each."""
    return [batches[i : i + accumulate] for i in range(0, len(batches), accumulate)]


def growth_steps(
    batches: list[list[int]], lengths: list[int], accumulate: int, minimum: int
) -> list[list[list[int]]]:
    """The optimiser steps (each `accumulate` batches of example indices) of `batches` that
    set a new largest batch in padded tokens, plus the first others up to `minimum` steps, in
    their order."""
    steps = optimiser_steps(batches, accumulate)
    largest, kept = 0, []
    for index, step in enumerate(steps):
        size = max(len(batch) * max(lengths[i] for i in batch) for batch in step)
        if size > largest:
            largest = size
            kept.append(index)
    others = [i for i in range(len(steps)) if i not in frozenset(kept)]
    chosen = sorted(kept + others[: max(minimum - len(kept), 0)])
    return [steps[i] for i in chosen]
