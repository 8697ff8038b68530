"""`tunebench plan`: probes are the run cut short, predictions scale them to the run, the store's
measurements win over probes, and the command prints a total without training anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from fake_runs import store_runs
from test_cli import cli

from tunebench.plan import probe as probe_module
from tunebench.plan.commands import summary
from tunebench.plan.lengths import TokenCounts, extra_activation_mb, token_counts
from tunebench.plan.predict import (
    COSTS,
    Prediction,
    _eval_seconds,
    _train_seconds,
    predict,
    scaled_parts,
    step_time,
)
from tunebench.plan.probe import PROBE_ROWS, Probe, other_work, probe_spec
from tunebench.provenance import collect_provenance
from tunebench.records import RunRecord
from tunebench.study.expand import expand
from tunebench.study.load import load_study
from tunebench.training.config import TrainingConfig
from tunebench.training.data import LengthGroupedBatches
from tunebench.training.replay import growth_steps, replaying_growth

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
    # the family counts tokens: the probe keeps the run's training rows (it replays the steps
    # that grow memory) and cuts evaluation to PROBE_ROWS
    assert short.task.max_train_samples == spec.task.max_train_samples
    assert short.task.max_eval_samples == PROBE_ROWS
    assert short.training.epochs == 2 and short.training.log_every == 1
    # a one-epoch run's probe has one epoch: no warm second epoch the run would not have
    one = spec.model_copy(update={"training": spec.training.model_copy(update={"epochs": 1})})
    assert probe_spec(one).training.epochs == 1
    assert (short.backbone, short.method, short.training.max_length) == (
        spec.backbone,
        spec.method,
        spec.training.max_length,
    )


def test_training_time_is_warm_steps_plus_the_first_epochs_excess():
    training = TrainingConfig(epochs=3, batch_size=16)
    warm = Probe("completed", step_seconds=((0.5, 0.5), (0.2, 0.2)))
    # 1,000 rows: 63 steps per epoch, 189 in all at 0.2 s, plus the 2 timed steps' 0.3 s excess
    assert _train_seconds(warm, training, 1000, None, None) == pytest.approx(189 * 0.2 + 2 * 0.3)
    cached = Probe("completed", step_seconds=((0.5, 0.5), (0.2, 0.2)), frozen_blocks=4)
    assert _train_seconds(cached, training, 1000, None, None) == pytest.approx(63 * 0.5 + 126 * 0.2)
    # steps of 100 and 300 padded tokens at 0.2 and 0.4 s warm: 0.1 s + 1 ms per token, so a
    # run of 200 tokens per step takes 0.3 s a step; the one-off excess is the probe's own
    timed = Probe("completed", step_seconds=((0.5, 0.5), (0.2, 0.4)))
    probed = TokenCounts(per_step=200, largest_batch=300, widest=30, validation=0, test=0)
    probed = replace(probed, timed=(100, 300))
    run = replace(probed, per_step=200.0, timed=())
    expected = 189 * 0.3 + (1.0 - 0.6)
    assert _train_seconds(timed, training, 1000, run, probed) == pytest.approx(expected)
    untimed = Probe("completed", train_seconds=2.0, train_rows=100)
    expected = 2.0 * 1000 * 3 / 200  # the probe's 100 rows, twice
    assert _train_seconds(untimed, training, 1000, None, None) == pytest.approx(expected)


def test_a_step_is_timed_by_the_line_through_the_probes_steps_or_per_token():
    assert step_time((0.2, 0.3, 0.4), (100, 200, 300), 250) == pytest.approx(0.35)
    # a line with a negative fixed cost is noise: the mean cost per token instead
    assert step_time((0.1, 0.5), (100, 200), 300) == pytest.approx(0.3 / 150 * 300)
    assert step_time((0.2, 0.4), (100, 100), 50) == pytest.approx(0.15)  # one size: per token
    assert step_time((0.2, 0.4), (), None) == pytest.approx(0.3)  # tokens not counted: the mean


def test_token_counts_are_the_loops_own_padded_batches():
    training = TrainingConfig(batch_size=2, eval_batch_size=2, gradient_accumulation_steps=1)
    train, evaluation = [3, 9, 4, 8], [5, 1, 2]
    counts = token_counts(train, evaluation, evaluation, training, seed=0)
    # length-grouped pairs {9, 8} and {3, 4}: 2 x 9 + 2 x 4 padded tokens over 2 steps
    assert (counts.per_step, counts.largest_batch, counts.widest) == (13.0, 18, 9)
    # longest first: {5, 2} -> 2 x 5, then {1} -> 1
    assert counts.validation == counts.test == 11
    assert counts.cached == 24 + 8  # real tokens of train and validation
    # a probe replays the first epoch's growing steps (here both: fewer than the minimum) and
    # times each but the first
    batches = LengthGroupedBatches(train, 2, 0).epoch_batches(0)
    probe = token_counts(train, evaluation, evaluation, training, seed=0, probe=True)
    assert probe.timed == (2 * max(train[i] for i in batches[1]),)
    assert probe.per_step == probe.timed[0]


def test_a_probe_replays_the_steps_that_grow_the_largest_batch_in_the_runs_order():
    lengths = [2, 2, 5, 5, 3, 3, 9, 9, 1, 1, 4, 4]
    batches = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]  # 4, 10, 6, 18, 2, 8 tokens
    assert growth_steps(batches, lengths, 1, 0) == [[[0, 1]], [[2, 3]], [[6, 7]]]
    # topped up to the minimum with the first other steps, still in the run's order
    assert growth_steps(batches, lengths, 1, 4) == [[[0, 1]], [[2, 3]], [[4, 5]], [[6, 7]]]
    # with gradient accumulation a step is two batches, sized by its larger one
    assert growth_steps(batches, lengths, 2, 0) == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]


def test_inside_a_replay_every_epoch_is_the_first_epochs_growing_steps():
    lengths = [(7 * i) % 23 + 1 for i in range(64)]
    batches = LengthGroupedBatches(lengths, 4, seed=3)
    first = batches.epoch_batches(0)
    assert list(batches) == first and len(batches) == 16
    with replaying_growth(accumulate=1, minimum=5):
        replayed = []
        for epoch in (0, 1):
            batches.set_epoch(epoch)
            replayed.append(list(batches))
        assert len(batches) == len(replayed[0]) >= 5
    assert replayed[0] == replayed[1] == [s[0] for s in growth_steps(first, lengths, 1, 5)]
    batches.set_epoch(1)
    assert list(batches) != first  # outside a replay each epoch has its own order


def test_evaluation_scales_with_padded_tokens_and_validation_passes():
    training = TrainingConfig(epochs=4, validate_every_epochs=2)
    probe = Probe(
        "completed", step_seconds=(0.2, 0.1), validation_seconds=(1.0, 0.5), test_seconds=2.0
    )
    probed = TokenCounts(per_step=100, largest_batch=200, widest=20, validation=500, test=1000)
    run = TokenCounts(per_step=100, largest_batch=200, widest=20, validation=3000, test=4000)
    # two validation passes (after epochs 2 and 4): the first at the probe's first pass's 1 s
    # per 500 tokens, the second at its last's 0.5 s; the test pass at 2 s per 1,000 tokens
    assert _eval_seconds(probe, training, None, run, probed) == pytest.approx(6 + 3 + 8)
    # a zero-shot run (nothing trained: no steps) validates once, whatever its epochs
    zero_shot = Probe("completed", validation_seconds=(1.0,), test_seconds=2.0)
    assert _eval_seconds(zero_shot, training, None, run, probed) == pytest.approx(6 + 8)


def test_the_activations_of_a_longer_largest_batch_are_added_to_the_probes_peak():
    class Config:
        hidden_size, num_attention_heads, num_hidden_layers = 64, 4, 3

    probed = TokenCounts(per_step=1, largest_batch=160, widest=10, validation=0, test=0)
    run = TokenCounts(per_step=1, largest_batch=640, widest=40, validation=0, test=0)
    per_layer = {w: 68 * 64 + 10 * 4 * w for w in (10, 40)}  # bytes per token
    expected = 2 * (640 * per_layer[40] - 160 * per_layer[10]) / 2**20  # 1 of 3 blocks frozen
    assert extra_activation_mb(Config(), 1, run, probed) == pytest.approx(expected)
    assert extra_activation_mb(Config(), 3, run, probed) == 0.0  # nothing trains: nothing kept
    assert extra_activation_mb(Config(), 0, probed, run) == 0.0  # a shorter run: the probe's peak
    # a run that caches all 3 frozen blocks keeps its examples' hidden states (fp32) instead
    cached = TokenCounts(per_step=1, largest_batch=640, widest=40, validation=0, test=0, cached=900)
    probe_cached = TokenCounts(**{**probed.__dict__, "cached": 100})
    assert extra_activation_mb(Config(), 3, cached, probe_cached) == pytest.approx(
        800 * 64 * 4 / 2**20
    )


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
    fresh = cli("plan", str(study), "-o", str(out), "--reprobe", env=env)
    assert fresh.returncode == 0, fresh.stderr
    assert "probes: 2 run now for 6 runs" in fresh.stdout  # lora's and bitfit's, measured again


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


def test_a_probe_shared_by_runs_counts_once_in_the_plans_cost(tiny_assets, tmp_path):
    specs = expand(load_study(_study(tiny_assets, tmp_path)))  # 3 methods x 2 seeds
    costs = dict.fromkeys(COSTS, 1.0)
    predictions = [
        Prediction(spec, "probe", costs, 10.0, probe_key=spec.method.name) for spec in specs
    ]
    assert "probes: 3 run now for 6 runs, 30.0 s" in summary(predictions, 1, "local")
    cached = [replace(p, probe_key=None) for p in predictions]
    assert "probes:" not in summary(cached, 1, "local")


def test_the_total_says_which_runs_it_counts(tiny_assets, tmp_path):
    """Runs without a prediction are not counted as free: the total names the runs it covers,
    and is unknown when none has a prediction."""
    specs = expand(load_study(_study(tiny_assets, tmp_path)))
    costs = {**dict.fromkeys(COSTS, 1.0), "wall_seconds": 30.0}
    unknown = {**costs, "wall_seconds": None}
    known = [Prediction(spec, "probe", costs) for spec in specs[:2]]
    missing = [Prediction(spec, "unknown", unknown) for spec in specs[2:]]
    assert "total: 1.0 min for the 2 of 6 runs still to run" in summary(known + missing, 1, "l")
    assert "total: unknown for 4 runs still to run" in summary(missing, 1, "l")
    assert "total: 1.0 min for 2 runs still to run" in summary(known, 1, "l")


DECODER_ROWS = {
    "generation": [
        {"prompt": f"say {'a' * (i % 7)}", "response": "b" * (i % 5 + 1)} for i in range(40)
    ],
    "multiple_choice": [
        {"question": f"pick {'c' * (i % 6)}", "options": ["x", "yy", "zzz"], "label": i % 3}
        for i in range(40)
    ],
    "preference": [
        {"prompt": f"p{'q' * (i % 4)}", "chosen": "g" * (i % 3 + 1), "rejected": "bb"}
        for i in range(40)
    ],
}


@pytest.mark.parametrize("family", sorted(DECODER_ROWS))
def test_decoder_token_lengths_are_the_training_batches_own(family, tiny_assets, tmp_path):
    """The plan counts a decoder run's tokens as its family's `prepare` builds its batches."""
    from tunebench.families.registry import FAMILIES
    from tunebench.models.backbones import load_causal_lm

    from tiny import tiny_context

    path = tmp_path / "task.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in DECODER_ROWS[family]))
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: lengths\nbackbones: [{tiny_assets / 'lm'}]\nmethods: [lora]\n"
        f"tasks: [{{name: t, family: {family}, path: {path}}}]\n"
        "training: {batch_size: 4, max_length: 24}\n"
    )
    (spec,) = expand(load_study(study))
    data = FAMILIES[family].load(spec.task)
    lengths = FAMILIES[family].token_lengths(spec, data)
    context = tiny_context(spec.training, "lora", family=family)
    context.spec, context.data = spec, data
    run = FAMILIES[family].prepare(context, load_causal_lm(spec.backbone))
    assert lengths.train == list(run.batches.lengths)
    assert len(set(lengths.train)) > 1 and max(lengths.train) <= 24
    assert min(len(lengths.validation), len(lengths.test)) > 0


def test_a_run_in_parts_scales_each_part_by_its_own_size():
    """Tabular runs: the language model's part by tokens, the downstream model's by rows; a
    part the probe measured at size 0 is taken as it is."""
    seconds = {"language_model": 10.0, "downstream": 2.0, "tfidf": 0.5}
    probed = {"language_model": 100.0, "downstream": 50.0, "tfidf": 0.0}
    run = {"language_model": 1000.0, "downstream": 100.0, "tfidf": 300.0}
    assert scaled_parts(seconds, probed, run) == pytest.approx(100.0 + 4.0 + 0.5)


SPIN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass"


def test_other_processes_cpu_time_is_counted_while_a_probe_runs():
    started, count = time.perf_counter(), other_work()
    subprocess.run([sys.executable, "-c", SPIN], check=True, timeout=60)
    other_seconds = count() * (time.perf_counter() - started)
    assert other_seconds >= 1.4  # the child's 1.5 s of CPU (other load only adds)


def test_the_probes_own_cpu_time_is_not_other_work(monkeypatch):
    # a machine busy with this process alone: its busy time grows with our own CPU time
    monkeypatch.setattr(probe_module, "_busy_seconds", lambda: 1000.0 + time.process_time())
    count = other_work()
    own = time.process_time()
    while time.process_time() - own < 0.3:
        pass
    assert count() < 0.05


def test_the_plan_says_which_predictions_come_from_probes_on_a_busy_machine(tiny_assets, tmp_path):
    specs = expand(load_study(_study(tiny_assets, tmp_path)))
    costs = dict.fromkeys(COSTS, 1.0)
    cores = os.cpu_count() or 1
    busy = [Prediction(s, "probe", costs, other_cores=0.9 * cores) for s in specs[:2]]
    idle = [Prediction(s, "probe", costs, other_cores=0.0) for s in specs[2:4]]
    old = [Prediction(s, "probe", costs) for s in specs[4:]]  # cached before it was recorded
    line = summary(busy + idle + old, 1, "local")
    assert (
        f"2 run(s) predicted from probes that ran while other work kept up to {0.9 * cores:.1f}"
        in line
    )
    assert "--reprobe" in line
    assert "--reprobe" not in summary(idle + old, 1, "local")


def test_other_seeds_recorded_on_another_machine_predict_with_its_name(tiny_assets, tmp_path):
    study = _study(tiny_assets, tmp_path)
    specs, out = expand(load_study(study)), tmp_path / "out"
    elsewhere = {**_fake(specs[0].run_id), "config": specs[0].flat()}
    store_runs(out, [RunRecord(**{**elsewhere, "provenance": {"cpu_model": "Other CPU"}})])
    seed_1 = predict(specs, out, 1, run_probes=False)[1]
    assert (seed_1.source, seed_1.measured_on) == ("measured elsewhere", "Other CPU")
    assert seed_1.costs["train_seconds"] == 1.0  # still the best guess there is
    assert "1 run(s) predicted from their other seeds, recorded on another machine (Other CPU)" in (
        summary([seed_1], 1, "local")
    )
    (out / "results.sqlite").unlink()
    store_runs(out, [RunRecord(**{**elsewhere, "provenance": collect_provenance()})])
    assert predict(specs, out, 1, run_probes=False)[1].source == "measured"
