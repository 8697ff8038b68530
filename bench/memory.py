"""`python -m bench.memory`: what each lever saves in a decoder's peak host memory.

`smollm2-135m` on `xsum` (supervised fine-tuning, perplexity only; batch 16, 256 tokens, a few
optimiser steps, evaluation at the same batch size so that training sets the peak), `full`
and `lora` (r 8 on q_proj / v_proj), then DPO on `summary_pairs` and zero-shot scoring of
`commonsense_qa`'s options. Levers, each alone and together:

- `logits`: `full` is how tunebench computed a decoder's loss and scores before
  (transformers' own loss, and a log-softmax, over every position's full-vocabulary logits;
  reproduced here by swapping the old functions in); `labelled` runs the head on labelled
  positions only, in one piece; `chunked` (what tunebench does now) also splits them into
  checkpointed chunks of `CHUNK_LOGITS` logits (families/causal_lm/logprobs.py).
- `checkpointing`: `training.gradient_checkpointing`.
- `dropout`: LoRA's dropout (0.1 by default; 0 lets peft skip copying its inputs).
- `allocator`: `mmap` sets glibc's `MALLOC_MMAP_THRESHOLD_` to 1 MiB, so that large
  tensors go back to the system when freed instead of staying in the heap.

Each measurement runs in a fresh process, so its peak is its own. Records peak host memory,
seconds per step and the test metric (the same computation: it should match across levers).
Results go to `bench/results/memory-<time>.json`, rewritten after every run.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime

import torch

from bench.__main__ import RESULTS, in_fresh_process, machine
from tunebench.families.generation import GenerationTask
from tunebench.families.multiple_choice import ChoiceTask
from tunebench.families.preference import PreferenceTask
from tunebench.methods import METHODS
from tunebench.study.run_path import execute
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig

LORA = {"r": 8, "alpha": 16}
BEFORE = {"logits": "full", "checkpointing": False}
AFTER = {"logits": "chunked", "checkpointing": False}
SCENARIOS = {  # group -> (task, method, method settings, levers) per measurement
    "xsum": [
        (task, method, settings, levers)
        for task in ("xsum",)
        for method, settings in (("full", {}), ("lora", LORA))
        for levers in (
            BEFORE,
            {"logits": "labelled", "checkpointing": False},
            AFTER,
            {"logits": "full", "checkpointing": True},
            {"logits": "chunked", "checkpointing": True},
        )
    ]
    + [
        ("xsum", "lora", {**LORA, "dropout": 0.0}, {**AFTER, "dropout": 0.0}),
        ("xsum", "lora", LORA, {**AFTER, "allocator": "mmap"}),
    ],
    "dpo": [("summary_pairs", "lora", LORA, levers) for levers in (BEFORE, AFTER)],
    "choice": [("commonsense_qa", "frozen", {}, levers) for levers in (BEFORE, AFTER)],
}
METRIC = {"xsum": "perplexity", "summary_pairs": "reward_accuracy", "commonsense_qa": "accuracy"}


def task_config(task: str, batch: int, steps: int):
    samples = {"max_train_samples": batch * steps, "max_eval_samples": batch}
    if task == "xsum":
        return GenerationTask(name=task, generate=False, **samples)
    if task == "summary_pairs":
        return PreferenceTask(name=task, **samples)
    return ChoiceTask(name=task, max_train_samples=batch, max_eval_samples=4 * batch)


def full_logits_logprobs(model, batch):
    """tunebench's scoring before the lean head: a log-softmax over every position's logits."""
    input_ids, labels = batch["input_ids"], batch["labels"]
    keys = {"example_index": batch["example_index"]} if "example_index" in batch else {}
    mask = batch["attention_mask"]
    logits = model(input_ids=input_ids, attention_mask=mask, use_cache=False, **keys).logits
    logits = logits[:, -input_ids.shape[1] : -1]
    targets = labels[:, 1:]
    counted = targets != -100
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    picked = logprobs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * counted).sum(1), counted.sum(1)


def use_logits(kind: str) -> None:
    """Swap in the computation a lever names (in this fresh process only)."""
    from tunebench.families.causal_lm import logprobs, recipe, scoring
    from tunebench.families.preference import run as preference
    from tunebench.training.loop import model_loss

    if kind == "full":
        recipe.response_loss = model_loss  # the model's own loss over all positions
        for module in (logprobs, scoring, preference):
            module.continuation_logprobs = full_logits_logprobs
    elif kind == "labelled":
        logprobs.CHUNK_LOGITS = 2**62  # one chunk, not checkpointed apart


def measure(task: str, method: str, settings: dict, levers: dict, arguments: dict) -> dict:
    if arguments["threads"]:
        torch.set_num_threads(arguments["threads"])
    use_logits(levers["logits"])
    batch, steps = arguments["batch_size"], arguments["steps"]
    spec = RunSpec(
        backbone="smollm2-135m",
        task=task_config(task, batch, steps),
        method=METHODS[method].config(**settings),
        seed=0,
        training=TrainingConfig(
            epochs=1,
            batch_size=batch,
            eval_batch_size=batch,
            max_length=256,
            learning_rate=METHODS[method].default_lr,
            selection_metric=METRIC[task],
            gradient_checkpointing=levers["checkpointing"],
        ),
    )
    outcome = execute(spec)
    costs, metric = outcome.costs, METRIC[task]
    return {
        "task": task,
        "method": method,
        "levers": levers,
        "steps": costs["steps"],
        "seconds_per_step": costs["train_seconds"] / max(costs["steps"], 1),
        "peak_host_mb": costs["peak_host_mb"],
        f"test_{metric}": outcome.metrics["test"][metric],
    }


def in_process_with(levers: dict, *args) -> dict:
    """`measure(*args)` in a fresh process, with the allocator's environment if one is set."""
    if levers.get("allocator") != "mmap":
        return in_fresh_process(measure, *args)
    os.environ["MALLOC_MMAP_THRESHOLD_"] = str(2**20)
    try:
        return in_fresh_process(measure, *args)
    finally:
        del os.environ["MALLOC_MMAP_THRESHOLD_"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="groups to run")
    arguments = vars(parser.parse_args())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"memory-{stamp}.json"
    report = {"settings": arguments, "machine": machine(), "rows": []}
    RESULTS.mkdir(exist_ok=True)
    for group in arguments["only"] or list(SCENARIOS):
        for task, method, settings, levers in SCENARIOS[group]:
            row = in_process_with(levers, task, method, settings, levers, arguments)
            report["rows"].append(row)
            path.write_text(json.dumps(report, indent=1))  # an interrupted run keeps its rows
            metric = next(v for k, v in row.items() if k.startswith("test_"))
            print(
                f"{task:<15} {method:<6} {json.dumps(levers):<62} "
                f"{row['seconds_per_step']:6.1f} s/step  peak {row['peak_host_mb']:6.0f} MB  "
                f"test {metric:.4f}",
                flush=True,
            )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
