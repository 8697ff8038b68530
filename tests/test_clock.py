"""A run's times leave out the time its process was stopped (`kill -STOP`, a suspended job):
a late tick with next to no CPU time between is a stop; a late tick of a busy process is not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tunebench.training.clock import Stops

CHILD = """
import json, time
from tunebench.training import clock, metering
with metering.PeakHostMemory():
    print("ready", flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    while time.process_time() - cpu < 2.0:  # 2 s of work, however long it is stopped
        pass
    print(json.dumps([clock.elapsed(started), time.perf_counter() - started]), flush=True)
"""


def test_a_late_tick_without_cpu_time_is_a_stop_and_a_busy_one_is_not():
    stops = Stops()
    stops.tick((10.0, 1.0), (10.05, 1.04), 0.05)  # on time
    stops.tick((20.0, 2.0), (23.0, 4.9), 0.05)  # late, but busy: the interpreter was held
    stops.tick((30.0, 3.0), (40.0, 3.01), 0.05)  # late and idle: stopped
    assert stops.intervals == [(30.05, 40.0)]
    assert stops.between(0.0, 100.0) == 9.95
    assert stops.between(35.0, 38.0) == 3.0  # only the overlap
    assert stops.between(41.0, 50.0) == 0.0


def test_a_process_stopped_mid_run_leaves_the_stop_out_of_its_time():
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    child.send_signal(signal.SIGSTOP)
    time.sleep(3.0)
    child.send_signal(signal.SIGCONT)
    out, _ = child.communicate(timeout=60)
    counted, wall = json.loads(out.strip().splitlines()[-1])
    assert counted > 1.9  # at least the work (more on a busy machine)
    assert 2.8 < wall - counted < 3.2  # the 3 s stopped, to the sampler's 50 ms
