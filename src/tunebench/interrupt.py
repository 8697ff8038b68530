"""Ctrl-C that always stops a study, and always ends with exit status 130.

Python's own SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be.
Two places break that: inside a `__del__` or a garbage-collector callback the exception is
printed as "Exception ignored" and lost (the study went on and finished), and a plain
KeyboardInterrupt that once passed through `exec` of a string (dataclasses build their methods
so while modules import) makes CPython end the process by SIGINT after `main` caught it and
asked for 130. So our handler raises `Interrupted`, a subclass CPython does not track, and
remembers the press: `check()` at every training step raises it again if it was lost.
"""

from __future__ import annotations

import signal


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, as raised by `catch()`'s handler."""


_pressed = False


def catch() -> None:
    """Handle SIGINT from now on (unless it is ignored, as for a job started with `&`)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


def check() -> None:
    """Raise `Interrupted` if Ctrl-C was pressed: a safe point (a step, a run) to stop at."""
    if _pressed:
        raise Interrupted


def _on_sigint(signum: int, frame: object) -> None:
    global _pressed
    _pressed = True
    raise Interrupted
