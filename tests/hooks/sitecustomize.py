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
