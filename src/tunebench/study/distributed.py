"""One study on several devices: `accelerate launch -m tunebench.cli run study.yaml`.

Every process runs the same study — the same runs in the same order — and each run trains
data-parallel (DDP) through accelerate: its training batches are sharded across the processes
and gradients are all-reduced. Evaluation runs whole on every process, so all of them agree on
the best epoch and on early stopping. Only the main process writes the results store, talks
to trackers and prints; the others read the store (to agree on what is left to run) and
otherwise follow.
"""

from __future__ import annotations

import torch
from accelerate import PartialState

from tunebench.store import ResultsStore


def process_state() -> PartialState:
    """This process's place among those `accelerate launch` started (one, without it)."""
    return PartialState(cpu=not torch.cuda.is_available())


class FollowerStore:
    """A non-main process's view of the results store: it reads, the main process writes."""

    def __init__(self, store: ResultsStore):
        self._store = store

    def claim(self, *args, **kwargs) -> str:
        return "claimed"  # the main process claims the run every process trains

    def heartbeat(self, *args, **kwargs) -> None:
        pass

    def finish(self, *args, **kwargs) -> bool:
        return True

    def __getattr__(self, name: str):
        return getattr(self._store, name)
