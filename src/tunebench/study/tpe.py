"""The TPE loop of a `tpe` sweep: ask Optuna for points, run them, tell it their results.

A point's objective is its runs' mean validation metric (over seeds and every other cell of the
grid). The results store is the only memory: on a re-run, every point already recorded for this
study is found again from its runs' configs; finished points are replayed into the sampler (so
it asks what it would have asked), unfinished ones (interrupted, or with failed runs) are run
again first. `trials` counts distinct points: a point the sampler repeats is closed as failed
(left out of TPE's model) and asked again.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

from tunebench.errors import UserError
from tunebench.families.registry import family_for
from tunebench.store import ResultsStore
from tunebench.study.expand import expand
from tunebench.study.spec import RunSpec
from tunebench.study.sweeps import Point, SweepConfig, ask, new_search, point_of, replay, tell

MAX_REPEATS = 50
"""Asks for one point that only repeat known points before the space counts as exhausted."""


def run_tpe(
    study,
    store: ResultsStore,
    run_batch: Callable[[list[RunSpec]], None],
    width: int,
) -> None:
    sweep = study.sweep
    metric = objective_metric(study)
    higher = family_for(study.tasks[0]).metric(metric).higher_is_better
    search = new_search(sweep, "maximize" if higher else "minimize")
    known: dict[str, float | None] = {}  # repr(point) -> objective, for finished points
    unfinished = []
    for point in _recorded_points(study, sweep, store):
        specs = expand(study, [point])
        if {s.run_id for s in specs} <= store.completed_ids():
            known[repr(point)] = _objective(specs, store, metric)
            replay(search, sweep, point, known[repr(point)])
        else:
            unfinished.append(point)
    started = len(known) + len(unfinished)
    while unfinished or started < sweep.trials:
        batch = [(None, point) for point in unfinished[:width]]
        unfinished = unfinished[width:]
        while len(batch) < width and started < sweep.trials:
            taken = set(known) | {repr(p) for p in unfinished} | {repr(p) for _, p in batch}
            asked = _ask_new(search, sweep, started, taken)
            if asked is None:
                break  # the space holds no point not tried yet
            batch.append(asked)
            started += 1
        if not batch:
            return
        run_batch(expand(study, [point for _, point in batch]))
        for trial, point in batch:
            known[repr(point)] = _objective(expand(study, [point]), store, metric)
            if trial is None:
                replay(search, sweep, point, known[repr(point)])
            else:
                tell(search, trial, known[repr(point)])


def _ask_new(search, sweep: SweepConfig, index: int, taken: set[str]):
    """(trial, point) for a point not `taken` (as repr) yet; None if none is found."""
    for attempt in range(MAX_REPEATS):
        trial, point = ask(search, sweep, index, attempt)
        if repr(point) not in taken:
            return trial, point
        tell(search, trial, None)
    return None


def objective_metric(study) -> str:
    """The sweep's `metric`, else the selection metric every run shares."""
    if study.sweep.metric:
        for task in study.tasks:
            reported = family_for(task).validation_metrics(task)
            if study.sweep.metric not in reported:
                raise UserError(
                    f"sweep.metric: {task.name} reports {', '.join(reported)} on validation, "
                    f"not {study.sweep.metric!r}"
                )
        return study.sweep.metric
    chosen = {spec.training.selection_metric for spec in expand(study, [{}]) if spec.training}
    if len(chosen) > 1:
        raise UserError(
            f"sweep.metric: the runs select on different metrics ({', '.join(sorted(chosen))}); "
            "name the validation metric the tpe sweep should optimise"
        )
    return chosen.pop()


def _recorded_points(study, sweep: SweepConfig, store: ResultsStore) -> list[Point]:
    """Points of this sweep that earlier invocations started, in the order they started."""
    points: dict[str, Point] = {}
    for record in sorted(store.runs(), key=lambda r: r.started_at):
        point = point_of(record.config, sweep)
        if record.study == study.name and sweep.encode(point) is not None:
            points.setdefault(repr(point), point)
    return list(points.values())


def _objective(specs: list[RunSpec], store: ResultsStore, metric: str) -> float | None:
    """Mean validation `metric` of the point's completed runs; None if none has it."""
    ids = {spec.run_id for spec in specs}
    values = [
        record.metrics.get("validation", {}).get(metric)
        for record in store.runs("completed")
        if record.run_id in ids
    ]
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None
