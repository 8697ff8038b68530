"""One study data-parallel over two CPU processes (gloo) through `accelerate launch`."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from tunebench.store import ResultsStore


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch(study: Path, out: Path, processes: int) -> None:
    """`accelerate launch` (its multi-GPU launcher: gloo on a machine without GPUs), or plain
    `python -m tunebench.cli` for one process."""
    command = [sys.executable]
    if processes > 1:
        command = [str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu"]
        command += ["--num_processes", str(processes), "--num_machines", "1"]
        command += ["--main_process_port", str(_free_port())]
        command += ["--mixed_precision", "no", "--dynamo_backend", "no"]
    command += ["-m", "tunebench.cli", "run", str(study), "-o", str(out)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_study_trains_data_parallel_on_two_cpu_processes(tiny_assets, tmp_path):
    study = {
        "name": "ddp",
        "backbones": [str(tiny_assets / "lm")],
        "tasks": [{"name": "mine", "path": str(tiny_assets / "task.csv")}],
        "methods": [{"name": "lora", "r": 4}, "full"],
        "training": {"epochs": 2, "batch_size": 8, "max_length": 32},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))

    _launch(tmp_path / "study.yaml", tmp_path / "two", processes=2)
    _launch(tmp_path / "study.yaml", tmp_path / "one", processes=1)
    with ResultsStore(tmp_path / "two" / "results.sqlite") as store:
        parallel = {r.method: r for r in store.runs()}
    with ResultsStore(tmp_path / "one" / "results.sqlite") as store:
        single = {r.method: r for r in store.runs()}

    assert sorted(parallel) == ["full", "lora"]  # each run recorded once, by the main process
    for method, run in parallel.items():
        assert run.status == "completed"
        assert run.costs["processes"] == 2 and single[method].costs["processes"] == 1
        # the training batches were sharded: each process took half of each epoch's batches
        per_epoch = single[method].costs["steps"] // 2
        assert run.costs["steps"] == 2 * -(-per_epoch // 2)
        assert 0 <= run.metrics["test"]["accuracy"] <= 1
    # a re-launch finds everything done and runs nothing again
    started = {r.run_id: r.started_at for r in parallel.values()}
    _launch(tmp_path / "study.yaml", tmp_path / "two", processes=2)
    with ResultsStore(tmp_path / "two" / "results.sqlite") as store:
        assert {r.run_id: r.started_at for r in store.runs()} == started
