"""`python -m bench.checkpointing`: what `training.gradient_checkpointing` saves and costs.

`smollm2-135m` on `xsum` (supervised fine-tuning, perplexity only), `full` and `lora` (r 8 on
q_proj / v_proj), each with checkpointing off and on, a few optimiser steps at the given batch
size and 256 tokens; evaluation on a few articles at that batch size too, so that training sets
the peak. Each measurement runs in a fresh process, so its peak memory is its own. Records peak
host memory, seconds per step and test perplexity (the same gradients: it should match). Results
go to `bench/results/checkpointing-<time>.json`, rewritten after every run.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import torch

from bench.__main__ import RESULTS, in_fresh_process, machine
from tunebench.families.generation import GenerationTask as GenerationTaskConfig
from tunebench.methods import METHODS
from tunebench.study.run_path import execute
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig

METHODS_MEASURED = (("full", {}), ("lora", {"r": 8, "alpha": 16}))


def measure(method: str, settings: dict, checkpointing: bool, arguments: dict) -> dict:
    if arguments["threads"]:
        torch.set_num_threads(arguments["threads"])
    batch, steps = arguments["batch_size"], arguments["steps"]
    spec = RunSpec(
        backbone="smollm2-135m",
        task=GenerationTaskConfig(
            name="xsum", max_train_samples=batch * steps, max_eval_samples=batch, generate=False
        ),
        method=METHODS[method].config(**settings),
        seed=0,
        training=TrainingConfig(
            epochs=1,
            batch_size=batch,
            eval_batch_size=batch,
            max_length=256,
            learning_rate=METHODS[method].default_lr,
            selection_metric="perplexity",
            gradient_checkpointing=checkpointing,
        ),
    )
    outcome = execute(spec)
    costs = outcome.costs
    return {
        "method": method,
        "gradient_checkpointing": checkpointing,
        "batch_size": batch,
        "steps": costs["steps"],
        "seconds_per_step": costs["train_seconds"] / max(costs["steps"], 1),
        "peak_host_mb": costs["peak_host_mb"],
        "test_perplexity": outcome.metrics["test"]["perplexity"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.checkpointing", description=__doc__)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    arguments = vars(parser.parse_args())
    if arguments["threads"]:
        torch.set_num_threads(arguments["threads"])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"checkpointing-{stamp}.json"
    report = {"settings": arguments, "machine": machine(), "rows": []}
    RESULTS.mkdir(exist_ok=True)
    for method, settings in METHODS_MEASURED:
        for checkpointing in (False, True):
            row = in_fresh_process(measure, method, settings, checkpointing, arguments)
            report["rows"].append(row)
            path.write_text(json.dumps(report, indent=1))  # an interrupted run keeps its rows
            print(
                f"{method:<5} checkpointing {'on ' if checkpointing else 'off'}  "
                f"{row['seconds_per_step']:6.1f} s/step  peak {row['peak_host_mb']:6.0f} MB  "
                f"test perplexity {row['test_perplexity']:.4f}",
                flush=True,
            )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
