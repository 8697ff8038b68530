"""Imported by every Python process the ownership tests start (PYTHONPATH names this folder),
worker processes included: when TUNEBENCH_TRAIN_LOG is set, every training of a run appends
`start <run_id> <pid>` and `end <run_id> <pid>` to that file, so the test can count trainings."""

import os

if os.environ.get("TUNEBENCH_TRAIN_LOG"):
    import tunebench.study.run_path as run_path

    _execute = run_path.execute

    def _logged(spec, *args, **kwargs):
        with open(os.environ["TUNEBENCH_TRAIN_LOG"], "a") as log:
            log.write(f"start {spec.run_id} {os.getpid()}\n")
        outcome = _execute(spec, *args, **kwargs)
        with open(os.environ["TUNEBENCH_TRAIN_LOG"], "a") as log:
            log.write(f"end {spec.run_id} {os.getpid()}\n")
        return outcome

    run_path.execute = _logged

if os.environ.get("TUNEBENCH_FULL_DISK_AT_FINISH"):
    # Before the first result is recorded, no file of this process may grow any more: the
    # store's write-ahead log can take no new frame, as on a full disk (a real EFBIG).
    import resource
    import signal
    from pathlib import Path

    import tunebench.study.run_path as run_path

    _record = run_path.record_outcome

    def _full(store, *args, **kwargs):
        wal = Path(f"{store.path}-wal")
        size = wal.stat().st_size if wal.exists() else store.path.stat().st_size
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        return _record(store, *args, **kwargs)

    run_path.record_outcome = _full
