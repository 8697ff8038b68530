"""One tabular run, start to finish, for each pipeline (see `grid` for what they mean).

Every pipeline returns the same record: validation and test metrics (the downstream model's,
on the target's original scale), costs, and the training history. Costs are recorded per step
as well as in total: `step_seconds` lists the training seconds of each step (two entries for
two-step, as seed 000 writes "5.5h + 30min"), `train_seconds` is their sum.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import load_file, save_file
from torch import nn

from tunebench.backbones import Backbone, load_backbone
from tunebench.errors import UserError
from tunebench.heads import TextEncoder
from tunebench.methods import METHODS
from tunebench.methods.base import freeze
from tunebench.runner import RunOutcome, total_params
from tunebench.tabular.builtin import load_tabular_task
from tunebench.tabular.data import TabularData
from tunebench.tabular.frozen import PipelineOutcome, embed_table, train_and_test
from tunebench.tabular.grid import TabularRunSpec
from tunebench.tabular.joint import JointModel, TextHead, train_jointly
from tunebench.tabular.models import DOWNSTREAM_MODELS, FTTransformerWithText
from tunebench.tabular.models.ft_transformer import make_parameter_groups
from tunebench.tabular.models.gbdt import tfidf_features
from tunebench.tabular.train import Features
from tunebench.training import checkpointing, metering
from tunebench.training.loop import RunFailed, StepCallback, make_accelerator

Pipeline = Callable[[TabularRunSpec, TabularData, Path, StepCallback | None], PipelineOutcome]


def execute_tabular(
    spec: TabularRunSpec, cache_root: Path, on_step: StepCallback | None = None
) -> RunOutcome:
    """Run one cell; `cache_root` (the study's cache folder) holds shared embeddings and
    two-step's step-1 weights, so they are computed once per study."""
    started = time.perf_counter()
    data = load_tabular_task(spec.task)
    with metering.PeakHostMemory() as memory:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        outcome = PIPELINES[spec.pipeline](spec, data, cache_root, on_step)
    costs = {
        **outcome.costs,
        "wall_seconds": time.perf_counter() - started,
        "peak_host_mb": memory.peak_mb,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20
        if torch.cuda.is_available()
        else None,
    }
    return RunOutcome(outcome.metrics, costs, outcome.history, data.data_sha256)


def _tabular_only(spec, data, cache_root, on_step) -> PipelineOutcome:
    features = {
        name: Features(split.numeric, split.categorical, [], split.target)
        for name, split in data.splits.items()
    }
    outcome = train_and_test(
        data, features, spec.downstream, spec.downstream_training, spec.seed, on_step
    )
    return _with_steps(outcome, [outcome.costs["train_seconds"]])


def _tfidf(spec, data, cache_root, on_step) -> PipelineOutcome:
    started = time.perf_counter()
    names = list(data.splits)
    blocks = [
        tfidf_features(*(data.splits[name].texts[column] for name in names))
        for column in data.text_columns
    ]
    features = {
        name: Features(split.numeric, split.categorical, [b[i] for b in blocks], split.target)
        for i, (name, split) in enumerate(data.splits.items())
    }
    tfidf_seconds = time.perf_counter() - started
    outcome = train_and_test(data, features, spec.downstream, spec.downstream_training, spec.seed)
    outcome.costs["tfidf_seconds"] = tfidf_seconds
    return _with_steps(outcome, [tfidf_seconds + outcome.costs["train_seconds"]])


def _frozen(spec, data, cache_root, on_step) -> PipelineOutcome:
    backbone, encoder, pooling, accelerator = _encoder(spec)
    freeze(encoder)
    encoder.to(accelerator.device)
    outcome = _embed_and_train(spec, data, backbone, encoder, pooling, cache_root, on_step)
    embed = outcome.costs["embed_seconds"]
    return _with_steps(outcome, [embed + outcome.costs["downstream_train_seconds"]])


def _one_step(spec, data, cache_root, on_step) -> PipelineOutcome:
    backbone, encoder, _, accelerator = _encoder(spec)
    width = encoder.config.hidden_size
    downstream = DOWNSTREAM_MODELS[spec.downstream.name].build(
        spec.downstream,
        n_num=data.train.numeric.shape[1],
        cat_cardinalities=data.cardinalities,
        text_dims=[width] * len(data.text_columns),
        d_out=_d_out(data),
    )
    model = JointModel(encoder, downstream, data.problem, len(data.text_columns))
    tuned = [p for p in encoder.parameters() if p.requires_grad]
    groups = [{"params": tuned, "weight_decay": spec.training.weight_decay}]
    groups += _downstream_groups(downstream, spec)
    result = train_jointly(
        model, data, backbone.tokenizer, spec.training, spec.seed, accelerator, on_step, groups
    )
    costs = {
        **result.costs,
        "lm_trainable_params": sum(p.numel() for p in tuned),
        "downstream_params": sum(p.numel() for p in downstream.parameters()),
        "total_params": total_params(model),
        "downstream_learning_rate": spec.downstream_training.learning_rate,
    }
    return PipelineOutcome(
        result.metrics, {**costs, "step_seconds": [costs["train_seconds"]]}, result.history
    )


def _two_step(spec, data, cache_root, on_step) -> PipelineOutcome:
    backbone, encoder, pooling, accelerator = _encoder(spec)
    step1 = _step1(spec, data, backbone, encoder, accelerator, cache_root / "two_step", on_step)
    freeze(encoder)
    encoder.to(accelerator.device)
    outcome = _embed_and_train(spec, data, backbone, encoder, pooling, cache_root, on_step)
    step2_seconds = outcome.costs["embed_seconds"] + outcome.costs["downstream_train_seconds"]
    outcome.metrics["step1"] = step1.pop("metrics")
    outcome.costs["step1"] = step1
    outcome.costs["lm_trainable_params"] = step1["trainable_params"]
    return _with_steps(outcome, [step1["train_seconds"], step2_seconds])


def _step1(spec, data, backbone, encoder, accelerator, folder: Path, on_step) -> dict:
    """Fine-tune the backbone on the target from its texts alone (a linear head over the text
    columns' embeddings); shared by every downstream model with the same backbone, task,
    method, training and seed. Returns step 1's costs and metrics; `encoder` holds its weights.
    """
    folder = folder / spec.step1_id
    record, weights = folder / "step1.json", folder / "encoder.safetensors"
    if record.is_file() and weights.is_file():
        unexpected = encoder.load_state_dict(load_file(weights), strict=False).unexpected_keys
        assert not unexpected, f"step-1 weights do not fit the encoder: {unexpected[:3]}"
        return {**json.loads(record.read_text()), "reused": True}
    width = encoder.config.hidden_size
    head = TextHead([width] * len(data.text_columns), _d_out(data))
    model = JointModel(encoder, head, data.problem, len(data.text_columns))
    result = train_jointly(
        model, data, backbone.tokenizer, spec.training, spec.seed, accelerator, on_step
    )
    state = metering.trainable_state(encoder)
    summary = {
        **result.costs,
        "trainable_params": sum(t.numel() for t in state.values()),
        "metrics": result.metrics,
    }
    folder.mkdir(parents=True, exist_ok=True)
    # Staged under this process's id: parallel workers may finish the same step 1 at once.
    staged_weights = weights.with_suffix(f".{os.getpid()}.tmp")
    save_file(state, staged_weights)
    staged_weights.rename(weights)
    staging = record.with_suffix(f".{os.getpid()}.tmp")
    staging.write_text(json.dumps(summary))
    staging.rename(record)  # written last: a record means the weights are complete
    return {**summary, "reused": False}


def _encoder(spec: TabularRunSpec) -> tuple[Backbone, nn.Module, str, Accelerator]:
    """The backbone as a `TextEncoder` with the run's method applied (seeded)."""
    accelerator = make_accelerator(spec.training)
    backbone = load_backbone(spec.backbone, trust_remote_code=spec.trust_remote_code)
    pooling = spec.training.pooling
    pooling = backbone.default_pooling if pooling == "auto" else pooling
    set_seed(spec.seed)
    encoder = TextEncoder(backbone.model, pooling)
    try:
        checkpointing.enable_if_asked(backbone.model, spec.training, spec.method.name)
        encoder = METHODS[spec.method.name].apply(encoder, spec.method, backbone.path)
    except UserError as error:
        raise RunFailed("unsupported", str(error)) from error
    return backbone, encoder, pooling, accelerator


def _embed_and_train(
    spec, data, backbone, encoder, pooling, cache_root, on_step
) -> PipelineOutcome:
    features, embed_costs = embed_table(
        data,
        encoder,
        backbone.tokenizer,
        pooling,
        spec.training.max_length,
        cache_root / "embeddings",
    )
    set_seed(spec.seed)
    outcome = train_and_test(
        data, features, spec.downstream, spec.downstream_training, spec.seed, on_step
    )
    costs = outcome.costs
    costs["downstream_train_seconds"] = costs.pop("train_seconds")
    costs["total_params"] = costs.get("trainable_params", 0) + total_params(encoder)
    costs.update(embed_costs)
    return outcome


def _with_steps(outcome: PipelineOutcome, step_seconds: list[float]) -> PipelineOutcome:
    outcome.costs["step_seconds"] = step_seconds
    outcome.costs["train_seconds"] = sum(step_seconds)
    return outcome


def _downstream_groups(downstream: nn.Module, spec: TabularRunSpec) -> list[dict]:
    """The downstream model's parameters at its own learning rate and weight decay (the
    FT-Transformer's tokenizer, norms and biases without decay, as in its paper)."""
    settings = spec.downstream_training
    if isinstance(downstream, FTTransformerWithText):
        groups = make_parameter_groups(downstream)
    else:
        groups = [{"params": list(downstream.parameters())}]
    for group in groups:
        group.setdefault("weight_decay", settings.weight_decay)
        group["lr"] = settings.learning_rate
    return groups


def _d_out(data: TabularData) -> int:
    return len(data.label_names) if data.problem == "classification" else 1


PIPELINES: dict[str, Pipeline] = {
    "tabular_only": _tabular_only,
    "tfidf": _tfidf,
    "frozen": _frozen,
    "one_step": _one_step,
    "two_step": _two_step,
}
