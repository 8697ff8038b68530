"""The recipe the decoder families share: a causal language model with its own head, a method,
the family's batches and scoring, the same loop, metering and store as every family.

Each family (generation, multiple choice, preference) only says how its data becomes training
batches and scoring functions (`CausalLMFamily.prepare`, called before the method is applied:
DPO's reference is the model as loaded). `frozen` trains nothing here (a language model has no
separate head), so its run is the zero-shot evaluation of the pretrained model. With
`forgetting: true` the run also records how much training raised the loss on general text
(forgetting.py); with `eval_tasks` it is also tested on those tasks' test splits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from tunebench.families.causal_lm.forgetting import general_loss, general_sequences
from tunebench.families.causal_lm.logprobs import response_loss
from tunebench.families.causal_lm.scoring import CausalRun
from tunebench.families.context import FamilyResult, RunContext
from tunebench.models.backbones import Backbone
from tunebench.training.clock import elapsed

Prepare = Callable[[RunContext, Backbone], CausalRun]


def train_and_test(prepare: Prepare, context: RunContext) -> FamilyResult:
    spec, accelerator = context.spec, context.accelerator
    backbone = context.causal_lm()
    model = backbone.model.to(accelerator.device)
    pad, rows = backbone.tokenizer.pad_token_id, spec.training.eval_batch_size
    forgetting = spec.task.forgetting
    if forgetting:
        general = general_sequences(backbone.tokenizer)
        loss_before = general_loss(model, general, pad, accelerator, rows)
    others = {  # prepared, like the run, from the model as loaded; before the seed is set,
        # so that the run trains exactly as it would without them
        other.name: prepare(replace(context, data=context.family.load(other)), backbone).test
        for other in spec.task.transfer_tasks()
    }
    context.seed()  # the method's random initialisation
    run = prepare(context, backbone)
    model = context.apply_method(model, backbone, "causal_lm")
    model = run.wrap(model).to(accelerator.device)
    outcome = context.fit(
        model,
        run.batches,
        run.loader,
        run.validate,
        prefix_tokens=run.prefix_tokens,
        examples_in=run.examples_in,
        loss_of=run.loss_of or response_loss,
    )
    model = accelerator.unwrap_model(model)
    started = time.perf_counter()
    metrics = {"validation": outcome.best_validation, "test": run.test(model)}
    test_seconds = elapsed(started)
    started = time.perf_counter()
    if others:
        metrics["transfer"] = {name: test(model) for name, test in others.items()}
    costs = {"transfer_seconds": elapsed(started)} if others else {}
    if forgetting:
        loss_after = general_loss(run.policy(model), general, pad, accelerator, rows)
        metrics["forgetting"] = {
            "loss_before": loss_before,
            "loss_after": loss_after,
            "rise": loss_after - loss_before,
        }
    return FamilyResult(metrics, outcome, model, backbone.model, test_seconds, costs=costs)
