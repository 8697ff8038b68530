"""Text embeddings computed once per distinct text and kept on disk.

In the frozen pipeline the language model never changes, so a text's embedding never changes:
embed every distinct text once (longest first, padded only to the batch's longest), store it,
and let every downstream epoch, model and seed read the stored vectors. The cache key is the
identity of the frozen encoder (its weights' fingerprint, pooling, max length) plus the text's
sha256; entries are safetensors files, never pickles.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from tunebench.training.data import eval_batches, pad_right, tokenize

Encode = Callable[[list[str]], np.ndarray]
"""texts -> (len(texts), width) float32 embeddings"""


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """One folder per encoder identity; each `embed` call appends one shard of new vectors."""

    def __init__(self, root: Path, identity: str):
        self.folder = root / hashlib.sha256(identity.encode()).hexdigest()[:24]
        self.texts_encoded = 0  # what the backbone actually saw through this object
        self._vectors: dict[bytes, np.ndarray] = {}
        self._load()

    def _load(self) -> None:
        for shard in sorted(self.folder.glob("*.safetensors")):
            tensors = load_file(shard)
            for key, vector in zip(tensors["keys"], tensors["vectors"], strict=True):
                self._vectors[key.tobytes()] = vector

    def embed(self, texts: Sequence[str], encode: Encode) -> np.ndarray:
        """Embeddings of `texts` in order; only texts never seen by this encoder are encoded."""
        keys = [text_key(text) for text in texts]
        missing = list({k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors})
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            new_texts = [by_key[k] for k in missing]
            # C order: safetensors 0.8 writes other layouts' raw memory (its issue #825)
            vectors = np.ascontiguousarray(encode(new_texts), dtype=np.float32)
            self.texts_encoded += len(new_texts)
            self._store(missing, vectors)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys])

    def _store(self, keys: list[bytes], vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        shard = self.folder / f"{uuid.uuid4().hex}.safetensors"
        staging = shard.with_suffix(".tmp")
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32)
        save_file({"keys": key_array, "vectors": vectors}, str(staging))
        staging.rename(shard)  # a shard is either whole or absent
        self._vectors.update(zip(keys, vectors, strict=True))


def encode_with(
    encoder: torch.nn.Module,
    tokenizer,
    max_length: int,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> Encode:
    """An `Encode` that runs a `TextEncoder` (any method applied, as trained) over length-sorted
    batches: the frozen pipeline's pretrained encoder and two-step's fine-tuned one alike."""

    @torch.inference_mode()
    def encode(texts: list[str]) -> np.ndarray:
        encoder.eval()
        ids = tokenize(tokenizer, texts, max_length)["input_ids"]
        out: np.ndarray | None = None
        for indices in eval_batches([len(row) for row in ids], batch_size):
            input_ids, mask = pad_right([ids[i] for i in indices], tokenizer.pad_token_id)
            pooled = encoder(input_ids=input_ids.to(device), attention_mask=mask.to(device))
            if out is None:
                out = np.zeros((len(texts), pooled.shape[-1]), dtype=np.float32)
            out[indices] = pooled.float().cpu().numpy()
        assert out is not None, "encode needs at least one text"
        return out

    return encode
