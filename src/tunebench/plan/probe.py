"""The probe: a run cut short and measured, so that `tunebench plan` can predict the whole run.

A probe is the run itself — same backbone, method, family, data, batch size, length and
threads, through the same run path (`run_path.execute`) — for two epochs (one for a one-epoch
run, whose every step pays for new shapes as the probe's first epoch does) of the run's own
memory-growing steps (training/replay.py: the first epoch's steps that set a new largest
batch, at least MINIMUM_STEPS) and PROBE_ROWS validation and test rows, logging every
optimiser step so that each step is timed (the first step of an epoch is left out: the gap
across an epoch boundary holds the validation pass). A family that does not count tokens
(tabular) trains on MINIMUM_STEPS batches of rows instead. The first epoch is slower twice
over: every new batch shape pays once for allocation (a one-off cost: the second epoch
repeats the shapes), and a run that caches its frozen prefix builds the cache (a per-epoch
cost: later epochs skip those blocks). It also records each validation pass and the test
pass, the padded tokens of its timed steps and passes (lengths.py), what loading and setting
up cost, the peak memory, the trainable parameters and the checkpoint size.

Probes run in one child process, in the study's order, as a study's own runs share one process
(memory a run leaves behind counts in the next run's peak, in the study and in its probe
alike). Results are cached per machine and thread count in the tunebench cache
(`probes/<machine>.json`), keyed by the probe's own config, so a second plan costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from tunebench.assets import cache_dir
from tunebench.families.registry import family_for
from tunebench.plan.lengths import run_tokens
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig
from tunebench.training.replay import MINIMUM_STEPS, replaying_growth

PROBE_ROWS = 32
"""Validation and test rows a probe scores (each)."""
PROBE_FORMAT = 8
"""Part of every probe's cache key: a probe recorded by an older tunebench, which measured
less, is measured again."""


@dataclass(frozen=True)
class Probe:
    status: str
    """`completed`, or the probe run's failure (`unsupported: ...`): the run will fail too."""
    step_seconds: tuple[tuple[float, ...], ...] = ()
    """Seconds of each timed optimiser step, per probe epoch (one or two); empty when the
    family trains outside the loop's steps (tabular pipelines)."""
    train_seconds: float = 0.0
    train_rows: int = 0
    """The probe's training time and rows, for families without timed steps."""
    frozen_blocks: int = 0
    """Frozen prefix blocks (`frozen_prefix_blocks`): the run caches their outputs in the first
    epoch (later epochs skip them, so its first epoch costs more) and keeps no activations
    for them."""
    validation_seconds: tuple[float, ...] = ()
    """Each of the probe's validation passes: the first also fills a prefix cache with the
    validation examples' states, later ones read it."""
    test_seconds: float = 0.0
    """The probe's test pass (the last, every kernel warm; never cached)."""
    tokens: dict[str, Any] | None = None
    """The probe's padded tokens (lengths.TokenCounts), where its family counts tokens."""
    test_seconds_per_row: float = 0.0
    train_parts: dict[str, float] | None = None
    """The probe's training seconds in parts, and each part's size (`Family.part_sizes`), for
    a family that records its training in parts (tabular pipelines)."""
    part_sizes: dict[str, float] | None = None
    setup_seconds: float = 0.0
    """Wall time outside training and evaluation: loading the model and data, applying the
    method, writing the checkpoint."""
    peak_host_mb: float = 0.0
    peak_gpu_mb: float | None = None
    trainable_params: int = 0
    checkpoint_mb: float = 0.0
    probe_seconds: float = 0.0
    """What the probe itself cost (wall)."""
    other_cores: float | None = None
    """Cores' worth of CPU time that other processes used while the probe ran (the machine's
    busy time less the probe's own, over the probe's wall time); None for a probe cached before
    it was recorded. Its times, and the plan's predictions from them, hold that contention."""

    @property
    def caches_prefix(self) -> bool:
        return self.frozen_blocks > 0


def probe_spec(spec: RunSpec) -> RunSpec:
    """The run cut short: at most two epochs, PROBE_ROWS evaluation rows, every step logged;
    MINIMUM_STEPS batches of training rows where the family does not count tokens (the
    others keep their rows and replay their memory-growing steps)."""
    training = spec.training or TrainingConfig()
    update: dict[str, Any] = {
        "max_eval_samples": min(PROBE_ROWS, spec.task.max_eval_samples or PROBE_ROWS)
    }
    if not family_for(spec.task).counts_tokens:
        rows = MINIMUM_STEPS * training.batch_size * training.gradient_accumulation_steps
        update["max_train_samples"] = min(rows, spec.task.max_train_samples or rows)
    short = training.model_copy(update={"epochs": min(training.epochs, 2), "log_every": 1})
    task = spec.task.model_copy(update=update)
    return spec.model_copy(update={"task": task, "training": short, "seed": 0})


def probe_key(spec: RunSpec, threads: int) -> str:
    """What a probe's result depends on: its config and the thread count."""
    config = json.dumps(probe_spec(spec).flat(), sort_keys=True, default=str)
    key = f"{config}|threads={threads}|format={PROBE_FORMAT}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def probes(
    specs: list[RunSpec], threads: int, run_new: bool = True, again: bool = False
) -> tuple[dict[str, Probe], set[str]]:
    """probe_key -> Probe for every spec: cached ones read, the others (when `run_new`; all of
    them when `again`) run in one child process and cached; and the keys of the probes run now."""
    path = _cache_file()
    cached = json.loads(path.read_text()) if path.is_file() else {}
    keys = {probe_key(spec, threads): spec for spec in specs}
    missing = [s for key, s in keys.items() if again or key not in cached] if run_new else []
    if missing:
        context = multiprocessing.get_context("spawn")  # a fresh process: no leftover memory
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            measured = pool.submit(_probe_all, [s.flat() for s in missing], threads).result()
        cached.update(zip((probe_key(s, threads) for s in missing), measured, strict=True))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".tmp").write_text(json.dumps(cached, indent=1))
        path.with_suffix(".tmp").rename(path)
    found = {key: _probe(cached[key]) for key in keys if key in cached}
    return found, {probe_key(spec, threads) for spec in missing}


def _probe(stored: dict[str, Any]) -> Probe:
    steps = tuple(tuple(epoch) for epoch in stored.get("step_seconds", ()))
    passes = tuple(stored.get("validation_seconds", ()))
    return Probe(**{**stored, "step_seconds": steps, "validation_seconds": passes})


def _cache_file() -> Path:
    """One file per machine: its processor, core count and torch build."""
    import torch

    machine = f"{platform.machine()}|{_cpu_model()}|{os.cpu_count()}|{torch.__version__}"
    if torch.cuda.is_available():
        machine += f"|{torch.cuda.get_device_name()}"
    return cache_dir() / "probes" / f"{hashlib.sha256(machine.encode()).hexdigest()[:12]}.json"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _probe_all(configs: list[dict[str, Any]], threads: int) -> list[dict[str, Any]]:
    """In the child: run each probe in order; a probe that fails records why."""
    import torch

    from tunebench.quiet import quiet_libraries

    torch.set_num_threads(threads)
    quiet_libraries()
    return [asdict(_measure(probe_spec(RunSpec.from_flat(config)))) for config in configs]


def _measure(spec: RunSpec) -> Probe:
    from tunebench.study.run_path import execute
    from tunebench.training.loop import RunFailed

    stamps: list[float] = []
    started, busy = time.perf_counter(), other_work()
    family = family_for(spec.task)
    accumulate = spec.training.gradient_accumulation_steps
    replay = replaying_growth(accumulate) if family.counts_tokens else nullcontext()
    try:
        with replay:
            outcome = execute(spec, on_step=lambda *_: stamps.append(time.perf_counter()))
    except RunFailed as failure:
        return Probe(str(failure), probe_seconds=time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001 - the plan reports it; the run would fail too
        return Probe(f"error: {type(error).__name__}: {error}", probe_seconds=0.0)
    data = family.load(spec.task)
    costs = outcome.costs
    passes = tuple(h["validation_seconds"] for h in outcome.history if "validation_seconds" in h)
    per_epoch = -(-costs["steps"] // spec.training.epochs) if costs["steps"] else 0
    steps = _epoch_steps(stamps, per_epoch)
    return Probe(
        "completed",
        step_seconds=steps,
        train_seconds=costs["train_seconds"],
        train_rows=len(data.train.ids),
        frozen_blocks=costs.get("frozen_prefix_blocks") or 0,
        validation_seconds=passes,
        test_seconds=costs["eval_seconds"] - sum(passes),
        tokens=asdict(counts) if (counts := run_tokens(spec, data, probe=True)) else None,
        test_seconds_per_row=(costs["eval_seconds"] - sum(passes)) / max(len(data.test.ids), 1),
        train_parts=costs.get("train_parts"),
        part_sizes=family.part_sizes(spec, data) if "train_parts" in costs else None,
        setup_seconds=costs["wall_seconds"] - costs["train_seconds"] - costs["eval_seconds"],
        peak_host_mb=costs["peak_host_mb"],
        peak_gpu_mb=costs["peak_gpu_mb"],
        trainable_params=costs["trainable_params"],
        checkpoint_mb=costs["checkpoint_mb"],
        probe_seconds=time.perf_counter() - started,
        other_cores=busy(),
    )


def other_work() -> Callable[[], float]:
    """Start counting the CPU time of other processes; the returned function gives it since
    then, in cores (busy seconds per wall second) — how loaded the machine was around us."""
    machine, own, started = _busy_seconds(), time.process_time(), time.perf_counter()

    def cores() -> float:
        others = _busy_seconds() - machine - (time.process_time() - own)
        return max(others, 0.0) / max(time.perf_counter() - started, 1e-9)

    return cores


def _busy_seconds() -> float:
    """All cores' non-idle seconds since boot (steal counts: the hypervisor gave them away)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0) - _guest(times)


def _guest(times: Any) -> float:
    """Linux counts guest time inside user time too: leave it out once."""
    return getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)


def _epoch_steps(stamps: list[float], per_epoch: int) -> tuple[tuple[float, ...], ...]:
    """Each epoch's step times from the end-of-step times, without each epoch's first step
    (its interval would include setup or the validation pass)."""
    if per_epoch < 2:
        return ()
    epochs = [stamps[start : start + per_epoch] for start in range(0, len(stamps), per_epoch)]
    return tuple(tuple(b - a for a, b in zip(e, e[1:], strict=False)) for e in epochs if len(e) > 1)
