"""Pooling turns a text's hidden states into one embedding: mean, CLS or last real token, and the
backbone's own choice by default (a sentence-transformers config, or the last token for
decoders)."""

import json

import pytest
import torch

from tunebench.models.backbones import _default_pooling, load_backbone
from tunebench.models.heads import pool


def states() -> tuple[torch.Tensor, torch.Tensor]:
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])  # row 1: two real tokens, right-padded
    return hidden, mask


def test_cls_mean_and_last_by_hand():
    hidden, mask = states()
    torch.testing.assert_close(pool(hidden, mask, "cls"), hidden[:, 0])
    mean = torch.stack([hidden[0].mean(0), hidden[1, :2].mean(0)])
    torch.testing.assert_close(pool(hidden, mask, "mean"), mean)
    torch.testing.assert_close(
        pool(hidden, mask, "last"), torch.stack([hidden[0, 3], hidden[1, 1]])
    )


def test_a_mask_extended_by_prefix_tokens_reads_only_the_texts_part():
    hidden, mask = states()
    prefixed = torch.cat([torch.ones(2, 5, dtype=mask.dtype), mask], dim=1)
    for pooling in ("cls", "mean", "last"):
        torch.testing.assert_close(pool(hidden, prefixed, pooling), pool(hidden, mask, pooling))


def test_default_pooling_follows_the_sentence_transformers_config(tmp_path):
    assert _default_pooling(str(tmp_path), "decoder") == "last"
    assert _default_pooling(str(tmp_path), "encoder") == "cls"  # no config: BERT's [CLS]
    (tmp_path / "1_Pooling").mkdir()
    config = tmp_path / "1_Pooling" / "config.json"
    config.write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    assert _default_pooling(str(tmp_path), "encoder") == "mean"
    config.write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert _default_pooling(str(tmp_path), "encoder") == "cls"


@pytest.mark.real
def test_minilm_pools_by_mean_as_its_sentence_transformers_config_says():
    assert load_backbone("minilm-l6").default_pooling == "mean"
