"""A backbone's shape without its weights: the names of its modules and its number of blocks,
from a model built on the meta device (no memory for weights, well under a second), so that
method settings naming modules or blocks are checked when a study loads, not after it starts."""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    modules: tuple[str, ...]
    """Every module's dotted name."""
    weight_layers: tuple[str, ...]
    """The last name of every module holding a weight matrix (linear, Conv1D): what
    `target_modules` settings name."""
    blocks: int


@functools.lru_cache(maxsize=8)
def backbone_shape(name: str, trust_remote_code: bool = False) -> Shape:
    import torch
    from transformers import AutoModel

    from tunebench.models.backbones import load_config  # transformers: only when a study runs

    config = load_config(name, trust_remote_code)
    with torch.device("meta"):
        model = AutoModel.from_config(config, trust_remote_code=trust_remote_code)
    names = tuple(n for n, _ in model.named_modules() if n)
    weighted = {
        n.rsplit(".", 1)[-1]
        for n, m in model.named_modules()
        if getattr(getattr(m, "weight", None), "ndim", 0) == 2 and type(m).__name__ != "Embedding"
    }
    return Shape(names, tuple(sorted(weighted)), int(getattr(config, "num_hidden_layers", 0)))


def unmatched(targets: list[str] | None, shape: Shape) -> list[str]:
    """Those of `targets` that name no module, by peft's rule: a module matches a target when
    its name is the target or ends with "." + target."""
    return [
        t for t in targets or [] if not any(n == t or n.endswith(f".{t}") for n in shape.modules)
    ]
