"""`python -m bench.scaling [--quick]`: how tunebench's training time and peak memory grow
with the training-set size and with the sequence length, per method.

`minilm-l6` on `20newsgroups` (long posts, so `max_length` sets the sequence length), one epoch,
batch 16: sizes 1k, 2k and 4k examples at length 128, and lengths 64, 128 and 256 at 1k
examples (`--quick`: a quarter of each size; `--methods` picks some of lora, full, last_n,
frozen). Linear growth is the expectation: each row says how the time per example changes from
the smallest setting. Results go to `bench/results/scaling-<mode>-<time>.json`, rewritten after
every point. Each measurement runs in a fresh process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import torch

from bench.__main__ import RESULTS, in_fresh_process, machine
from tunebench.families.classification import ClassificationTask as TaskConfig
from tunebench.methods import METHODS
from tunebench.study.run_path import execute
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig

METHODS_MEASURED = (
    ("lora", {"r": 8, "target_modules": ["query", "value"]}),
    ("full", {}),
    ("last_n", {"n": 2}),
    ("frozen", {}),
)
SIZES = (1000, 2000, 4000)
LENGTHS = (64, 128, 256)


def measure(method: str, settings: dict, size: int, length: int, threads: int | None) -> dict:
    if threads:
        torch.set_num_threads(threads)
    spec = RunSpec(
        backbone="minilm-l6",
        task=TaskConfig(name="20newsgroups", max_train_samples=size, max_eval_samples=200),
        method=METHODS[method].config(**settings),
        seed=0,
        training=TrainingConfig(
            epochs=1, batch_size=16, max_length=length, learning_rate=METHODS[method].default_lr
        ),
    )
    costs = execute(spec).costs
    return {
        "method": method,
        "examples": size,
        "max_length": length,
        "train_seconds": costs["train_seconds"],
        "seconds_per_example": costs["train_seconds"] / size,
        "peak_host_mb": costs["peak_host_mb"],
        "train_tokens_per_s": costs["train_tokens_per_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    parser.add_argument(
        "--methods", nargs="+", choices=[m for m, _ in METHODS_MEASURED], help="default: all"
    )
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    scale = 4 if arguments.quick else 1
    mode = "quick" if arguments.quick else "full"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"scaling-{mode}-{stamp}.json"
    report = {"mode": mode, "machine": machine(), "rows": []}
    RESULTS.mkdir(exist_ok=True)
    chosen = [(m, s) for m, s in METHODS_MEASURED if m in (arguments.methods or [m])]
    for method, settings in chosen:
        points = [(s // scale, 128) for s in SIZES] + [(SIZES[0] // scale, n) for n in LENGTHS]
        for size, length in dict.fromkeys(points):
            row = in_fresh_process(measure, method, settings, size, length, arguments.threads)
            report["rows"].append(row)
            # written after every point, so an interrupted run keeps what it measured
            path.write_text(json.dumps(report, indent=1))
            print(
                f"{method:<7} {size:>5} examples  length {length:>3}  "
                f"{row['train_seconds']:7.1f} s  "
                f"{row['seconds_per_example'] * 1000:6.1f} ms/example  "
                f"peak {row['peak_host_mb']:6.0f} MB",
                flush=True,
            )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
