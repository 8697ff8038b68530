"""Every method that declares `image_text` reaches an image-text model's language model alone:
on a tiny LLaVA and a tiny Idefics3, the vision encoder, the connector and every other frozen
weight stay unchanged by training, trainable counts per part are exact, and the loss on the
answers falls."""

from __future__ import annotations

import pytest
import torch
from shapes_vqa import write_shapes_task
from tiny_vlm import tiny_idefics3, tiny_llava

from tunebench.families.visual_qa.batches import training_batch
from tunebench.methods import METHODS
from tunebench.models.image_text import image_text_parts, load_image_text, parameters_by_part

# per block: q_proj 32 -> 32 and v_proj 32 -> 16 (two key/value heads of 8), rank 8
LORA_PER_BLOCK = (8 * 32 + 32 * 8) + (8 * 32 + 16 * 8)
LANGUAGE_TRAINABLE = {
    "lora": 2 * LORA_PER_BLOCK,
    "rslora": 2 * LORA_PER_BLOCK,
    "pissa": 2 * LORA_PER_BLOCK,
    "lora_plus": 2 * LORA_PER_BLOCK,
    "peft": 2 * LORA_PER_BLOCK,  # PEFT's LoRA by default
    "dora": 2 * (LORA_PER_BLOCK + 32 + 16),  # plus a magnitude per output feature
    "ia3": 2 * (16 + 16 + 64),  # k and v outputs, the MLP's down-projection input
    "prompt": 4 * 32,  # four virtual tokens of the embedding width
    "prefix": 4 * 2 * 2 * 16,  # four tokens, two blocks, a key and a value of width 16
    "adapter": 2 * (32 * 2 + 2 + 2 * 32 + 32),  # Pfeiffer, 32 / 16 = 2 wide, per block
    "bitfit": 2 * (32 + 16 + 16 + 32),  # q, k, v, o biases
    "frozen": 0,
}
"""Trainable parameters of the tiny models' language model (the same Llama in both), by hand;
other methods are held to the rest of the checks."""
SMALL = {
    "c3a": {"block_size": 16},
    "fourierft": {"n_frequency": 64},
    "miss": {"r": 16},
    "road": {"group_size": 8},
    "shira": {"r": 4},
    "vera": {"r": 16},
    "prompt": {"num_virtual_tokens": 4},
    "prefix": {"num_virtual_tokens": 4},
    "p_tuning": {"num_virtual_tokens": 4},
    "last_n": {"n": 1},
}
"""Settings that fit a model 32 wide (the defaults are sized for real models)."""
IMAGE_TEXT_METHODS = sorted(name for name, m in METHODS.items() if "image_text" in m.kinds)


BUILDERS = {"llava": tiny_llava, "idefics3": tiny_idefics3}


@pytest.fixture(scope="module")
def folder_of(tmp_path_factory):
    """(architecture, whether the language model's attention has biases) -> a saved model,
    built once per module."""
    built = {}

    def folder(architecture: str, biased: bool = False):
        if (architecture, biased) not in built:
            where = tmp_path_factory.mktemp(f"{architecture}_{biased}")
            built[architecture, biased] = BUILDERS[architecture](where, attention_bias=biased)
        return built[architecture, biased]

    return folder


@pytest.fixture(scope="module")
def llava_folder(folder_of):
    return folder_of("llava")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    write_shapes_task(folder, images=4)
    paths = sorted((folder / "images").glob("*.png"))
    return paths, ["What colour is the shape?"] * 4, ["red", "red", "green", "green"]


def _with_method(folder, name: str, **settings):
    """The tiny LLaVA with `name` applied to its language model, everything else frozen."""
    model, processor = load_image_text(str(folder))
    model.requires_grad_(False)
    method = METHODS[name]
    config = method.config(name=name, **settings)
    return method.apply_to_image_text(model, image_text_parts(model).language, config), processor


@pytest.mark.parametrize(
    ("architecture", "connector"),
    [("llava", "frozen"), ("llava", "trainable"), ("idefics3", "frozen")],
)
@pytest.mark.parametrize("name", IMAGE_TEXT_METHODS)
def test_a_method_trains_the_language_model_alone(folder_of, shapes, name, architecture, connector):
    """Only the method's parameters train, and the connector's where the method entry says
    `connector: trainable` (`frozen` then trains the connector alone)."""
    folder = folder_of(architecture, biased=name == "bitfit")
    model, processor = _with_method(folder, name, **SMALL.get(name, {}))
    parts = image_text_parts(model)
    parts.connector.requires_grad_(connector == "trainable")  # as the run sets it
    counts = parameters_by_part(model, parts)
    assert counts["vision"]["trainable"] == 0
    assert counts["other"]["trainable"] == 0  # the output head stays frozen
    connector_total = counts["connector"]["total"] if connector == "trainable" else 0
    assert counts["connector"]["trainable"] == connector_total
    trainable = counts["language_model"]["trainable"]
    assert trainable == LANGUAGE_TRAINABLE.get(name, trainable)
    if not trainable + connector_total:
        return  # frozen: the zero-shot baseline
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    connector_before = [p.detach().clone() for p in parts.connector.parameters()]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = training_batch(processor, *shapes)
    losses = []
    for _ in range(5):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    after = dict(model.named_parameters())
    assert [n for n, p in frozen.items() if not torch.equal(after[n], p)] == []
    changed = [
        not torch.equal(a, b)
        for a, b in zip(parts.connector.parameters(), connector_before, strict=True)
    ]
    assert all(changed) if connector == "trainable" else not any(changed)


def test_layers_place_a_method_in_the_language_models_blocks(llava_folder):
    model, _ = _with_method(llava_folder, "lora", layers=[1])
    adapted = {n for n, p in model.named_parameters() if p.requires_grad}
    assert adapted and all(".layers.1." in n for n in adapted)
    assert parameters_by_part(model, image_text_parts(model))["language_model"]["trainable"] == (
        LORA_PER_BLOCK
    )


def test_a_method_not_declared_for_image_text_fails_as_unsupported(llava_folder):
    from tunebench.training.config import TrainingConfig
    from tunebench.training.loop import RunFailed

    from tiny import tiny_context

    model, _ = load_image_text(str(llava_folder))
    language = image_text_parts(model).language
    with pytest.raises(RunFailed, match="applies to .*, not image_text"):
        context = tiny_context(TrainingConfig(), "qlora", family="visual_qa")
        context.apply_method_to_image_text(model, language)
    checkpointed = TrainingConfig(gradient_checkpointing=True)
    with pytest.raises(RunFailed, match="does not work with method prefix"):
        context = tiny_context(checkpointed, "prefix", family="visual_qa")
        context.apply_method_to_image_text(model, language)
    unbiased = tiny_context(TrainingConfig(), "bitfit", family="visual_qa")
    with pytest.raises(RunFailed, match="no bias parameters"):
        unbiased.apply_method_to_image_text(model, language)


def test_gradient_checkpointing_recomputes_the_language_models_blocks(llava_folder, shapes):
    """`gradient_checkpointing: true` checkpoints the language model's blocks: LoRA's
    gradients are those of the run without it."""
    from tunebench.training.config import TrainingConfig

    from tiny import tiny_context

    gradients = {}
    for checkpointing in (False, True):
        model, processor = load_image_text(str(llava_folder))
        model.requires_grad_(False)
        context = tiny_context(TrainingConfig(gradient_checkpointing=checkpointing), "lora")
        context.spec.method = METHODS["lora"].config(name="lora", dropout=0.0)
        context.spec.backbone = str(llava_folder)
        torch.manual_seed(0)
        model = context.apply_method_to_image_text(model, image_text_parts(model).language)
        model.train()
        model(**training_batch(processor, *shapes)).loss.backward()
        layers = image_text_parts(model).language.base_model.model.layers
        assert all(layer.gradient_checkpointing == checkpointing for layer in layers)
        gradients[checkpointing] = [p.grad for p in model.parameters() if p.requires_grad]
    for without, with_ in zip(gradients[False], gradients[True], strict=True):
        torch.testing.assert_close(with_, without)
