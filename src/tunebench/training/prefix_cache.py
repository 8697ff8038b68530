"""Skip the frozen bottom of the network after the first epoch.

When nothing below transformer block k trains — `frozen` (k = every block) and `last_n`
(k = blocks - n) leave the embeddings and blocks 0..k-1 without a trainable weight — block
k-1's output for a training example is the same in every epoch, provided nothing random runs
below it. So:

1. **The rule.** The frozen prefix (embeddings and blocks 0..k-1) runs in eval mode while the
   model trains: no dropout in blocks that do not train. This holds with or without the cache,
   so the cache never changes what is computed.
2. **The cache.** In the first epoch block k-1's output is recorded per training and per
   validation example (its real tokens only); from then on a batch whose examples are all
   recorded skips the prefix's blocks and hands the recorded states to block k. The prefix is
   frozen and in eval mode in both cases, so its output does not depend on the epoch. The test
   split, evaluated once, never uses it.

Results equal the uncached run up to floating-point rounding (a batch padded to a different
width may round differently): tests/test_prefix_cache.py. Methods with anything trainable at
the input (prompt, prefix, full, bitfit, lora on every block, ...) get neither.
"""

from __future__ import annotations

import types

import torch
from torch import nn

MAX_CACHE_BYTES = 4 * 2**30
"""Above this estimated size the cache is not kept (the rule still applies)."""


def first_trainable_block(model: nn.Module, layers: nn.ModuleList) -> int:
    """Index of the lowest block with a trainable weight: `len(layers)` if none has one, 0 if
    anything at the input trains (embeddings, soft prompts, prefixes). A classification head
    and a final norm after the blocks do not count."""
    block_of = {id(p): i for i, block in enumerate(layers) for p in block.parameters()}
    lowest = len(layers)
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if id(parameter) in block_of:
            lowest = min(lowest, block_of[id(parameter)])
        elif "classifier" not in name and "norm" not in name:
            return 0
    return lowest


class PrefixCache:
    """Installs the rule (and, if `cache`, the cache) on `model` for one training run; the
    training batches must carry `example_index` (popped here before the model sees it)."""

    def __init__(self, model: nn.Module, layers: nn.ModuleList, train_tokens: int, cache: bool):
        self.depth = first_trainable_block(model, layers)
        self.prefix = [*_embedding_modules(model), *layers[: self.depth]]
        self.states: dict[int, torch.Tensor] = {}
        self.batch: list[int] | None = None
        self.mask: torch.Tensor | None = None
        self.returns_tuple = False
        self.train_tokens = train_tokens
        self.skipped_tokens = 0
        """Padded training tokens whose prefix forward pass came from the cache."""
        self.training = False
        self._rule = model.register_forward_pre_hook(self._before, with_kwargs=True)
        self._patched = list(layers[: self.depth]) if cache else []
        self._recorder = None
        if self._patched:
            self._recorder = self._patched[-1].register_forward_hook(self._record)
            for block in self._patched:
                last = block is self._patched[-1]
                block.forward = types.MethodType(_skipping(block.forward, self, last), block)

    def remove(self) -> None:
        """Undo the rule, the hooks and the patches (once; later calls do nothing)."""
        self._rule.remove()
        self._drop_cache()

    def _drop_cache(self) -> None:
        """Undo the cache's hook and patches and free its states; the rule stays."""
        if self._recorder is not None:
            self._recorder.remove()
        for block in self._patched:
            del block.forward  # back to the class's own forward
        self._recorder, self._patched = None, []
        self.states.clear()

    def _before(self, module: nn.Module, args: tuple, kwargs: dict):
        """Every forward: the prefix in eval mode while training; this batch's example keys."""
        index = kwargs.pop("example_index", None)
        self.training = module.training
        if module.training and index is not None:
            for part in self.prefix:
                part.eval()
        self.batch = index.tolist() if index is not None and self._patched else None
        self.mask = kwargs.get("attention_mask")
        return args, kwargs

    def cached(self) -> bool:
        return self.batch is not None and all(i in self.states for i in self.batch)

    def _record(self, block: nn.Module, args: tuple, output) -> None:
        self.returns_tuple = isinstance(output, tuple)
        if self.batch is None or self.cached():
            return
        hidden = output[0] if self.returns_tuple else output
        if hidden.element_size() * hidden.shape[-1] * self.train_tokens > MAX_CACHE_BYTES:
            self._drop_cache()  # too large to keep: the rule alone applies
            return
        for row, length in enumerate(self.mask.sum(dim=1).tolist()):
            self.states[self.batch[row]] = hidden[row, :length].detach().clone()

    def stacked(self, like: torch.Tensor) -> torch.Tensor:
        """The batch's recorded states, right-padded with zeros to `like`'s width."""
        if self.training:
            self.skipped_tokens += like.shape[0] * like.shape[1]
        out = like.new_zeros(like.shape)
        for row, index in enumerate(self.batch):
            state = self.states[index]
            out[row, : state.shape[0]] = state
        return out


def _embedding_modules(model: nn.Module) -> list[nn.Module]:
    """The embedding layers (BERT's `embeddings`, with its dropout; a decoder's token table)."""
    found = [m for m in model.modules() if type(m).__name__.endswith("Embeddings")]
    return found[:1] or [m for m in model.modules() if isinstance(m, nn.Embedding)][:1]


def _skipping(forward, cache: PrefixCache, last: bool):
    """A block's forward that, for a batch whose states are recorded, does no work: the blocks
    below the last one pass their input on, the last one returns the recorded states."""

    def skip(self, hidden_states, *args, **kwargs):
        if not cache.cached():
            return forward(hidden_states, *args, **kwargs)
        out = cache.stacked(hidden_states) if last else hidden_states
        return (out,) if cache.returns_tuple else out

    return skip
