"""Vision-language (image-text-to-text) models: loading one, and its three parts.

Seed 001's models are LLaVA-style: a vision encoder, a connector (the multi-modal projector)
that maps image features into the language model's embedding space, and a language model.
transformers names the parts differently per architecture — LLaVA `vision_tower`,
`multi_modal_projector`, `language_model`; Idefics3 / SmolVLM `vision_model`, `connector`,
`text_model`; Qwen2-VL `visual` with its `merger` inside it, `language_model` — so they are
found here by those names, for the methods to apply to the language model alone, for the
connector to be frozen or trained, and for parameters to be counted per part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from tunebench.errors import UserError
from tunebench.models.locate import model_path

VISION = ("vision_tower", "vision_model", "visual")
CONNECTOR = ("multi_modal_projector", "connector", "merger")
LANGUAGE = ("language_model", "text_model")


@dataclass(frozen=True)
class ImageTextParts:
    """The modules of each part and their qualified names in the model."""

    vision: nn.Module
    connector: nn.Module
    language: nn.Module
    names: dict[str, str]
    """`vision`, `connector`, `language` -> the module's name in `model.named_modules()`."""


def load_image_text(name: str, trust_remote_code: bool = False) -> tuple[nn.Module, Any]:
    """(model, processor) of a local folder or Hub id that `AutoModelForImageTextToText` and
    `AutoProcessor` load; UserError naming the backbone otherwise."""
    from transformers import AutoModelForImageTextToText

    path = model_path(name)
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            path, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"{_not_image_text(name)} and AutoProcessor: {error}") from error
    image_text_parts(model)  # every part is found, or the user hears which is not
    return model, load_processor(name, trust_remote_code)


def load_processor(name: str, trust_remote_code: bool = False) -> Any:
    """The processor of a local folder or Hub id (`AutoProcessor`), without the weights."""
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(model_path(name), trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"{_not_image_text(name)} and AutoProcessor: {error}") from error


def _not_image_text(name: str) -> str:
    return (
        f"backbone '{name}' is not an image-text model that transformers can load with "
        "AutoModelForImageTextToText"
    )


def image_text_parts(model: nn.Module) -> ImageTextParts:
    """The vision encoder, connector and language model of `model`, by their names."""
    modules = dict(model.named_modules())
    found = {
        part: _shortest(modules, candidates)
        for part, candidates in (
            ("vision", VISION),
            ("connector", CONNECTOR),
            ("language", LANGUAGE),
        )
    }
    missing = [part for part, name in found.items() if name is None]
    if missing:
        raise UserError(
            f"{type(model).__name__}: no {' or '.join(missing)} module found (looked for "
            f"modules named {VISION + CONNECTOR + LANGUAGE}); tunebench knows LLaVA, "
            "Idefics3 / SmolVLM and Qwen2-VL layouts"
        )
    return ImageTextParts(*(modules[found[p]] for p in ("vision", "connector", "language")), found)


def _shortest(modules: dict[str, nn.Module], candidates: tuple[str, ...]) -> str | None:
    """The outermost module whose own name is one of `candidates`."""
    names = [n for n in modules if n.rsplit(".", 1)[-1] in candidates]
    return min(names, key=lambda n: n.count("."), default=None)


def parameters_by_part(model: nn.Module, parts: ImageTextParts) -> dict[str, dict[str, int]]:
    """Total and trainable parameters of the vision encoder (without a connector nested in
    it), the connector, the language model (with a prompt-learning method's virtual tokens,
    which it alone sees) and the rest (an untied output head), each parameter counted once."""
    owner: dict[int, str] = {}
    virtual = [m for n, m in model.named_modules() if n.rsplit(".", 1)[-1] == "prompt_encoder"]
    for part, module in (("language_model", parts.language), ("vision", parts.vision)):
        owner.update({id(p): part for p in module.parameters()})
    for module in virtual:
        owner.update({id(p): "language_model" for p in module.parameters()})
    owner.update({id(p): "connector" for p in parts.connector.parameters()})
    counts = {k: {"total": 0, "trainable": 0} for k in ("vision", "connector", "language_model")}
    counts["other"] = {"total": 0, "trainable": 0}
    for parameter in model.parameters():
        part = counts[owner.get(id(parameter), "other")]
        part["total"] += parameter.numel()
        part["trainable"] += parameter.numel() if parameter.requires_grad else 0
    return counts


def replace_module(model: nn.Module, old: nn.Module, new: nn.Module) -> None:
    """Put `new` where `old` is inside `model` (a method's wrapped language model, or the
    merged one on export)."""
    name = next(n for n, m in model.named_modules() if m is old)
    owner, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(owner), attribute, new)
