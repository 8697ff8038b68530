"""Ctrl-C always stops a study and always ends with exit status 130 (tunebench/interrupt.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tunebench import interrupt

# What happens while modules import: dataclasses run `exec` on a string. Python's own
# KeyboardInterrupt passing through there made the process die by SIGINT (-2), not exit 130.
PRESSED_DURING_EXEC = """
import os, signal, sys
from tunebench import interrupt
interrupt.catch()
try:
    exec("import os, signal, time\\nos.kill(os.getpid(), signal.SIGINT)\\ntime.sleep(30)")
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_during_exec_of_a_string_still_exits_130(tmp_path: Path) -> None:
    (tmp_path / "pressed.py").write_text(PRESSED_DURING_EXEC)
    source = Path(interrupt.__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(source)])}
    done = subprocess.run(
        [sys.executable, "-m", "pressed"],
        env=env,
        timeout=60,
        # a child inherits an ignored SIGINT, and catch() leaves an ignored one alone
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert done.returncode == 130


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_lost_in_a_finaliser_stops_at_the_next_check(monkeypatch) -> None:
    monkeypatch.setattr(interrupt, "_pressed", False)

    class Finalised:
        def __del__(self) -> None:
            interrupt._on_sigint(signal.SIGINT, None)  # Python prints "Exception ignored"

    Finalised()
    with pytest.raises(interrupt.Interrupted):
        interrupt.check()


def test_without_a_press_the_check_passes(monkeypatch) -> None:
    monkeypatch.setattr(interrupt, "_pressed", False)
    interrupt.check()


def test_an_ignored_sigint_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        interrupt.catch()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
