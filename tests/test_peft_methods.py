"""The PEFT family as methods (methods/tuner.py and its users): exact trainable counts on the
tiny encoder, AdaLoRA's rank budget driven by the loop's hook, LoRA+'s parameter groups,
backbone-dependent defaults, and the CUDA-only QLoRA's refusal."""

import pytest
import torch

from tunebench.errors import UserError
from tunebench.families.registry import families_trained_by
from tunebench.methods import METHODS
from tunebench.models.blocks import trainable_parameter_count

from tiny import TINY_SETTINGS, tiny_classifier, toy_batch

HEAD = 32 * 2 + 2
ADAPTED = 4  # query and value (32 -> 32) in each of the tiny BERT's 2 blocks
EXPECTED_ON_THE_ENCODER = {
    "vera": ADAPTED * (32 + 256),  # scaling vectors b (out) and d (r = 256)
    "loha": ADAPTED * 2 * 8 * (32 + 32),  # two rank-8 products
    "lokr": ADAPTED * (4 * 4 + 8 * 8),  # 32 = 4 × 8: a 4×4 factor and a (full) 8×8 one
    "oft": ADAPTED * 32 * 31 // 2,  # one 32-block: its skew-symmetric generator
    "boft": ADAPTED * (8 * 4 * 4 + 32),  # 8 butterfly blocks of 4×4 + a scale per output
    "hra": ADAPTED * 8 * 32,  # 8 Householder vectors of width 32
    "adalora": ADAPTED * (12 * 32 + 32 * 12 + 12),  # A, B and E at init_r = 12
    "fourierft": ADAPTED * 100,  # n_frequency coefficients
    "ln_tuning": 5 * 2 * 32,  # embeddings + 2 per block LayerNorms: weight and bias
    "p_tuning": 20 * 32 + 3 * (32 * 32 + 32),  # 20 token inputs + a 3-layer MLP encoder
    "miss": ADAPTED * 16 * 32,  # one r × out shard
    "road": ADAPTED * (16 + 16),  # road_1: an angle and a scale per output pair
    "shira": ADAPTED * 4 * (32 + 32),  # r × (in + out) sparse entries
    "c3a": ADAPTED * 32 * 32 // 16,  # (in / b) × (out / b) circulant vectors of length b
    "pissa": ADAPTED * 8 * (32 + 32),  # LoRA's shapes
    "lora_plus": ADAPTED * 8 * (32 + 32),
}


def _apply(name: str, kind: str = "encoder", **settings):
    method = METHODS[name]
    config = method.config(**{**TINY_SETTINGS.get(name, {}), **settings})
    return method, config, method.apply(tiny_classifier(kind), config, "")


@pytest.mark.parametrize("name", sorted(EXPECTED_ON_THE_ENCODER))
def test_trainable_parameter_counts_are_exact(name):
    _, _, trained = _apply(name)
    assert trainable_parameter_count(trained) == HEAD + EXPECTED_ON_THE_ENCODER[name]


def test_the_registry_names_at_least_twenty_methods_each_with_its_families():
    assert len(METHODS) >= 20
    assert families_trained_by(METHODS["vera"])[:2] == ["classification", "token_classification"]
    assert "tabular" in families_trained_by(METHODS["ln_tuning"])


def test_adalora_prunes_to_its_rank_budget_through_the_after_step_hook():
    method, config, trained = _apply("adalora", r=4, warmup_fraction=0.2, final_fraction=0.3)
    optimizer = torch.optim.AdamW([p for p in trained.parameters() if p.requires_grad], lr=1e-2)
    batch, total = toy_batch(), 20
    for step in range(1, total + 1):
        trained(**batch).loss.backward()
        optimizer.step()
        method.after_step(trained, config, step, total)
        optimizer.zero_grad()
    peft_config = trained.peft_config["default"]
    assert (peft_config.total_step, peft_config.tinit, peft_config.tfinal) == (20, 4, 6)
    kept = sum(int((p != 0).sum()) for n, p in trained.named_parameters() if "lora_E" in n)
    assert kept == ADAPTED * 4  # from 12 singular values per layer to an average of r = 4


def test_lora_plus_trains_b_at_its_ratio_of_the_learning_rate():
    method, config, trained = _apply("lora_plus", lr_ratio=8.0)
    groups = method.parameter_groups(trained, config, 1e-3, 0.01)
    rates = {id(p): g["lr"] for g in groups for p in g["params"]}
    for name, parameter in trained.named_parameters():
        if "lora_A" in name:
            assert rates[id(parameter)] == pytest.approx(1e-3)
        if "lora_B" in name:
            assert rates[id(parameter)] == pytest.approx(8e-3)
    trainable = [p for p in trained.parameters() if p.requires_grad]
    assert sorted(map(id, trainable)) == sorted(rates)


def test_pissa_starts_from_the_pretrained_function_with_a_residual_base():
    model = tiny_classifier("encoder").eval()
    batch = toy_batch()
    before = model(**batch).logits
    trained = METHODS["pissa"].apply(model, METHODS["pissa"].config(), "").eval()
    torch.testing.assert_close(trained(**batch).logits, before, atol=1e-5, rtol=0)
    base = trained.base_model.model.backbone.encoder.layer[0].attention.self.query.base_layer
    assert not torch.allclose(
        base.weight,
        tiny_classifier("encoder").backbone.encoder.layer[0].attention.self.query.weight,
    )


def test_ln_tuning_finds_bert_layer_norms_that_peft_does_not_know():
    _, _, trained = _apply("ln_tuning")
    names = [n for n, p in trained.named_parameters() if p.requires_grad]
    assert any("embeddings.LayerNorm" in n for n in names)
    assert all("LayerNorm" in n or "classifier" in n for n in names)


def test_a_block_size_that_does_not_fit_is_a_clear_error_naming_the_method():
    with pytest.raises(UserError, match="method c3a on this model: The block size"):
        _apply("c3a", block_size=24)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_qlora_without_cuda_is_refused():
    with pytest.raises(UserError, match="method qlora: .*need a CUDA device"):
        _apply("qlora")
