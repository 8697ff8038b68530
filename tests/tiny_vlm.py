"""A tiny LLaVA (a 2-block CLIP vision tower, a linear connector, a 2-block Llama) and a tiny
Idefics3 (SmolVLM's architecture: a 2-block SigLIP-style encoder, a pixel-shuffle connector,
the same Llama) with their processors, built from configs with random weights and saved to a
folder, so that tests load them the way a user's model loads (`AutoModelForImageTextToText`,
`AutoProcessor`): offline, in well under a second. No vision-language weights reach our
machines; nothing trained on these models is a result."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3ImageProcessor,
    Idefics3Processor,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)

from tiny import tiny_llama_config, tiny_tokenizer

IMAGE_SIZE, PATCH = 32, 8
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML with the image placeholder where the message puts the image."""


def _tokenizer(*special: str):
    """The tiny character-level tokenizer with ChatML's start token and `special` tokens."""
    tokenizer = tiny_tokenizer(chat=False)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", *special]})
    return tokenizer


def tiny_llava(folder: Path, **text_settings) -> Path:
    """Save a tiny LLaVA and its processor to `folder`; returns it. `text_settings` change
    the language model's config (`attention_bias=True`)."""
    tokenizer = _tokenizer("<image>")
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
        projection_dim=32,
    )
    text = tiny_llama_config(
        len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, **text_settings
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",  # patches without CLIP's class token
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    size = {"shortest_edge": IMAGE_SIZE}
    crop = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size=size, crop_size=crop),
        tokenizer=tokenizer,
        patch_size=PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # the class token the strategy drops
        chat_template=CHAT_TEMPLATE,
        image_token="<image>",
    )
    processor.save_pretrained(folder)
    return folder


IDEFICS3_TOKENS = ("<image>", "<fake_token_around_image>", "<global-img>")
"""The image placeholder and the tokens Idefics3's processor puts around an image's tokens."""


def tiny_idefics3(folder: Path, **text_settings) -> Path:
    """Save a tiny Idefics3 and its processor to `folder`; returns it. One 32-pixel image is
    16 patches of 8, shuffled 2 × 2 into 4 image tokens of 4 × 32 features that the connector
    (one linear layer without bias, 128 -> 32) maps into the language model."""
    tokenizer = _tokenizer(*IDEFICS3_TOKENS)
    text = tiny_llama_config(
        len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, **text_settings
    )
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    config = Idefics3Config(
        vision_config={
            **vision,
            "num_attention_heads": 4,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH,
        },
        text_config=text.to_dict(),
        scale_factor=2,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
    )
    torch.manual_seed(0)
    Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    edge = {"longest_edge": IMAGE_SIZE}
    image_processor = Idefics3ImageProcessor(
        do_image_splitting=False, size=edge, max_image_size=edge
    )
    tokens = (IMAGE_SIZE // PATCH) ** 2 // 2**2
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=tokens,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(folder)
    return folder
