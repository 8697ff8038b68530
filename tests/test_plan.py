"""`tunebench plan`: probes are the run cut short, predictions scale them to the run, the store's
measurements win over probes, and the command prints a total without training anything."""

from __future__ import annotations

import json

import pytest
from fake_runs import store_runs
from test_cli import cli

from tunebench.plan.predict import _train_seconds
from tunebench.plan.probe import PROBE_BATCHES, PROBE_ROWS, Probe, probe_spec
from tunebench.records import RunRecord
from tunebench.study.expand import expand
from tunebench.study.load import load_study
from tunebench.training.config import TrainingConfig

STUDY = """
name: planned
backbones: [{lm}]
tasks: [{{name: words, path: {task}}}]
methods: [frozen, {{name: lora, r: 4}}, {{name: bitfit}}]
seeds: [0, 1]
training: {{epochs: 3, batch_size: 4, max_length: 24}}
"""


def _study(tiny_assets, tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(lm=tiny_assets / "lm", task=tiny_assets / "task.csv"))
    return path


def test_a_probe_is_the_run_cut_short(tiny_assets, tmp_path):
    spec = expand(load_study(_study(tiny_assets, tmp_path)))[1]
    short = probe_spec(spec)
    assert short.task.max_train_samples == PROBE_BATCHES * 4
    assert short.task.max_eval_samples == PROBE_ROWS
    assert short.training.epochs == 2 and short.training.log_every == 1
    assert (short.backbone, short.method, short.training.max_length) == (
        spec.backbone,
        spec.method,
        spec.training.max_length,
    )


def test_training_time_is_warm_steps_plus_the_first_epochs_excess():
    training = TrainingConfig(epochs=3, batch_size=16)
    warm = Probe("completed", step_seconds=(0.5, 0.2))
    # 1,000 rows: 63 steps per epoch, 189 in all at 0.2 s, plus 4 probe steps' 0.3 s excess
    assert _train_seconds(warm, training, 1000) == pytest.approx(189 * 0.2 + 4 * 0.3)
    cached = Probe("completed", step_seconds=(0.5, 0.2), caches_prefix=True)
    assert _train_seconds(cached, training, 1000) == pytest.approx(63 * 0.5 + 126 * 0.2)
    untimed = Probe("completed", train_seconds=2.0, train_rows=100)
    assert _train_seconds(untimed, training, 1000) == pytest.approx(2.0 * 1000 * 3 / 200)


def test_the_command_probes_once_and_prefers_what_the_store_measured(tiny_assets, tmp_path):
    study = _study(tiny_assets, tmp_path)
    out, env = tmp_path / "out", {"TUNEBENCH_CACHE": str(tmp_path / "cache")}
    first = cli("plan", str(study), "-o", str(out), "--threads", "1", "-f", "json", env=env)
    assert first.returncode == 0, first.stderr
    runs = json.loads(first.stdout)
    sources = {r["label"].split(" · ")[2].split("(")[0]: r["source"] for r in runs}
    assert len(runs) == 6 and sources["frozen"] == sources["lora"] == "probe"
    lora = next(r for r in runs if "lora" in r["label"])
    assert lora["train_seconds"] > 0 and lora["eval_seconds"] > 0 and lora["peak_host_mb"] > 100
    assert lora["trainable_params"] > 0 and lora["fits"] is True
    assert not out.exists()  # nothing trained, nothing written into the study's folder
    assert list((tmp_path / "cache" / "probes").glob("*.json"))
    measured = RunRecord(**{**_fake(runs[0]["run_id"]), "config": _config(study, 0)})
    store_runs(out, [measured])
    again = cli("plan", str(study), "-o", str(out), "--no-probe", env=env)
    assert again.returncode == 0, again.stderr
    assert "done" in again.stdout and "5 runs still to run" in again.stdout
    assert "probes:" not in again.stdout  # every probe came from the cache


def _config(study, index):
    return expand(load_study(study))[index].flat()


def _fake(run_id: str) -> dict:
    return {
        "run_id": run_id,
        "study": "planned",
        "status": "completed",
        "reason": None,
        "backbone": "lm",
        "task": "words",
        "method": "frozen",
        "seed": 0,
        "metrics": {},
        "costs": {"train_seconds": 1.0, "wall_seconds": 2.0, "peak_host_mb": 500.0},
        "provenance": {},
        "history": [],
        "started_at": "2026-12-03T00:00:00",
        "finished_at": "2026-12-03T00:00:01",
    }
