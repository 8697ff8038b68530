"""Each run's predicted costs, under the results store's names, and where they come from.

In order of trust:
- `done`: the run is completed in the study's store; its recorded costs are shown and it costs
  nothing more.
- `measured`: runs of the same config with other seeds are in the store: their mean (of those
  recorded on this machine; `measured elsewhere` where all were recorded on another CPU or GPU
  model, named in `measured_on`: a study exported and resumed elsewhere).
- `probe`: the run's probe (probe.py) scaled to the run's own data and settings — training:
  the run's optimiser steps (its training rows over the batch size and gradient accumulation,
  times its epochs) at the probe's warm step time for the run's mean padded tokens per step
  (a line fitted through the probe's timed steps, whose sizes span the run's), plus the
  probe's first-epoch excess (once, or per first-epoch step for a run that caches its frozen
  prefix); evaluation: the probe's validation and test passes per
  padded token, times the run's validation passes and test pass in padded tokens; peak
  memory: the probe's, plus what the run keeps beyond it (the activations of a longer
  largest batch, a larger prefix cache: lengths.py); trainable parameters and checkpoint size:
  the probe's own. A family that does not count tokens is scaled by rows instead; one whose
  runs record their training in parts (tabular) has each part scaled by its own size.
- `fails`: the probe failed the way the run will (`unsupported: ...`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tunebench.families.registry import family_for
from tunebench.plan.lengths import TokenCounts, extra_activation_mb, run_tokens
from tunebench.plan.probe import Probe, probe_key, probes
from tunebench.provenance import collect_provenance
from tunebench.records import RunRecord, machine_name
from tunebench.store import stored_runs
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig

COSTS = (
    "train_seconds",
    "eval_seconds",
    "wall_seconds",
    "peak_host_mb",
    "peak_gpu_mb",
    "trainable_params",
    "checkpoint_mb",
)


@dataclass(frozen=True)
class Prediction:
    spec: RunSpec
    source: str
    """done, measured, probe, fails: <reason>, or unknown (no probe was run)."""
    costs: dict[str, float | None]
    probe_seconds: float = 0.0
    probe_key: str | None = None
    """The probe this prediction came from, where it ran in this plan (its cost counts once
    however many runs share it)."""
    other_cores: float | None = None
    """How many cores other work kept busy while the probe ran (`Probe.other_cores`)."""
    measured_on: str | None = None
    """The other machine whose runs a `measured elsewhere` prediction averages."""

    @property
    def pending(self) -> bool:
        """Whether the run is still to run (and counts in the study's total)."""
        return self.source != "done"


def predict(
    specs: list[RunSpec],
    folder: Path | None,
    threads: int,
    run_probes: bool = True,
    again: bool = False,
) -> list[Prediction]:
    """Every run's prediction; probes run for the runs the store cannot answer for (cached
    ones again too, when `again`)."""
    records = _completed(folder)
    by_id = {r.run_id: r for r in records}
    by_config: dict[str, list[RunRecord]] = {}
    for record in records:
        by_config.setdefault(_without_seed(record.config), []).append(record)
    unanswered = [
        s for s in specs if s.run_id not in by_id and _without_seed(s.flat()) not in by_config
    ]
    found, ran_now = probes(unanswered, threads, run_probes, again)
    predictions = []
    for spec in specs:
        if spec.run_id in by_id:
            predictions.append(Prediction(spec, "done", _costs([by_id[spec.run_id]])))
        elif (same := by_config.get(_without_seed(spec.flat()))) is not None:
            predictions.append(_measured(spec, same))
        elif (probe := found.get(key := probe_key(spec, threads))) is not None:
            prediction = _from_probe(spec, probe)
            predictions.append(replace(prediction, probe_key=key if key in ran_now else None))
        else:
            predictions.append(Prediction(spec, "unknown", dict.fromkeys(COSTS)))
    return predictions


def _measured(spec: RunSpec, same: list[RunRecord]) -> Prediction:
    """The mean costs of the config's other seeds, those recorded on this machine if any (a
    record that names no machine counts as this one's)."""
    here = machine_name(collect_provenance())
    names = [machine_name(r.provenance or {}) for r in same]
    local = [r for r, name in zip(same, names, strict=True) if name in (here, None)]
    if local:
        return Prediction(spec, "measured", _costs(local))
    return Prediction(spec, "measured elsewhere", _costs(same), measured_on=names[0])


def _completed(folder: Path | None) -> list[RunRecord]:
    if folder is None or not (folder / "results.sqlite").is_file():
        return []
    return [r for r in stored_runs(folder) if r.status == "completed"]


def _without_seed(config: dict) -> str:
    return json.dumps({k: v for k, v in config.items() if k != "seed"}, sort_keys=True)


def _costs(records: list[RunRecord]) -> dict[str, float | None]:
    """Mean of each cost over the records (peak memory: the largest)."""
    costs = {}
    for key in COSTS:
        values = [r.costs[key] for r in records if r.costs.get(key) is not None]
        if not values:
            costs[key] = None
        else:
            costs[key] = max(values) if key.startswith("peak") else sum(values) / len(values)
    return costs


def _from_probe(spec: RunSpec, probe: Probe) -> Prediction:
    if probe.status != "completed":
        return Prediction(spec, f"fails: {probe.status}", dict.fromkeys(COSTS), probe.probe_seconds)
    training = spec.training or TrainingConfig()
    data = family_for(spec.task).load(spec.task)
    run = run_tokens(spec, data)
    probed = TokenCounts(**probe.tokens) if probe.tokens and run else None
    rows = len(data.train.ids)
    if probe.train_parts and probe.part_sizes:  # a run that trains in parts (tabular)
        sizes = family_for(spec.task).part_sizes(spec, data)
        train = scaled_parts(probe.train_parts, probe.part_sizes, sizes)
    else:
        train = _train_seconds(probe, training, rows, run, probed)
    evaluation = _eval_seconds(probe, training, data, run, probed)
    extra = extra_activation_mb(_config(spec), probe.frozen_blocks, run, probed) if probed else 0
    on_gpu = probe.peak_gpu_mb is not None
    costs = {
        "train_seconds": train,
        "eval_seconds": evaluation,
        "wall_seconds": probe.setup_seconds + train + evaluation,
        "peak_host_mb": probe.peak_host_mb + (0 if on_gpu else extra),
        "peak_gpu_mb": probe.peak_gpu_mb + extra if on_gpu else None,
        "trainable_params": probe.trainable_params,
        "checkpoint_mb": probe.checkpoint_mb,
    }
    return Prediction(spec, "probe", costs, probe.probe_seconds, other_cores=probe.other_cores)


def _config(spec: RunSpec) -> Any:
    from tunebench.models.backbones import load_config

    return load_config(spec.backbone, spec.trust_remote_code)


def _eval_seconds(
    probe: Probe,
    training: TrainingConfig,
    data: Any,
    run: TokenCounts | None,
    probed: TokenCounts | None,
) -> float:
    """The run's validation passes and its test pass at the probe's rates: per padded token
    where the family counts tokens (its first validation pass at the probe's first, later ones
    at its last — a prefix cache makes them cheaper — and the test pass at its test pass's),
    else per row at its test pass's rate."""
    passes = sum(
        e == training.epochs - 1 or (e + 1) % training.validate_every_epochs == 0
        for e in range(training.epochs)
    )
    if not probe.step_seconds and not probe.train_seconds:
        passes = 1  # a zero-shot run validates once, whatever its epochs
    if not (run and probed and probed.validation and probed.test and probe.validation_seconds):
        return probe.test_seconds_per_row * (len(data.validation.ids) * passes + len(data.test.ids))
    first, last = probe.validation_seconds[0], probe.validation_seconds[-1]
    validation = (first + last * (passes - 1)) * run.validation / probed.validation
    return validation + probe.test_seconds * run.test / probed.test


def _train_seconds(
    probe: Probe,
    training: TrainingConfig,
    rows: int,
    run: TokenCounts | None,
    probed: TokenCounts | None,
) -> float:
    """The run's training time from the probe's epochs of timed steps: every step at the warm
    (last-epoch) time, plus the first epoch's excess — once (new shapes), or on every
    first-epoch step for a run that builds a prefix cache."""
    if not probe.step_seconds:  # a family that trains outside timed steps: rows and epochs
        return probe.train_seconds * rows * training.epochs / max(probe.train_rows * 2, 1)
    batches = math.ceil(rows / training.batch_size)
    per_epoch = math.ceil(batches / training.gradient_accumulation_steps)
    first, warm = probe.step_seconds[0], probe.step_seconds[-1]
    tokens = probed.timed if probed else ()
    at = run.per_step if run else None
    if probe.caches_prefix:
        later = per_epoch * (training.epochs - 1) * step_time(warm, tokens, at)
        return per_epoch * step_time(first, tokens, at) + later
    excess = max(sum(first) - sum(warm), 0.0)
    return per_epoch * training.epochs * step_time(warm, tokens, at) + excess


def scaled_parts(
    seconds: dict[str, float], probed: dict[str, float], run: dict[str, float]
) -> float:
    """The run's training seconds: each part the probe timed, times the run's size of that
    part over the probe's (a part of size 0 in the probe as it is)."""
    return sum(
        s * (run.get(part, 0.0) / probed[part] if probed.get(part) else 1.0)
        for part, s in seconds.items()
    )


def step_time(seconds: tuple[float, ...], tokens: tuple[int, ...], at: float | None) -> float:
    """A step's seconds at `at` padded tokens, from timed steps of `tokens` padded tokens each:
    the least-squares line (a fixed cost per step plus a cost per token), or where it is not
    one (fewer than two sizes, a negative part) the mean cost per token; the mean step where
    tokens are not counted."""
    mean = sum(seconds) / len(seconds)
    if at is None or len(tokens) != len(seconds):
        return mean
    mean_tokens = sum(tokens) / len(tokens)
    spread = sum((t - mean_tokens) ** 2 for t in tokens)
    if spread > 0:
        pairs = zip(tokens, seconds, strict=True)
        slope = sum((t - mean_tokens) * (s - mean) for t, s in pairs) / spread
        intercept = mean - slope * mean_tokens
        if slope >= 0 and intercept >= 0:
            return intercept + slope * at
    return mean * at / mean_tokens
