"""Our bottleneck adapters (models/bottleneck.py): AdapterHub's parameter counts and formulas.

Checked once against AdapterHub's `adapters==1.3.0` before it was dropped (same weights copied
into both): identical outputs on tiny BERT and Llama and on minilm-l6, both placements
(max |difference| 0, and 4.8e-7 for Pfeiffer on Llama). These tests hold the counts and the
formulas of the module docstring."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertModel

from tunebench.errors import UserError
from tunebench.methods import METHODS
from tunebench.models.blocks import trainable_parameter_count
from tunebench.models.bottleneck import Bottleneck, add_adapters

from tiny import tiny_bert, tiny_classifier, tiny_llama, toy_batch

# minilm-l6's shape (hidden 384, 6 blocks), built from its config without weights.
MINILM = BertConfig(
    hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536
)
HEAD = 384 * 2 + 2  # sms_spam's two classes


@pytest.mark.parametrize(
    ("placement", "adapter_params"),
    # AdapterHub on minilm-l6, reduction 16: SeqBnConfig 113,040 (docs/results.md records
    # 113.8K with the head), DoubleSeqBnConfig 226,080.
    [("pfeiffer", 113_040), ("houlsby", 226_080)],
)
def test_counts_equal_adapterhub_on_minilm(placement, adapter_params):
    with torch.device("meta"):
        backbone = BertModel(MINILM)
    backbone.requires_grad_(False)
    add_adapters(backbone, placement, 16, "relu")
    assert trainable_parameter_count(backbone) == adapter_params
    assert (
        trainable_parameter_count(backbone) + HEAD
        == {113_040: 113_810, 226_080: 226_850}[adapter_params]
    )


def _inputs() -> dict:
    batch = toy_batch()
    return {k: batch[k] for k in ("input_ids", "attention_mask")}


def _randomised(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, Bottleneck):
            nn.init.normal_(module.up.weight, std=0.3)
    return model.eval()


def test_pfeiffer_on_bert_is_ln_of_h_plus_x_plus_a_of_ln():
    torch.manual_seed(0)
    backbone = _randomised(_with(tiny_bert(), "pfeiffer"))
    output = backbone.encoder.layer[0].output
    hidden, residual = torch.randn(2, 5, 64), torch.randn(2, 5, 32)
    h = output.dropout(output.dense(hidden))
    inside = output.LayerNorm(h + residual)
    expected = output.LayerNorm(h + residual + output.adapter(inside))
    assert torch.allclose(output(hidden, residual), expected)
    assert not hasattr(backbone.encoder.layer[0].attention.output, "adapter")


def test_houlsby_on_bert_adapts_attention_and_feed_forward():
    torch.manual_seed(0)
    backbone = _randomised(_with(tiny_bert(), "houlsby"))
    attention = backbone.encoder.layer[1].attention.output
    hidden, residual = torch.randn(2, 5, 32), torch.randn(2, 5, 32)
    h = attention.dropout(attention.dense(hidden))
    expected = attention.LayerNorm(h + attention.adapter(h) + residual)
    assert torch.allclose(attention(hidden, residual), expected)
    assert isinstance(backbone.encoder.layer[1].output.adapter, Bottleneck)


@pytest.mark.parametrize("placement", ["houlsby", "pfeiffer"])
def test_llama_blocks_add_a_of_their_output(placement):
    torch.manual_seed(0)
    plain = tiny_llama().eval()
    adapted = _randomised(_with(tiny_llama(), placement))
    adapted.load_state_dict(plain.state_dict(), strict=False)
    block = adapted.layers[0]
    where = (
        [block.self_attn.adapter, block.mlp.adapter]
        if placement == "houlsby"
        else [block.output_adapter]
    )
    assert all(isinstance(adapter, Bottleneck) for adapter in where)
    with torch.no_grad():
        changed = adapted(**_inputs()).last_hidden_state
        zeroed = _with_every_up_zero(adapted)(**_inputs()).last_hidden_state
        reference = plain(**_inputs()).last_hidden_state
    assert not torch.allclose(changed, reference)
    assert torch.allclose(zeroed, reference, atol=1e-6)  # A = 0: the block is the plain block


def _with_every_up_zero(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, Bottleneck):
            nn.init.zeros_(module.up.weight)
            nn.init.zeros_(module.up.bias)
    return model


def _with(backbone: nn.Module, placement: str) -> nn.Module:
    add_adapters(backbone, placement, 4, "relu")
    return backbone


def test_the_non_linearity_is_a_setting_with_each_placements_default():
    config = METHODS["adapter"].config(placement="houlsby")
    assert config.non_linearity is None
    tanh = METHODS["adapter"].config(non_linearity="tanh")
    model = METHODS["adapter"].apply(tiny_classifier("encoder"), tanh, "")
    adapters = [m for m in model.modules() if isinstance(m, Bottleneck)]
    assert adapters and all(isinstance(a.activation, nn.Tanh) for a in adapters)


def test_an_unsupported_block_is_a_clear_error():
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = BertConfig(hidden_size=8, num_hidden_layers=1)
            self.layers = nn.ModuleList([nn.Linear(8, 8)])

    with pytest.raises(UserError, match="neither a post-norm block"):
        add_adapters(Odd(), "pfeiffer", 4, "relu")
