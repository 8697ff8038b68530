"""Vision-language models' three parts are found in LLaVA, Idefics3 and Qwen2-VL layouts and
their parameters counted exactly per part; a text-only backbone is refused by name."""

from __future__ import annotations

import pytest
import torch
from tiny_vlm import tiny_llava
from transformers import (
    CLIPVisionModel,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    LlamaModel,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
)

from tunebench.errors import UserError
from tunebench.models.image_text import image_text_parts, load_image_text, parameters_by_part

from tiny import tiny_llama_config

TEXT = {"vocab_size": 120, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}


def _numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_llava_parts_are_counted_exactly(tmp_path):
    model, _ = load_image_text(str(tiny_llava(tmp_path / "llava")))
    parts = image_text_parts(model)
    assert parts.names == {
        "vision": "model.vision_tower",
        "connector": "model.multi_modal_projector",
        "language": "model.language_model",
    }
    config = model.config
    counts = parameters_by_part(model, parts)
    assert counts["vision"]["total"] == _numel(CLIPVisionModel(config.vision_config))
    assert counts["connector"]["total"] == (32 * 32 + 32) * 2  # two linear layers, with biases
    assert counts["language_model"]["total"] == _numel(LlamaModel(config.text_config))
    assert counts["other"]["total"] == config.text_config.vocab_size * 32  # the untied head
    assert sum(c["total"] for c in counts.values()) == _numel(model)
    model.requires_grad_(False)
    parts.connector.requires_grad_(True)
    counts = parameters_by_part(model, parts)
    assert {k: c["trainable"] for k, c in counts.items()} == {
        "vision": 0,
        "connector": counts["connector"]["total"],
        "language_model": 0,
        "other": 0,
    }


def test_idefics3_and_qwen2_vl_layouts_are_found():
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    idefics = Idefics3ForConditionalGeneration(
        Idefics3Config(
            vision_config={**vision, "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
            text_config={**TEXT, "model_type": "llama", "intermediate_size": 64},
            scale_factor=2,
            image_token_id=119,
        )
    )
    assert set(image_text_parts(idefics).names.values()) == {
        "model.vision_model",
        "model.connector",
        "model.text_model",
    }
    qwen = Qwen2VLForConditionalGeneration(
        Qwen2VLConfig(
            vision_config={"depth": 2, "embed_dim": 32, "hidden_size": 32, "num_heads": 4},
            text_config={**TEXT, "num_key_value_heads": 2, "intermediate_size": 64},
            image_token_id=119,
            video_token_id=118,
            vision_start_token_id=117,
        )
    )
    parts = image_text_parts(qwen)
    assert parts.names["connector"] == "model.visual.merger"  # nested in the vision encoder
    counts = parameters_by_part(qwen, parts)
    assert counts["vision"]["total"] == _numel(parts.vision) - _numel(parts.connector)
    assert sum(c["total"] for c in counts.values()) == _numel(qwen)


def test_a_text_only_model_is_refused_with_its_name(tmp_path):
    from transformers import LlamaForCausalLM

    LlamaForCausalLM(tiny_llama_config(120, 0, 0)).save_pretrained(tmp_path / "text_only")
    with pytest.raises(UserError, match="is not an image-text model"):
        load_image_text(str(tmp_path / "text_only"))
