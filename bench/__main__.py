"""`python -m bench [--quick]`: tunebench against the plain scripts of `baselines.py`.

Quick mode (a few minutes on a 2-core CPU) runs the four comparisons with the HF Trainer; full
mode adds the pad-to-max-length script and the tabular frozen pipeline against its floor.

Every comparison runs tunebench and a baseline on identical work — `minilm-l6` on `sms_spam`,
the same training subset, batch size, epochs, learning rate (the method's default) and seed —
in this one process, one after the other, and records both sides' training samples/s and test
accuracy. Results go to `bench/results/<mode>-<time>.json` with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

import torch

from bench.baselines import BaselineResult, maxlen_baseline, trainer_baseline
from bench.tabular import compare_frozen_pipeline
from tunebench.families.classification import ClassificationTask as TaskConfig
from tunebench.methods import METHODS
from tunebench.provenance import collect_provenance
from tunebench.study.run_path import execute
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig
from tunebench.training.metering import machine_peak_flops

RESULTS = Path(__file__).parent / "results"
MODES = {
    # training examples, test examples, epochs: last_n and frozen need >= 3 epochs
    "quick": {"train": 256, "eval": 256, "epochs": 3},
    "full": {"train": 1000, "eval": None, "epochs": 3},
}
COMPARISONS = (  # name, method, its settings, baseline
    ("lora_vs_trainer", "lora", {"r": 8, "target_modules": ["query", "value"]}, "trainer"),
    ("full_vs_trainer", "full", {}, "trainer"),
    ("last_n_vs_trainer", "last_n", {"n": 2}, "trainer"),
    ("frozen_vs_trainer", "frozen", {}, "trainer"),
    ("lora_vs_maxlen", "lora", {"r": 8, "target_modules": ["query", "value"]}, "maxlen"),
    ("full_vs_maxlen", "full", {}, "maxlen"),
)
QUICK_SKIPS = {"lora_vs_maxlen", "full_vs_maxlen", "tabular_frozen_vs_floor"}  # full mode only
BASELINES = {"trainer": trainer_baseline, "maxlen": maxlen_baseline}


def spec_for(
    method: str, settings: dict, mode: dict, seed: int = 0, compile: bool = False
) -> RunSpec:
    task = TaskConfig(
        name="sms_spam", max_train_samples=mode["train"], max_eval_samples=mode["eval"]
    )
    training = TrainingConfig(
        epochs=mode["epochs"],
        batch_size=16,
        max_length=128,
        learning_rate=METHODS[method].default_lr,
        compile=compile,
    )
    config = METHODS[method].config(**settings)
    return RunSpec(backbone="minilm-l6", task=task, method=config, seed=seed, training=training)


def compare(
    name: str, method: str, settings: dict, baseline: str, mode: dict, compile: bool = False
) -> dict:
    """`compile`: tunebench's `training.compile`, and the Trainer's `torch_compile` (the
    max-length script stays eager)."""
    spec = spec_for(method, settings, mode, compile=compile)
    ours = execute(spec)
    theirs: BaselineResult = BASELINES[baseline](spec)
    samples_per_s = ours.costs["train_samples_per_s"]
    return {
        "name": name,
        "method": method,
        "baseline": baseline,
        "tunebench_samples_per_s": samples_per_s,
        "baseline_samples_per_s": theirs.samples_per_s,
        "ratio": samples_per_s / theirs.samples_per_s,
        "tunebench_accuracy": ours.metrics["test"]["accuracy"],
        "baseline_accuracy": theirs.test_accuracy,
        "tunebench_train_seconds": ours.costs["train_seconds"],
        "baseline_train_seconds": theirs.train_seconds,
        "tunebench_mfu": ours.costs["mfu"],
    }


def machine() -> dict:
    """This machine as the results file records it: provenance, threads, measured peak."""
    return {
        **collect_provenance(),
        "torch_threads": torch.get_num_threads(),
        "matmul_peak_flops": machine_peak_flops(torch.device("cpu")),
    }


def in_fresh_process(function: Callable[..., dict], *args) -> dict:
    """`function(*args)` in a new spawned process, so that its peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as fresh:
        return fresh.submit(function, *args).result()


def wanted(name: str, quick: bool, only: list[str] | None) -> bool:
    """`--only` picks comparisons by name; otherwise quick mode leaves out the slow ones."""
    return name in only if only else not (quick and name in QUICK_SKIPS)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few minutes on a 2-core CPU")
    parser.add_argument("--only", nargs="*", help="run only these comparisons (by name)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile (tunebench and the Trainer)"
    )
    arguments = parser.parse_args()
    mode_name = "quick" if arguments.quick else "full"
    mode = MODES[mode_name]
    torch.set_num_threads(arguments.threads or os.cpu_count() or 1)
    started = time.perf_counter()
    comparisons = []
    for name, method, settings, baseline in COMPARISONS:
        if not wanted(name, arguments.quick, arguments.only):
            continue
        row = compare(name, method, settings, baseline, mode, arguments.compile)
        comparisons.append(row)
        print(
            f"{name:<20} tunebench {row['tunebench_samples_per_s']:7.1f}/s "
            f"({row['tunebench_accuracy']:.2%})  {baseline} {row['baseline_samples_per_s']:7.1f}/s "
            f"({row['baseline_accuracy']:.2%})  ratio {row['ratio']:.2f}x",
            flush=True,
        )
    if wanted("tabular_frozen_vs_floor", arguments.quick, arguments.only):
        row = compare_frozen_pipeline()
        comparisons.append(row)
        print(
            f"{row['name']:<20} tunebench {row['tunebench_wall_seconds']:.1f} s end to end, "
            f"floor {row['plain_inference_seconds']:.1f} s inference + "
            f"{row['downstream_train_seconds']:.1f} s downstream: ratio {row['ratio']:.2f}x; "
            f"{row['backbone_texts_encoded']} of {row['distinct_texts']} distinct texts encoded",
            flush=True,
        )
    full = [c for c in comparisons if c.get("method") == "full"]
    report = {
        "mode": mode_name,
        "settings": {
            **mode,
            "backbone": "minilm-l6",
            "task": "sms_spam",
            "batch_size": 16,
            "max_length": 128,
            "seed": 0,
            "compile": arguments.compile,
        },
        "machine": machine(),
        "comparisons": comparisons,
        "mfu_full_ft": full[0]["tunebench_mfu"] if full else None,
        "wall_seconds": time.perf_counter() - started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"{mode_name}{'-compile' if arguments.compile else ''}-{stamp}.json"
    path.write_text(json.dumps(report, indent=1))
    if report["mfu_full_ft"] is not None:
        print(f"MFU of full fine-tuning: {report['mfu_full_ft']:.1%}")
    print(f"wrote {path} ({report['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
