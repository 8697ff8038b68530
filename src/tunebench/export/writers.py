"""How a rebuilt run is written out, by what its method changed.

    peft methods (lora, ia3, prefix, prompt)  -> adapter_config.json + adapter_model.safetensors,
        the module names of the backbone as AutoModel (classifiers) or AutoModelForCausalLM
        loads it, so `PeftModel.from_pretrained(AutoModel.from_pretrained(base), folder)` works
    --merge (lora, ia3), full, last_n, bitfit, frozen -> a `save_pretrained` model folder
    adapter (bottleneck, ours)                 -> bottleneck.json + bottleneck.safetensors
    an image-text (visual_qa) run              -> the whole model's folder (export/image_text.py)

A classifier's head (a linear layer on the pooled hidden states, or on every token's for a
token classifier) goes beside it in head.safetensors; the pooling and label names are in
tunebench.json (export/folder.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from peft import PeftModel, get_peft_model_state_dict
from safetensors.torch import save_file
from torch import nn

from tunebench.errors import UserError
from tunebench.export.rebuild import Rebuilt
from tunebench.methods import METHODS

BOTTLENECK_CONFIG, BOTTLENECK_WEIGHTS = "bottleneck.json", "bottleneck.safetensors"
HEAD_WEIGHTS = "head.safetensors"
_WRAPPED = "base_model.model."
_IN_CLASSIFIER = "backbone."  # our classifier's name for the backbone inside it


def write(run: Rebuilt, out: Path, merge: bool) -> str:
    """Write `run` into `out`; returns the format written ("peft", "model" or "bottleneck")."""
    method = run.spec.method.name
    if merge and not METHODS[method].mergeable:
        mergeable = ", ".join(sorted(name for name, m in METHODS.items() if m.mergeable))
        raise UserError(
            f"--merge folds an update into the weights: it applies to {mergeable}, not to {method}"
        )
    if run.kind == "image_text":
        from tunebench.export.image_text import write_image_text

        return write_image_text(run.model, run.spec, out, merge)
    model = run.model
    if isinstance(model, PeftModel) and not merge and _relative_to_residual(model):
        raise UserError(
            f"a {method} adapter is relative to the residual of its initialisation, not to the "
            "pretrained weights: export it with --merge"
        )
    if isinstance(model, PeftModel) and merge:
        model = model.merge_and_unload()
    if isinstance(model, PeftModel):
        _write_peft(model, run, out)
        written = "peft"
    elif method == "adapter":
        _write_bottleneck(_backbone_of(model), run, out)
        written = "bottleneck"
    else:
        _backbone_of(model).save_pretrained(out, safe_serialization=True)
        written = "model"
    if run.kind != "causal_lm":
        save_file(_head_state(model), out / HEAD_WEIGHTS)
    return written


def _relative_to_residual(model: PeftModel) -> bool:
    """Whether the adapter's initialisation changed the base weights (PiSSA, OLoRA, ...)."""
    init = getattr(model.peft_config["default"], "init_lora_weights", True)
    return isinstance(init, str) and init.startswith(("pissa", "olora", "corda"))


def _backbone_of(model: nn.Module) -> nn.Module:
    """What a model folder holds: the transformer under our head, or the causal LM itself."""
    return getattr(model, "backbone", model)


def _write_peft(model: PeftModel, run: Rebuilt, out: Path) -> None:
    config = copy.deepcopy(model.peft_config["default"])
    config.base_model_name_or_path = str(Path(run.backbone.path).resolve())
    config.modules_to_save = None  # our head is written apart, in head.safetensors
    if run.kind != "causal_lm":
        # the bare transformer: peft's feature-extraction wrapper adds prompt / prefix tokens
        config.task_type = "FEATURE_EXTRACTION"
    state = {}
    for name, tensor in get_peft_model_state_dict(model).items():
        if ".classifier." in f".{name}":  # the head (peft's saved copy), written apart
            continue
        if run.kind != "causal_lm" and name.startswith(_WRAPPED + _IN_CLASSIFIER):
            name = _WRAPPED + name[len(_WRAPPED + _IN_CLASSIFIER) :]
        state[name] = tensor.detach().contiguous()
    config.save_pretrained(out)
    save_file(state, out / "adapter_model.safetensors", metadata={"format": "pt"})


def _write_bottleneck(backbone: nn.Module, run: Rebuilt, out: Path) -> None:
    from tunebench.models.bottleneck import DEFAULT_NON_LINEARITY

    settings = run.spec.method
    state = {
        name: tensor.contiguous()
        for name, tensor in backbone.state_dict().items()
        if ".adapter." in name or ".output_adapter." in name
    }
    config = {
        "placement": settings.placement,
        "reduction_factor": settings.reduction_factor,
        "non_linearity": settings.non_linearity or DEFAULT_NON_LINEARITY[settings.placement],
        "base_model_name_or_path": str(Path(run.backbone.path).resolve()),
        "model_class": "AutoModelForCausalLM" if run.kind == "causal_lm" else "AutoModel",
    }
    (out / BOTTLENECK_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    save_file(state, out / BOTTLENECK_WEIGHTS, metadata={"format": "pt"})


def _head_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The classifier's weight and bias as the run used them (peft keeps a trained copy of a
    head it was asked to save, beside the untouched original)."""
    classifier = (model.get_base_model() if isinstance(model, PeftModel) else model).classifier
    active = getattr(classifier, "modules_to_save", None)
    if active is not None:
        classifier = active["default"]
    return {name: t.detach().contiguous() for name, t in classifier.state_dict().items()}
