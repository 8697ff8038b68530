"""The language model as the tabular pipelines use it: a `TextEncoder` (backbone + pooling)
with the run's method applied, and two-step's step 1, which fine-tunes it on the target from
the text columns alone before its embeddings feed the downstream model.

Step 1 depends on the backbone, task, method, training and seed, not on the downstream model,
so its weights and record are kept in the study's cache (`two_step/<step1 id>/`) and every
downstream model of the study reuses them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from tunebench.families.context import RunContext
from tunebench.families.tabular.cells import step1_id
from tunebench.families.tabular.joint import JointModel, TextHead, train_jointly
from tunebench.models.backbones import Backbone
from tunebench.models.heads import TextEncoder
from tunebench.training import metering
from tunebench.training.costs import training_flops


def encoder_with_method(context: RunContext) -> tuple[Backbone, nn.Module, str]:
    """(backbone, the text encoder with the run's method applied, its pooling), seeded."""
    backbone = context.backbone()
    pooling = context.spec.training.pooling
    pooling = backbone.default_pooling if pooling == "auto" else pooling
    context.seed()
    encoder = TextEncoder(backbone.model, pooling)
    return backbone, context.apply_method(encoder, backbone, "text_encoder"), pooling


@dataclass
class Step1:
    summary: dict
    """Step 1's costs and its metrics (under "metrics"); `reused` when an earlier run of the
    study trained it."""


def step1(context: RunContext, backbone: Backbone, encoder: nn.Module) -> Step1:
    """Fine-tune `encoder` on the target from its texts alone (a linear head over the text
    columns' embeddings), or load the weights an earlier run of the study trained; either way
    `encoder` holds step 1's weights afterwards."""
    folder = context.cache_dir / "two_step" / step1_id(context.spec)
    record, weights = folder / "step1.json", folder / "encoder.safetensors"
    if record.is_file() and weights.is_file():
        unexpected = encoder.load_state_dict(load_file(weights), strict=False).unexpected_keys
        assert not unexpected, f"step-1 weights do not fit the encoder: {unexpected[:3]}"
        return Step1({**json.loads(record.read_text()), "reused": True})
    data = context.data
    width = encoder.config.hidden_size
    head = TextHead([width] * len(data.text_columns), data.d_out)
    model = JointModel(encoder, head, data.problem, len(data.text_columns))
    joint = train_jointly(context, model, backbone.tokenizer)
    state = metering.trainable_state(encoder)
    flops = training_flops(joint.outcome, encoder, backbone.model, context.spec.training)
    peak = metering.machine_peak_flops(context.accelerator.device)
    summary = {
        **joint.costs,
        "trainable_params": sum(t.numel() for t in state.values()),
        "train_flops": flops,
        "mfu": flops / max(joint.outcome.train_seconds, 1e-9) / peak,
        "metrics": joint.metrics,
    }
    _save(folder, weights, record, state, summary)
    return Step1({**summary, "reused": False})


def _save(folder: Path, weights: Path, record: Path, state: dict, summary: dict) -> None:
    """Staged under this process's id: parallel workers may finish the same step 1 at once;
    the record is written last, so a record means the weights are complete."""
    folder.mkdir(parents=True, exist_ok=True)
    staged_weights = weights.with_suffix(f".{os.getpid()}.tmp")
    save_file(state, staged_weights)
    staged_weights.rename(weights)
    staging = record.with_suffix(f".{os.getpid()}.tmp")
    staging.write_text(json.dumps(summary))
    staging.rename(record)
