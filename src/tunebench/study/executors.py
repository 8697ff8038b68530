"""Where a study's runs execute: one after another here (`local`, the default), in N worker
processes (`parallel`), or as a Slurm job array through submitit (`slurm`).

Every executor runs the same worker function on each run (`run_path.run_in_worker`); the results
store is the only state they share, and SQLite in WAL mode lets several processes write it at
once (each write one transaction). A worker that dies (killed, out of host memory) leaves its
run `running`; the study records it as failed and a re-run retries it. A study process that is
stopped takes its workers with it: Ctrl-C cancels the queued runs and ends the running ones, and
after SIGTERM or SIGKILL each worker exits when it sees its parent gone.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from tunebench.errors import UserError

POLL_SECONDS = 2.0
Worker = Callable[..., tuple[str, str | None]]
"""(*job arguments) -> (status, reason): runs one run and records it in the store."""
Done = Callable[[int, str, str | None], None]
"""(index of the job, status, reason), called in this process as each run ends."""


class LocalExecutor(BaseModel):
    """One run after another in this process, with a progress bar per run."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["local"] = "local"


class ParallelExecutor(BaseModel):
    """`workers` processes on this machine, each with `threads_per_worker` torch threads
    (default: the machine's cores divided among the workers)."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["parallel"] = "parallel"
    workers: PositiveInt = 2
    threads_per_worker: PositiveInt | None = None

    def threads(self) -> int:
        return self.threads_per_worker or max(1, (os.cpu_count() or 1) // self.workers)


class SlurmExecutor(BaseModel):
    """A Slurm job array through submitit, one job per run; logs in `<study>/slurm/`."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["slurm"] = "slurm"
    partition: str | None = None
    gpus_per_node: int = Field(0, ge=0)
    cpus_per_task: PositiveInt | None = None
    mem_gb: PositiveInt | None = None
    timeout_min: PositiveInt = 240
    array_parallelism: PositiveInt = 32
    """How many jobs of the array Slurm may run at once."""
    cluster: Literal["slurm", "local", "debug"] | None = None
    """None: Slurm where it is installed; `local` runs the jobs as local processes (tests)."""
    additional_parameters: dict[str, Any] = Field(default_factory=dict)
    """Passed to sbatch as they are (e.g. {account: my_lab, qos: high})."""


AnyExecutor = Annotated[
    LocalExecutor | ParallelExecutor | SlurmExecutor, Field(discriminator="name")
]
EXECUTORS = ("local", "parallel", "slurm")


def executor_entry(value: Any) -> Any:
    """`parallel` or `{name: parallel, workers: 4}` -> the executor's mapping."""
    return {"name": value} if isinstance(value, str) else value


def run_parallel(
    executor: ParallelExecutor,
    jobs: list[tuple],
    worker: Worker,
    on_done: Done,
    started: Callable[[int], bool],
) -> None:
    """Each job's arguments (plus the thread budget) in a pool of spawned processes.

    A worker that dies breaks the whole pool and every job still in it. Jobs that `started`
    (in flight when it broke) are reported failed; the others go to a fresh pool.
    """
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    waiting = list(range(len(jobs)))
    while waiting:
        reported = set()
        with ProcessPoolExecutor(
            max_workers=executor.workers,
            mp_context=context,
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            futures = {pool.submit(worker, *jobs[i], executor.threads()): i for i in waiting}
            try:
                for future in as_completed(futures):
                    index = futures[future]
                    if isinstance(future.exception(), BrokenProcessPool) and not started(index):
                        continue  # never ran: it goes to the next pool
                    on_done(index, *_outcome(future.result))
                    reported.add(index)
            except BaseException:  # Ctrl-C: stop now, not after every queued run
                _stop_now(pool)
                raise
        if not reported:  # the pool broke before any job could run: do not loop forever
            for index in waiting:
                on_done(index, "failed", "error: the worker pool could not run any job")
            return
        waiting = [i for i in waiting if i not in reported]


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued runs and end the running ones (they stay `running`; a re-run retries
    them). Python 3.14 has `pool.terminate_workers()`; before it, the pool's process table."""
    processes = list((pool._processes or {}).values())  # noqa: SLF001 - shutdown clears it
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: ends this worker once the study process is gone, so that a stopped
    study leaves no orphan training on (and holding the cores) for a run a re-run repeats anyway.
    Ctrl-C is the study process's to handle: a worker ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_slurm(
    executor: SlurmExecutor, jobs: list[tuple], worker: Worker, on_done: Done, folder: Path
) -> None:
    """One array job per run; waits for them all, reporting each as it ends."""
    import submitit

    slurm = submitit.AutoExecutor(folder=folder / "%j", cluster=executor.cluster)
    parameters = {
        "timeout_min": executor.timeout_min,
        "gpus_per_node": executor.gpus_per_node,
        "cpus_per_task": executor.cpus_per_task,
        "mem_gb": executor.mem_gb,
        "slurm_partition": executor.partition,
        "slurm_array_parallelism": executor.array_parallelism,
        "slurm_additional_parameters": executor.additional_parameters or None,
    }
    slurm.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    threads = executor.cpus_per_task
    submitted = slurm.map_array(worker, *zip(*jobs, strict=True), [threads] * len(jobs))
    pending = dict(enumerate(submitted))
    while pending:
        for index, job in list(pending.items()):
            if job.done():
                on_done(index, *_outcome(job.result))
                del pending[index]
        if pending:
            time.sleep(POLL_SECONDS)


def _outcome(result: Callable[[], tuple[str, str | None]]) -> tuple[str, str | None]:
    """The worker's (status, reason), or a failure saying how its process failed."""
    try:
        return result()
    except UserError:
        raise  # the study must stop (a result the store could not take is kept; see pending.py)
    except BrokenProcessPool as error:
        return "failed", f"error: the worker process ended abruptly (killed?): {error}"
    except Exception as error:  # noqa: BLE001 - a failed worker must not stop the study
        return "failed", f"error: in the worker process: {type(error).__name__}: {error}"
