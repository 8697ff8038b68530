"""Every method on tiny encoder and decoder models: exact trainable counts, learning, freezing."""

import pytest
import torch

from tunebench.errors import UserError
from tunebench.methods import METHODS
from tunebench.models.blocks import trainable_parameter_count

from tiny import TINY_SETTINGS, tiny_classifier, toy_batch

HEAD = 32 * 2 + 2  # hidden 32 -> 2 classes
# Tiny BERT: hidden 32, 2 layers, 4 heads, ffn 64. Tiny Llama: hidden 32, 2 layers, 2 KV heads of 8.
EXPECTED_TRAINABLE = {
    ("encoder", "frozen"): HEAD,
    ("encoder", "last_n"): HEAD + 8544,  # one BERT block: 4 * (32*32+32) + 2*(32*64)+64+32 + 4*32
    # embedding LayerNorm bias + per block: q, k, v, o, attention LN, ffn in (64), ffn out, LN
    ("encoder", "bitfit"): HEAD + 32 + 2 * (4 * 32 + 32 + 64 + 32 + 32),
    ("encoder", "lora"): HEAD + 2 * 2 * 8 * (32 + 32),  # q and v in 2 layers, r=8
    ("encoder", "rslora"): HEAD + 2 * 2 * 8 * (32 + 32),  # LoRA's parameters, another scale
    ("encoder", "peft"): HEAD + 2 * 2 * 8 * (32 + 32),  # type LORA by default, peft's r = 8
    ("encoder", "dora"): HEAD + 2 * 2 * 8 * (32 + 32) + 2 * (32 + 32),  # + a magnitude per output
    # peft's BERT default: key, value, attention.output.dense (32 each), ffn output.dense (in 64)
    ("encoder", "ia3"): HEAD + 2 * (32 + 32 + 32 + 64),
    ("encoder", "prompt"): HEAD + 20 * 32,
    ("encoder", "prefix"): HEAD + 20 * 2 * 2 * 32,  # 20 tokens x (k, v) x layers x width
    ("decoder", "frozen"): HEAD,
    ("decoder", "last_n"): HEAD
    + 9280
    + 32,  # one Llama block (attn 3072, mlp 6144, norms) + final norm
    ("decoder", "lora"): HEAD + 2 * (8 * (32 + 32) + 8 * (32 + 16)),  # q 32->32, v 32->16
    ("decoder", "rslora"): HEAD + 2 * (8 * (32 + 32) + 8 * (32 + 16)),
    ("decoder", "peft"): HEAD + 2 * (8 * (32 + 32) + 8 * (32 + 16)),
    ("decoder", "dora"): HEAD + 2 * (8 * (32 + 32) + 8 * (32 + 16)) + 2 * (32 + 16),
    ("decoder", "ia3"): HEAD + 2 * (16 + 16 + 64),  # k, v (16 wide) and down_proj input 64
    ("decoder", "prompt"): HEAD + 20 * 32,
    ("decoder", "prefix"): HEAD + 20 * 2 * 2 * 16,  # grouped-query attention: kv width 16
}


def _apply(kind: str, name: str):
    model = tiny_classifier(kind)
    method = METHODS[name]
    config = method.config(**TINY_SETTINGS.get(name, {}))
    return model, method.apply(model, config, "")


@pytest.mark.parametrize(("kind", "name"), sorted(EXPECTED_TRAINABLE))
def test_trainable_parameter_counts_are_exact(kind, name):
    _, trained = _apply(kind, name)
    assert trainable_parameter_count(trained) == EXPECTED_TRAINABLE[(kind, name)]


def test_full_trains_everything():
    model, trained = _apply("encoder", "full")
    assert trainable_parameter_count(trained) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_adapter_trains_bottlenecks_and_head_only(kind):
    _, trained = _apply(kind, "adapter")
    names = [n for n, p in trained.named_parameters() if p.requires_grad]
    assert any("classifier" in n for n in names)
    assert all("classifier" in n or ".adapter." in n or "output_adapter" in n for n in names)
    # Pfeiffer, reduction 16 on width 32: down 32->2 and up 2->32 (with biases) per block.
    assert trainable_parameter_count(trained) == HEAD + 2 * (32 * 2 + 2 + 2 * 32 + 32)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("name", sorted(METHODS))
def test_loss_falls_and_frozen_weights_stay(kind, name):
    if (kind, name) == ("decoder", "bitfit"):
        pytest.skip("Llama has no biases: covered by test_bitfit_on_llama_is_a_clear_error")
    if name == "qlora" and not torch.cuda.is_available():
        pytest.skip("CUDA only: test_qlora_without_cuda_is_refused")
    model, trained = _apply(kind, name)
    frozen = {n: p.detach().clone() for n, p in trained.named_parameters() if not p.requires_grad}
    batch = toy_batch()
    optimizer = torch.optim.AdamW([p for p in trained.parameters() if p.requires_grad], lr=1e-2)
    trained.eval()  # no dropout: the loss must fall because of the updates alone
    first = trained(**batch).loss.item()
    for _ in range(20):
        loss = trained(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert trained(**batch).loss.item() < first - 0.05
    for n, p in trained.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), f"{n} changed although it is frozen"


def test_bitfit_declares_it_trains_nothing_on_a_backbone_without_biases():
    """The capability the run path checks before applying the method (RunContext)."""
    reason = METHODS["bitfit"].trains_nothing_on(tiny_classifier("decoder").backbone)
    assert reason is not None and "no bias parameters" in reason
    assert METHODS["bitfit"].trains_nothing_on(tiny_classifier("encoder").backbone) is None


def test_last_n_larger_than_the_model_is_a_clear_error():
    model = tiny_classifier("encoder")
    with pytest.raises(UserError, match="n=5 but the backbone has 2 blocks"):
        METHODS["last_n"].apply(model, METHODS["last_n"].config(n=5), "")


def test_lora_layers_restrict_the_adapted_blocks():
    model = tiny_classifier("encoder")
    config = METHODS["lora"].config(layers=[1])
    trained = METHODS["lora"].apply(model, config, "")
    lora_names = [n for n, p in trained.named_parameters() if p.requires_grad and "lora_" in n]
    assert lora_names and all(".layer.1." in n for n in lora_names)


def test_the_peft_escape_hatch_trains_any_peft_type():
    """VeRA through `{name: peft, type: vera, ...}`: PEFT's own config, PEFT's parameters."""
    model = tiny_classifier("decoder")
    config = METHODS["peft"].config(type="vera", r=4, target_modules=["q_proj"])
    trained = METHODS["peft"].apply(model, config, "")
    names = [n for n, p in trained.named_parameters() if p.requires_grad]
    assert any("vera_lambda" in n for n in names)
    assert all("vera_lambda" in n or "classifier" in n for n in names)
    assert trained.peft_config["default"].r == 4


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type": "nope"}, "no PEFT type; PEFT has LORA, "),
        ({"type": "vera", "rank": 4}, "VeraConfig has no field 'rank'; its fields are: "),
        ({"type": "lora", "task_type": "CAUSAL_LM"}, "has no field 'task_type'"),
        ({"type": "lora", "layers_pattern": "layers"}, "LoraConfig refuses these settings"),
    ],
)
def test_the_peft_escape_hatch_checks_fields_against_peft(settings, message):
    with pytest.raises(ValueError, match=message):
        METHODS["peft"].config(**settings)
