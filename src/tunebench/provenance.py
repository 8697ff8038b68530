"""Where a run ran: software versions, code commit and hardware, stored with every run.

Cost numbers (seconds, MB, FLOP utilisation) mean little without the machine that produced
them, and quality numbers can shift with library versions; this is what lets a reader of the
results tell. Everything here is best effort: a missing tool or file gives None, never an error.
"""

from __future__ import annotations

import copy
import functools
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import torch

_PACKAGES = ("torch", "transformers", "peft", "accelerate", "tunebench")


def collect_provenance() -> dict[str, Any]:
    """Versions, git commit, platform and hardware of this process, as JSON-ready data.

    Computed once per process (nothing here changes during a study); each call returns a copy
    so a caller may add to it.
    """
    return copy.deepcopy(_collect())


@functools.cache
def _collect() -> dict[str, Any]:
    gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return {
        "versions": {
            "python": platform.python_version(),
            **{name: _version(name) for name in _PACKAGES},
        },
        "git": _git_state(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu_name": torch.cuda.get_device_name(0) if gpu_count else None,
        "gpu_count": gpu_count or None,
        "hostname": socket.gethostname(),
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_state() -> dict[str, Any] | None:
    """Commit of the repository around the working directory and whether tracked files changed.

    Untracked files are ignored: study output folders would otherwise mark every run dirty.
    """
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None
    changes = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if changes is None else bool(changes)}


def _git(*args: str) -> str | None:
    """stdout of a git command, or None when git is missing, fails, or hangs."""
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=5, cwd=os.getcwd()
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _cpu_model() -> str | None:
    """The CPU's marketing name; /proc/cpuinfo on Linux since platform.processor() says 'x86_64'."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
