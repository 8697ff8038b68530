"""One tabular run, start to finish, for each pipeline (see `cells` for what they mean).

Every pipeline returns the same record: validation and test metrics (the downstream model's,
on the target's original scale), costs, and the training history. Costs are recorded per step
as well as in total: `step_seconds` lists the training seconds of each step (two entries for
two-step, as seed 000 writes "5.5h + 30min"), `train_seconds` is their sum. Where a language
model trains on tokens (one_step, two_step's step 1) the run also gets the shared token-level
costs (throughput, FLOPs, MFU) of that training.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict
from torch import nn

from tunebench.families.context import FamilyResult, RunContext
from tunebench.families.tabular.cells import Pipeline
from tunebench.families.tabular.config import DownstreamTrainingConfig
from tunebench.families.tabular.data import TabularData
from tunebench.families.tabular.encoder import encoder_with_method, step1
from tunebench.families.tabular.frozen import PipelineOutcome, embed_table, train_and_test
from tunebench.families.tabular.joint import JointModel, train_jointly
from tunebench.families.tabular.models import DOWNSTREAM_MODELS, AnyDownstreamConfig
from tunebench.families.tabular.models.ft_transformer import (
    FTTransformerWithText,
    make_parameter_groups,
)
from tunebench.families.tabular.models.gbdt import tfidf_features
from tunebench.families.tabular.train import Features
from tunebench.models.blocks import freeze, total_params
from tunebench.training.clock import elapsed
from tunebench.training.metering import trainable_state


class TabularRun(BaseModel):
    """The tabular family's own settings of a run (`RunSpec.options`)."""

    model_config = ConfigDict(frozen=True)
    pipeline: Pipeline
    downstream: AnyDownstreamConfig
    downstream_training: DownstreamTrainingConfig | None


def run_pipeline(context: RunContext) -> FamilyResult:
    run = TabularRun.model_validate(context.spec.options)
    return PIPELINES[run.pipeline](context, run)


def _tabular_only(context: RunContext, run: TabularRun) -> FamilyResult:
    data: TabularData = context.data
    features = {
        name: Features(split.numeric, split.categorical, [], split.target, split.ids)
        for name, split in data.splits.items()
    }
    outcome = _downstream(context, run, features)
    downstream = outcome.costs["train_seconds"]
    return _result(outcome, [downstream], {"downstream": downstream})


def _tfidf(context: RunContext, run: TabularRun) -> FamilyResult:
    data: TabularData = context.data
    started = time.perf_counter()
    names = list(data.splits)
    blocks = [
        tfidf_features(*(data.splits[name].texts[column] for name in names))
        for column in data.text_columns
    ]
    features = {
        name: Features(
            split.numeric, split.categorical, [b[i] for b in blocks], split.target, split.ids
        )
        for i, (name, split) in enumerate(data.splits.items())
    }
    tfidf_seconds = elapsed(started)
    outcome = _downstream(context, run, features)
    outcome.costs["tfidf_seconds"] = tfidf_seconds
    downstream = outcome.costs["train_seconds"]
    parts = {"tfidf": tfidf_seconds, "downstream": downstream}
    return _result(outcome, [tfidf_seconds + downstream], parts)


def _frozen(context: RunContext, run: TabularRun) -> FamilyResult:
    backbone, encoder, pooling = encoder_with_method(context)
    freeze(encoder)
    encoder.to(context.accelerator.device)
    outcome = _embed_and_train(context, run, backbone, encoder, pooling)
    parts = _step2_parts(outcome)
    return _result(outcome, [sum(parts.values())], parts)


def _one_step(context: RunContext, run: TabularRun) -> FamilyResult:
    data: TabularData = context.data
    backbone, encoder, pooling = encoder_with_method(context)
    rate, search, parts = _joint_rate(context, run, backbone, encoder, pooling)
    width = encoder.config.hidden_size
    downstream = DOWNSTREAM_MODELS[run.downstream.name].build(
        run.downstream,
        n_num=data.train.numeric.shape[1],
        cat_cardinalities=data.cardinalities,
        text_dims=[width] * len(data.text_columns),
        d_out=data.d_out,
    )
    model = JointModel(encoder, downstream, data.problem, len(data.text_columns))
    tuned = [p for p in encoder.parameters() if p.requires_grad]
    decay = context.spec.training.weight_decay
    groups = context.method_groups(encoder) or [{"params": tuned, "weight_decay": decay}]
    groups += _downstream_groups(downstream, run.downstream_training, rate)
    joint = train_jointly(context, model, backbone.tokenizer, groups)
    costs = {
        **joint.costs,
        **search,
        "lm_trainable_params": sum(p.numel() for p in tuned),
        "downstream_params": sum(p.numel() for p in downstream.parameters()),
        "total_params": total_params(model),
        "downstream_learning_rate": rate,
        "step_seconds": [search.get("rate_search_seconds", 0.0) + joint.costs["train_seconds"]],
        "train_parts": {**parts, "language_model": joint.costs["train_seconds"]},
    }
    costs["train_seconds"] = sum(costs["step_seconds"])
    return FamilyResult(
        joint.metrics,
        joint.outcome,
        model,
        backbone.model,
        joint.test_seconds,
        token_model=encoder,
        costs=costs,
    )


def _joint_rate(context, run, backbone, encoder, pooling) -> tuple[float, dict, dict]:
    """The downstream model's rate in joint training, the search that chose it, and the
    search's training parts (its embedding pass and downstream trainings).

    A search of joint fine-tunings would cost one fine-tuning per candidate, so one_step searches
    on the features of the encoder it starts from (a frozen pipeline's run: one embedding pass
    and a downstream training per candidate) and trains jointly at the rate that wins there.
    """
    settings = run.downstream_training
    if settings.learning_rate != "search":
        return settings.learning_rate, {}, {}
    encoder.to(context.accelerator.device)
    outcome = _embed_and_train(context, run, backbone, encoder, pooling)
    parts = _step2_parts(outcome)
    search = {
        "rate_search_seconds": sum(parts.values()),
        "learning_rate_search": outcome.costs.get("learning_rate_search", []),
    }
    return outcome.costs["downstream_learning_rate"], search, parts


def _two_step(context: RunContext, run: TabularRun) -> FamilyResult:
    backbone, encoder, pooling = encoder_with_method(context)
    first = step1(context, backbone, encoder)
    step1_state = trainable_state(encoder)
    freeze(encoder)
    encoder.to(context.accelerator.device)
    outcome = _embed_and_train(context, run, backbone, encoder, pooling)
    parts = _step2_parts(outcome)
    outcome.metrics["step1"] = first.summary.pop("metrics")
    outcome.costs["step1"] = first.summary
    outcome.costs["lm_trainable_params"] = first.summary["trainable_params"]
    for key in ("train_flops", "mfu"):
        outcome.costs[key] = first.summary.get(key)
    parts["language_model"] = first.summary["train_seconds"]
    step2_seconds = parts["embedding"] + parts["downstream"]
    result = _result(outcome, [first.summary["train_seconds"], step2_seconds], parts)
    downstream = trainable_state(outcome.model) if outcome.model is not None else {}
    result.checkpoint = {
        **{f"encoder.{k}": v for k, v in step1_state.items()},
        **{f"downstream.{k}": v for k, v in downstream.items()},
    }
    return result


def _embed_and_train(context, run, backbone, encoder, pooling) -> PipelineOutcome:
    training = context.spec.training
    features, embed_costs = embed_table(
        context.data,
        encoder,
        backbone.tokenizer,
        pooling,
        training.max_length,
        context.cache_dir / "embeddings",
    )
    context.seed()
    outcome = _downstream(context, run, features)
    costs = outcome.costs
    costs["downstream_train_seconds"] = costs.pop("train_seconds")
    costs["total_params"] = costs.get("trainable_params", 0) + total_params(encoder)
    costs.update(embed_costs)
    return outcome


def _downstream(context: RunContext, run: TabularRun, features: dict) -> PipelineOutcome:
    return train_and_test(
        context.data,
        features,
        run.downstream,
        run.downstream_training,
        context.spec.seed,
        context.accelerator,
        context.on_step,
    )


def _step2_parts(outcome: PipelineOutcome) -> dict[str, float]:
    """The training parts of an embedding pass and the downstream training on its features."""
    costs = outcome.costs
    return {"embedding": costs["embed_seconds"], "downstream": costs["downstream_train_seconds"]}


def _result(
    outcome: PipelineOutcome, step_seconds: list[float], parts: dict[str, float]
) -> FamilyResult:
    """A pipeline that trains its downstream model on fixed features: the run's training is the
    downstream model's (rows, not tokens; two-step's step 1 reports its own under `step1`).
    `parts` split the same seconds by what they scale with (sizes.py)."""
    outcome.costs["step_seconds"] = step_seconds
    outcome.costs["train_seconds"] = sum(step_seconds)
    outcome.costs["train_parts"] = parts
    return FamilyResult(
        outcome.metrics,
        outcome.outcome,
        outcome.model,
        None,
        outcome.test_seconds,
        costs=outcome.costs,
        history=outcome.history,
    )


def _downstream_groups(
    downstream: nn.Module, settings: DownstreamTrainingConfig, rate: float
) -> list[dict]:
    """The downstream model's parameters at its own learning rate and weight decay (the
    FT-Transformer's tokenizer, norms and biases without decay, as in its paper)."""
    if isinstance(downstream, FTTransformerWithText):
        groups = make_parameter_groups(downstream)
    else:
        groups = [{"params": list(downstream.parameters())}]
    for group in groups:
        group.setdefault("weight_decay", settings.weight_decay)
        group["lr"] = rate
    return groups


PIPELINES: dict[str, Callable[[RunContext, TabularRun], FamilyResult]] = {
    "tabular_only": _tabular_only,
    "tfidf": _tfidf,
    "frozen": _frozen,
    "one_step": _one_step,
    "two_step": _two_step,
}
