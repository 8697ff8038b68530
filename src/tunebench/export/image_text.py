"""A visual_qa run's trained image-text model, rebuilt and written as one model folder.

The run's method sits inside the language model (or, for prompt learning, around the whole
model), so a PEFT adapter of it would name modules no loader of the image-text model expects.
What a user can load everywhere is the whole model: `AutoModelForImageTextToText` and
`AutoProcessor` on the folder. So an image-text run is written in the model format only: a
method that changes weights in place (`full`, `last_n`, `bitfit`; `frozen` with a trained
connector) as it is, a method whose update folds into the weights with `--merge`, and the
others (prompt learning, bottleneck adapters, tuners that do not merge) are refused with the
reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peft import PeftModel
from torch import nn

from tunebench.errors import UserError
from tunebench.methods import METHODS
from tunebench.models.image_text import image_text_parts, load_image_text, replace_module
from tunebench.study.spec import RunSpec


def image_text_model(spec: RunSpec) -> tuple[nn.Module, Any]:
    """(the model as `visual_qa` built it before training, its processor): the method
    applied to the language model, the connector trainable where the run trained it."""
    model, processor = load_image_text(spec.backbone, spec.trust_remote_code)
    model.requires_grad_(False)
    method = METHODS[spec.method.name]
    model = method.apply_to_image_text(model, image_text_parts(model).language, spec.method)
    if spec.options.get("connector") == "trainable":
        image_text_parts(model).connector.requires_grad_(True)
    return model, processor


def write_image_text(model: nn.Module, spec: RunSpec, out: Path, merge: bool) -> str:
    """Write the trained image-text model into `out` as a model folder; returns "model"."""
    method = METHODS[spec.method.name]
    if method.prompt_learning or spec.method.name == "adapter":
        raise UserError(
            f"a visual_qa run exports as one image-text model folder; {method.name}'s trained "
            "tokens or adapters are not weights of that model, so it cannot be written yet"
        )
    language = image_text_parts(model).language
    if isinstance(language, PeftModel):
        if not merge:
            raise UserError(
                f"a visual_qa run exports as one image-text model folder: pass --merge to fold "
                f"{method.name}'s update into the language model's weights"
            )
        replace_module(model, language, language.merge_and_unload())
    model.save_pretrained(out, safe_serialization=True)
    return "model"
