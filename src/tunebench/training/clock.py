"""Elapsed time that leaves out the time the process was stopped.

A background study paused with `kill -STOP` (or on a laptop that slept, or in a Slurm job
that was suspended) would count the pause as training or evaluation: a full fine-tuning run
on SMS spam recorded 1,747 s, about 27 minutes of it a pause, against 93 s and 67 s for its
other seeds. Every run samples its memory in a thread every 50 ms (metering.PeakHostMemory);
each sample is also a tick here. A tick that comes more than `LATE_S` late while the process
used almost no CPU time in between (less than `IDLE_SHARE` of the gap) means the process was
stopped: a main thread busy in C code would have used CPU time, and a process waiting for a
busy machine still gets its share. Such intervals are kept, and `elapsed(started)` subtracts
the part of them after `started`.
"""

from __future__ import annotations

import threading
import time

LATE_S = 2.0
IDLE_SHARE = 0.1


class Stops:
    """The intervals (time.perf_counter seconds) during which the process was stopped."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def tick(
        self, before: tuple[float, float], now: tuple[float, float], interval_s: float
    ) -> None:
        """Two ticks as (time.perf_counter(), time.process_time()), `interval_s` apart when
        the process runs; a late tick with next to no CPU time between is a stop."""
        gap, cpu = now[0] - before[0], now[1] - before[1]
        if gap > LATE_S and cpu < IDLE_SHARE * gap:
            with self._lock:
                self.intervals.append((before[0] + interval_s, now[0]))

    def between(self, start: float, end: float) -> float:
        """Seconds of [start, end] during which the process was stopped."""
        with self._lock:
            return sum(max(0.0, min(e, end) - max(s, start)) for s, e in self.intervals)


STOPS = Stops()
"""This process's stops, as the memory sampler of the running run saw them."""


def elapsed(started: float) -> float:
    """Seconds since `started` (a time.perf_counter() reading), less the time stopped."""
    now = time.perf_counter()
    return now - started - STOPS.between(started, now)


def stopped_since(started: float) -> float:
    """Seconds since `started` during which the process was stopped."""
    return STOPS.between(started, time.perf_counter())
