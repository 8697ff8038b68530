"""Studies on the real MiniLM and real SMS spam: results, resume, failures that do not stop."""

import io
import json
import subprocess
import sys

import pytest
import torch
from rich.console import Console

from tunebench.store import ResultsStore
from tunebench.study import run_path as runner
from tunebench.study.expand import expand
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

pytestmark = pytest.mark.real

STUDY = """
name: tiny-real
backbones: [minilm-l6]
tasks:
  - {name: sms_spam, max_train_samples: 32, max_eval_samples: 24}
methods:
  - frozen
  - {name: lora, r: 8, target_modules: [query, value]}
  - {name: last_n, n: 1}
training: {epochs: 1, batch_size: 8, max_length: 64}
"""
COST_NAMES = {
    "train_seconds",
    "eval_seconds",
    "wall_seconds",
    "train_samples_per_s",
    "train_tokens_per_s",
    "peak_host_mb",
    "peak_gpu_mb",
    "trainable_params",
    "total_params",
    "checkpoint_mb",
    "train_flops",
    "mfu",
    "peak_flops",
}


class Stopped(BaseException):
    """Like KeyboardInterrupt or a kill, it is no Exception: nothing may record it as a result."""


@pytest.fixture
def study_file(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY)
    return path


def quiet() -> Console:
    return Console(file=io.StringIO())


def test_a_real_study_records_metrics_costs_and_provenance(study_file, tmp_path):
    out = tmp_path / "out"
    summary = run_study(load_study(study_file), out, quiet())
    assert (summary.completed, summary.failed) == (3, 0)
    with ResultsStore(out / "results.sqlite") as store:
        records = {r.method: r for r in store.runs()}
    lora = records["lora"]
    assert lora.costs["trainable_params"] == 74_498  # LoRA r=8 on query+value + 2-class head
    assert records["frozen"].costs["trainable_params"] == 384 * 2 + 2
    for record in records.values():
        assert set(record.costs) >= COST_NAMES
        assert record.costs["peak_gpu_mb"] is None  # CPU
        assert record.costs["stopped_seconds"] == 0.0  # nothing stopped the test's process
        assert record.costs["cpu_seconds"] > 0 and record.costs["cpu_threads"] >= 1
        assert record.costs["flush_denormal"] is torch.set_flush_denormal(False)  # supported
        costs = record.costs
        # MFU's bound below 1 rests on a peak measured on a quiet machine, which CI cannot
        # promise; what it must be is its definition (its FLOP estimate: test_metering.py)
        assert costs["mfu"] == pytest.approx(
            costs["train_flops"] / costs["train_seconds"] / costs["peak_flops"]
        )
        assert costs["mfu"] > 0 and costs["peak_flops"] > 1e9
        assert 0 <= record.metrics["test"]["accuracy"] <= 1
        assert record.provenance["data_sha256"] and record.provenance["versions"]["torch"]
    full_size = records["last_n"].costs["checkpoint_mb"]
    assert records["frozen"].costs["checkpoint_mb"] < lora.costs["checkpoint_mb"] < full_size


def test_rerun_skips_completed_and_retries_interrupted(study_file, tmp_path, monkeypatch):
    out = tmp_path / "out"
    study = load_study(study_file)
    real_execute = runner.execute
    calls = []
    stopped = []

    def interrupted_on_second(spec, *args, **kwargs):
        calls.append(spec.run_id)
        if len(calls) == 2 and not stopped:
            stopped.append(spec.run_id)
            raise Stopped  # as if the process were stopped mid-run
        return real_execute(spec, *args, **kwargs)

    monkeypatch.setattr("tunebench.study.run_path.execute", interrupted_on_second)
    with pytest.raises(Stopped):
        run_study(study, out, quiet())
    with ResultsStore(out / "results.sqlite") as store:
        first_finish = {r.run_id: r.finished_at for r in store.runs("completed")}
    assert len(first_finish) == 1

    calls.clear()
    log = quiet()  # not a terminal: a line per finished run, counting the skipped one
    summary = run_study(study, out, log)
    assert summary.skipped == 1 and summary.completed == 2
    lines = [line for line in log.file.getvalue().splitlines() if "] completed in " in line]
    assert [line[:5] for line in lines] == ["[2/3]", "[3/3]"]
    assert all("minilm-l6 · sms_spam · " in line for line in lines)
    assert set(calls) == {r.run_id for r in expand(study)} - set(first_finish)
    with ResultsStore(out / "results.sqlite") as store:
        runs = store.runs()
    assert [r.status for r in runs] == ["completed"] * 3
    assert all(first_finish[r.run_id] == r.finished_at for r in runs if r.run_id in first_finish)


def test_a_failing_run_is_recorded_and_the_study_goes_on(study_file, tmp_path, monkeypatch):
    real_execute = runner.execute

    def broken_lora(spec, *args, **kwargs):
        if spec.method.name == "lora":
            raise RuntimeError("simulated crash")
        return real_execute(spec, *args, **kwargs)

    monkeypatch.setattr("tunebench.study.run_path.execute", broken_lora)
    out = tmp_path / "out"
    summary = run_study(load_study(study_file), out, quiet())
    assert (summary.completed, summary.failed) == (2, 1)
    with ResultsStore(out / "results.sqlite") as store:
        failed = store.runs("failed")
    assert "simulated crash" in failed[0].reason
    assert (out / "logs" / f"{failed[0].run_id}.log").is_file()


def cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "tunebench.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_cli_run_then_results_as_json(study_file, tmp_path):
    done = cli("run", str(study_file), "-o", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "lora" in done.stdout and "74.5K" in done.stdout
    assert done.stdout.count("] completed in ") == 3  # piped: a line per run, no bars
    listed = cli("results", "out", "--format", "json", cwd=tmp_path)
    records = json.loads(listed.stdout)
    assert {r["method"] for r in records} == {"frozen", "lora", "last_n"}
    keys = {"run_id", "status", "backbone", "task", "method", "seed", "metrics", "costs"}
    assert all(keys <= set(r) for r in records)
