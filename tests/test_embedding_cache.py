"""The frozen pipeline's embedding cache: each distinct text reaches the backbone once."""

import numpy as np
import torch
from transformers import BertTokenizerFast

from tunebench.families.tabular.embeddings import EmbeddingCache, encode_with
from tunebench.models.fingerprint import weights_fingerprint
from tunebench.models.heads import TextEncoder

from tiny import tiny_bert


def fake_encoder(calls: list[list[str]]):
    def encode(texts):
        calls.append(list(texts))
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)

    return encode


def test_each_distinct_text_is_encoded_once_across_calls_and_processes(tmp_path):
    calls: list[list[str]] = []
    cache = EmbeddingCache(tmp_path, "encoder-1")
    first = cache.embed(["aa", "b", "aa", "ccc"], fake_encoder(calls))
    assert first.tolist() == [[2, 2], [1, 0], [2, 2], [3, 0]]
    assert calls == [["aa", "b", "ccc"]] and cache.texts_encoded == 3
    cache.embed(["b", "dd"], fake_encoder(calls))
    assert calls[-1] == ["dd"] and cache.texts_encoded == 4

    reopened = EmbeddingCache(tmp_path, "encoder-1")  # a later run, a new process
    again = reopened.embed(["ccc", "dd", "aa"], fake_encoder(calls))
    assert again.tolist() == [[3, 0], [2, 0], [2, 2]]
    assert reopened.texts_encoded == 0 and len(calls) == 2


def test_another_encoder_identity_misses(tmp_path):
    calls: list[list[str]] = []
    EmbeddingCache(tmp_path, "encoder-1").embed(["x"], fake_encoder(calls))
    other = EmbeddingCache(tmp_path, "encoder-2")
    other.embed(["x"], fake_encoder(calls))
    assert other.texts_encoded == 1 and len(calls) == 2


def test_fingerprint_follows_the_weights():
    model = tiny_bert()
    before = weights_fingerprint(model)
    assert weights_fingerprint(model) == before
    with torch.no_grad():
        model.encoder.layer[0].output.dense.bias[0] += 1
    assert weights_fingerprint(model) != before


def test_encode_with_matches_one_text_at_a_time(tmp_path):
    """Batched, padded, length-sorted encoding equals encoding each text alone."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c"]))
    tokenizer = BertTokenizerFast(vocab=str(vocab))
    model = tiny_bert()
    encode = encode_with(TextEncoder(model, "mean"), tokenizer, max_length=16, batch_size=2)
    texts = ["a b c a b", "c", "a a", "b c a"]
    together = encode(texts)
    alone = np.concatenate([encode([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert together.shape == (4, 32)
