"""`python -m bench.subnormals RUNS.json BACKBONE,TASK,METHOD,SEED`: does flushing subnormal
floats to zero change a recorded CPU run's speed or its results on this machine?

Some CPUs slow down by orders of magnitude on subnormal (denormal) floats; prompt tuning on
Gemma 3 270M produces them (on an Intel Xeon guest it trained 6x slower than with
`torch.set_flush_denormal(True)`). Flushing is a one-line change to the run path, worth making
only if it leaves results unchanged. This reruns one recorded run (from a `tunebench results
-f json` export such as docs/data/*.json) twice in this process, as recorded and with
flush-to-zero, on one thread, and writes each side's train seconds, loss history and test
metrics beside the record's to `bench/results/subnormals-<time>.json` with the machine's
description. Compare within one machine: the same run on another CPU model can differ.
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import torch

from tunebench.provenance import collect_provenance
from tunebench.study import run_path
from tunebench.study.run_path import execute
from tunebench.study.spec import RunSpec
from tunebench.training.metrics import separate_examples

RESULTS = Path(__file__).parent / "results"


def recorded_run(runs_file: Path, wanted: str) -> dict:
    """The exported run whose `backbone,task,method,seed` is `wanted`."""
    for run in json.loads(runs_file.read_text()):
        if ",".join(str(run[k]) for k in ("backbone", "task", "method", "seed")) == wanted:
            return run
    raise SystemExit(f"{runs_file}: no run {wanted} (backbone,task,method,seed)")


def side(spec: RunSpec, flush: bool) -> dict:
    """One rerun: its train seconds, losses and test metrics (per-example values left out).
    The run path flushes subnormals (training/subnormals.py); the plain side runs it with
    IEEE subnormals, as runs recorded before 2026-12-08 did."""
    if flush:
        outcome = execute(spec)
    else:
        with patch.object(run_path, "subnormals_flushed", lambda: nullcontext(False)):
            outcome = execute(spec)
    assert outcome.costs["flush_denormal"] is flush
    test = separate_examples(outcome.metrics)["test"]
    return {
        "train_seconds": outcome.costs["train_seconds"],
        "losses": [entry.get("loss") for entry in outcome.history],
        "test": {k: v for k, v in test.items() if k != "per_class"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_file", type=Path)
    parser.add_argument("run", help="backbone,task,method,seed of the recorded run")
    args = parser.parse_args()
    run = recorded_run(args.runs_file, args.run)
    spec = RunSpec.from_flat(run["config"])
    torch.set_num_threads(1)
    plain, flushed = side(spec, flush=False), side(spec, flush=True)
    result = {
        "run": args.run,
        "run_id": spec.run_id,
        "recorded": {
            "machine": run["provenance"].get("cpu_model"),
            "train_seconds": run["costs"]["train_seconds"],
            "losses": [entry.get("loss") for entry in run["history"]],
            "test": {k: v for k, v in run["metrics"]["test"].items() if k != "per_class"},
        },
        "plain": plain,
        "flush_to_zero": flushed,
        "identical_results": plain["losses"] == flushed["losses"]
        and plain["test"] == flushed["test"],
        "speedup": plain["train_seconds"] / flushed["train_seconds"],
        "machine": collect_provenance(),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"subnormals-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("run", "identical_results", "speedup")}), path)


if __name__ == "__main__":
    main()
