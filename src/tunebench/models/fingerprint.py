"""A model's identity for caches: what it computes depends on its weights, not on its name."""

from __future__ import annotations

import hashlib

import torch


def weights_fingerprint(model: torch.nn.Module) -> str:
    """sha256 over every parameter's name, shape and bytes: changes whenever the weights do.
    Hashes each tensor's memory in place (no copy of the model on the host)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy())
    return digest.hexdigest()
