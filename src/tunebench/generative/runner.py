"""One generative run: a decoder with its language-modelling head, a method, a task family.

The same loop, metering and store as classification. The family (`sft`, `choice`, `dpo`)
supplies the batches and the scoring; `frozen` trains nothing here (a language model has no
separate head), so its run is the zero-shot evaluation of the pretrained model.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from accelerate.utils import set_seed
from safetensors.torch import save_file

from tunebench.backbones import load_causal_lm
from tunebench.config import RunSpec
from tunebench.errors import UserError
from tunebench.generative import choice, dpo, sft
from tunebench.generative.forgetting import general_loss, general_sequences
from tunebench.methods import METHODS
from tunebench.runner import RunOutcome, run_costs, validation_seconds
from tunebench.tasks import load_task
from tunebench.training import checkpointing, metering
from tunebench.training.loop import (
    RunFailed,
    StepCallback,
    TrainOutcome,
    fit,
    make_accelerator,
    with_frozen_prefix,
)

FAMILIES = {"generation": sft.prepare, "multiple_choice": choice.prepare, "preference": dpo.prepare}


def execute_generative(
    spec: RunSpec, checkpoint_dir: Path | None = None, on_step: StepCallback | None = None
) -> RunOutcome:
    wall_started = time.perf_counter()
    with metering.PeakHostMemory() as host_memory:
        accelerator = make_accelerator(spec.training)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        data = load_task(spec.task)
        try:
            backbone = load_causal_lm(spec.backbone, trust_remote_code=spec.trust_remote_code)
        except UserError as error:
            raise RunFailed("unsupported", str(error)) from error
        model = backbone.model.to(accelerator.device)
        pad, rows = backbone.tokenizer.pad_token_id, spec.training.eval_batch_size
        if spec.task.forgetting:
            general = general_sequences(backbone.tokenizer)
            loss_before = general_loss(model, general, pad, accelerator, rows)
        set_seed(spec.seed)  # the method's random initialisation
        family = FAMILIES[spec.task.family](data, backbone, spec, accelerator)
        try:
            checkpointing.enable_if_asked(model, spec.training, spec.method.name)
            model = METHODS[spec.method.name].apply(model, spec.method, backbone.path)
        except UserError as error:
            raise RunFailed("unsupported", str(error)) from error
        model = family.wrap(model).to(accelerator.device)
        frozen = spec.method.name == "frozen"
        if not frozen and not metering.trainable_state(model):
            raise RunFailed("unsupported", f"method {spec.method.name} left nothing to train")

        def run() -> TrainOutcome:
            if frozen:
                return _zero_shot(family.validate(model))
            return fit(
                model,
                family.batches,
                family.loader,
                family.validate,
                spec.training,
                spec.training.learning_rate,
                accelerator,
                on_step,
                examples_in=family.examples_in,
            )

        if family.prefix_tokens is None:  # the family's batches carry no cache keys
            outcome = run()
        else:  # a zero-shot run validates once: nothing to cache
            outcome = with_frozen_prefix(model, family.prefix_tokens, not frozen, run)
        model = accelerator.unwrap_model(model)
        eval_started = time.perf_counter()
        test_metrics = family.test(model)
        test_seconds = time.perf_counter() - eval_started
        metrics = {"validation": outcome.best_validation, "test": test_metrics}
        if spec.task.forgetting:
            policy = model.policy if isinstance(model, dpo.PreferenceModel) else model
            loss_after = general_loss(policy, general, pad, accelerator, rows)
            metrics["forgetting"] = {
                "loss_before": loss_before,
                "loss_after": loss_after,
                "rise": loss_after - loss_before,
            }
        final_state = metering.trainable_state(model)
        if checkpoint_dir is not None and final_state:
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            save_file(final_state, checkpoint_dir / "trainable.safetensors")

    costs = run_costs(
        model,
        backbone.model,
        outcome,
        spec.training,
        accelerator,
        test_seconds + validation_seconds(outcome),
        wall_started,
        host_memory,
        final_state,
    )
    return RunOutcome(metrics, costs, outcome.history, data.data_sha256)


def _zero_shot(validation: dict) -> TrainOutcome:
    """The outcome of a run that trains nothing: the validation metrics, no steps."""
    return TrainOutcome(validation, -1, 0, 0.0, 0, 0, 0, [])
