"""Gradient checkpointing: the same gradients from recomputed activations, a clear error where
it cannot work, and run ids that stay as they were when it is off."""

from types import SimpleNamespace

import pytest
import torch

from tunebench.errors import UserError
from tunebench.methods import METHODS
from tunebench.study.expand import expand
from tunebench.study.load import load_study
from tunebench.training import checkpointing
from tunebench.training.config import TrainingConfig
from tunebench.training.loop import RunFailed

from tiny import tiny_classifier, tiny_context, toy_batch

ON = TrainingConfig(gradient_checkpointing=True)


def gradients(kind: str, method: str, checkpointed: bool) -> tuple[dict, int]:
    """Trainable gradients of one training step, and how often block 0's attention ran."""
    torch.manual_seed(0)
    classifier = tiny_classifier(kind)
    if checkpointed:
        checkpointing.enable(classifier.backbone)
    model = METHODS[method].apply(classifier, METHODS[method].config(), "")
    model.train()
    calls = []
    # transformers 5 checkpoints a block's `forward`, so the block's own hooks run once: count
    # the calls of a module inside it, which the recomputation calls again.
    backbone = classifier.backbone
    inside = (
        backbone.layers[0].self_attn if kind == "decoder" else backbone.encoder.layer[0].attention
    )
    inside.register_forward_pre_hook(lambda *_: calls.append(1))
    torch.manual_seed(1)  # the same dropout masks in both runs
    model(**toy_batch()).loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return grads, len(calls)


@pytest.mark.parametrize(
    ("kind", "method"), [("decoder", "lora"), ("encoder", "full"), ("encoder", "adapter")]
)
def test_checkpointing_recomputes_blocks_and_gives_the_same_gradients(kind, method):
    plain, plain_calls = gradients(kind, method, checkpointed=False)
    checkpointed, checkpointed_calls = gradients(kind, method, checkpointed=True)
    assert (plain_calls, checkpointed_calls) == (1, 2)  # forward, then again in backward
    assert plain.keys() == checkpointed.keys() and plain
    in_block_0 = [g for n, g in plain.items() if ".0." in n]  # LoRA's A gets 0 at B = 0
    assert in_block_0 and sum(g.abs().sum() for g in in_block_0) > 0  # gradients reach block 0
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, rtol=1e-5, atol=1e-7)


def test_prefix_tuning_refuses_checkpointing_by_its_declared_capability():
    assert not METHODS["prefix"].gradient_checkpointing
    classifier = tiny_classifier("decoder")
    backbone = SimpleNamespace(model=classifier.backbone, path="", kind="encoder")
    with pytest.raises(RunFailed, match="gradient_checkpointing does not work with method prefix"):
        tiny_context(ON, "prefix").apply_method(classifier, backbone, "classifier")
    model = tiny_context(ON, "lora").apply_method(classifier, backbone, "classifier")
    assert classifier.backbone.is_gradient_checkpointing and model is not classifier


def test_a_backbone_that_cannot_checkpoint_is_a_clear_error():
    backbone = SimpleNamespace(supports_gradient_checkpointing=False)
    with pytest.raises(UserError, match="does not support gradient checkpointing"):
        checkpointing.enable(backbone)


STUDY = """
name: ids
backbones: [minilm-l6]
tasks: [sms_spam]
methods: [lora]
variants: [{}, {gradient_checkpointing: true}]
"""


def test_checkpointing_is_part_of_a_run_id_only_when_on(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY)
    default, on = (run.run_id for run in expand(load_study(path)))
    path.write_text(STUDY.replace("{}", "{gradient_checkpointing: false}"))
    off, on_again = (run.run_id for run in expand(load_study(path)))
    assert default == off and on == on_again and on != default


@pytest.mark.parametrize(
    ("setting", "kind", "method", "tokens", "expected"),
    [
        ("auto", "decoder", "lora", 16 * 256, True),  # a decoder's activations fill memory
        ("auto", "decoder", "lora", 8 * 192, False),  # small batches: not worth the time
        ("auto", "encoder", "lora", 16 * 256, False),
        ("auto", "decoder", "prefix", 16 * 256, False),  # a method that cannot be checkpointed
        (False, "decoder", "lora", 16 * 256, False),
        (True, "encoder", "lora", 8, True),
    ],
)
def test_auto_checkpoints_large_decoder_batches_of_methods_that_allow_it(
    setting, kind, method, tokens, expected
):
    assert checkpointing.wanted(setting, kind, METHODS[method], tokens) is expected
