"""A backbone's shape without its weights: the names of its modules and its number of blocks,
so that method settings naming modules or blocks are checked when a study loads, not after it
starts (for an image-text model, of its language model: what a method sees). It comes from a
model built on the meta device (no memory for weights), which needs
transformers' model code: about 10 s to import on a 2-core machine. So each shape is kept in
the cache, keyed by the config file's bytes and the transformers version, and a study on a
backbone seen before is checked in well under a second."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from tunebench import assets
from tunebench.models.locate import config_file

SHAPE_FORMAT = 2
"""Part of the cache key: raise it when what a shape holds or how it is built changes."""


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
    """The shape, from the cache or built (remote code is always built: it may change)."""
    config = config_file(name)
    key = f"{SHAPE_FORMAT}:{version('transformers')}:".encode() + config.read_bytes()
    cached = assets.cache_dir() / "shapes" / f"{hashlib.sha256(key).hexdigest()[:32]}.json"
    if cached.is_file() and not trust_remote_code:
        fields = json.loads(cached.read_text())
        return Shape(tuple(fields["modules"]), tuple(fields["weight_layers"]), fields["blocks"])
    shape = _built(name, trust_remote_code)
    if not trust_remote_code:
        _keep(cached, json.dumps(dataclasses.asdict(shape)))
    return shape


def _built(name: str, trust_remote_code: bool) -> Shape:
    import torch
    from transformers import AutoModel

    from tunebench.models.backbones import load_config  # transformers: only on a cache miss

    config = load_config(name, trust_remote_code)
    config = config.get_text_config()  # an image-text model's: the methods see its LM alone
    with torch.device("meta"):
        model = AutoModel.from_config(config, trust_remote_code=trust_remote_code)
    names = tuple(n for n, _ in model.named_modules() if n)
    weighted = {
        n.rsplit(".", 1)[-1]
        for n, m in model.named_modules()
        if getattr(getattr(m, "weight", None), "ndim", 0) == 2 and type(m).__name__ != "Embedding"
    }
    return Shape(names, tuple(sorted(weighted)), int(getattr(config, "num_hidden_layers", 0)))


def _keep(path: Path, text: str) -> None:
    """Write the cache file whole (another process may read it at once); a cache that cannot be
    written only means the next study builds the shape again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(staging, path)
    except OSError:
        return


def unmatched_modules(config: object, fields: tuple[str, ...], shape: Shape) -> str | None:
    """What a method's module-name settings (`fields` of `config`) name that the backbone
    lacks, with the names it has; None when every name matches."""
    for name in fields:
        missing = unmatched(getattr(config, name), shape)
        if missing:
            return (
                f"{name} {missing} match no module of the backbone; its layers with weights "
                f"are named {', '.join(shape.weight_layers)}"
            )
    return None


def unmatched(targets: list[str] | None, shape: Shape) -> list[str]:
    """Those of `targets` that name no module, by peft's rule: a module matches a target when
    its name is the target or ends with "." + target."""
    return [
        t for t in targets or [] if not any(n == t or n.endswith(f".{t}") for n in shape.modules)
    ]
