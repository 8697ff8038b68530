"""Methods applied inside an image-text model reach its language model alone: on a tiny LLaVA,
the vision encoder and the connector stay frozen and unchanged by training, trainable counts
are exact, and the loss on the answers falls."""

from __future__ import annotations

import pytest
import torch
from shapes_vqa import write_shapes_task
from tiny_vlm import tiny_llava

from tunebench.families.visual_qa.batches import training_batch
from tunebench.methods import METHODS
from tunebench.models.image_text import image_text_parts, load_image_text, parameters_by_part


@pytest.fixture(scope="module")
def llava_folder(tmp_path_factory):
    return tiny_llava(tmp_path_factory.mktemp("llava"))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    write_shapes_task(folder, images=4)
    paths = sorted((folder / "images").glob("*.png"))
    return paths, ["What colour is the shape?"] * 4, ["red", "red", "green", "green"]


def _with_method(folder, name: str, **settings):
    """The tiny LLaVA with `name` applied inside it, everything else frozen."""
    model, processor = load_image_text(str(folder))
    model.requires_grad_(False)
    parts = image_text_parts(model)
    method = METHODS[name]
    applied = method.apply_inside(parts.language, method.config(name=name, **settings))
    owner, attribute = parts.names["language"].rsplit(".", 1)
    setattr(model.get_submodule(owner), attribute, applied)
    return model, processor


# per block: q_proj 32 -> 32 and v_proj 32 -> 16 (two key/value heads of 8), rank 8
LORA_PER_BLOCK = (8 * 32 + 32 * 8) + (8 * 32 + 16 * 8)


@pytest.mark.parametrize(
    ("name", "settings", "language_trainable"),
    [
        ("lora", {}, 2 * LORA_PER_BLOCK),
        ("ia3", {}, 2 * (16 + 16 + 64)),  # k and v outputs, the MLP's down-projection input
        ("last_n", {"n": 1}, None),
        ("full", {}, None),
    ],
)
def test_a_method_trains_the_language_model_alone(
    llava_folder, shapes, name, settings, language_trainable
):
    model, processor = _with_method(llava_folder, name, **settings)
    parts = image_text_parts(model)
    counts = parameters_by_part(model, parts)
    assert counts["vision"]["trainable"] == counts["connector"]["trainable"] == 0
    trainable = counts["language_model"]["trainable"]
    assert trainable == (language_trainable or trainable) and trainable > 0
    frozen = {
        part: [p.detach().clone() for p in getattr(parts, part).parameters()]
        for part in ("vision", "connector")
    }
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
    for part, before in frozen.items():
        after = list(getattr(parts, part).parameters())
        assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True)), part


def test_a_method_not_declared_for_image_text_or_checkpointing_fails_as_unsupported(llava_folder):
    from tunebench.training.config import TrainingConfig
    from tunebench.training.loop import RunFailed

    from tiny import tiny_context

    model, _ = load_image_text(str(llava_folder))
    language = image_text_parts(model).language
    with pytest.raises(RunFailed, match="applies to .*, not image_text"):
        tiny_context(TrainingConfig(), "prompt", family="visual_qa").apply_method_inside(language)
    checkpointed = TrainingConfig(gradient_checkpointing=True)
    with pytest.raises(RunFailed, match="gradient checkpointing is not wired"):
        tiny_context(checkpointed, "lora", family="visual_qa").apply_method_inside(language)
