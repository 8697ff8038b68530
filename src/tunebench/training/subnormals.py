"""CPU arithmetic with subnormal floats flushed to zero while a run trains and tests.

Some CPUs take a slow path for every subnormal (denormal) float: prompt tuning on Gemma 3 270M
produces them, and on a 2-core Intel Xeon guest it trained about 6x slower than with them
flushed (790 s against 124 s for the same 31 steps). On an AMD EPYC guest flushing made the
same run 1.19x faster and left every logged loss and test metric identical to the last digit
(bench/results/subnormals-20261208T012001.json; `python -m bench.subnormals` measures it on
any machine). GPUs are not affected: the setting is the CPU's (x86 FTZ and DAZ).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def subnormals_flushed() -> Iterator[bool]:
    """Flush subnormals to zero inside the block; yields whether this CPU supports it. The
    process's default (IEEE subnormals) comes back afterwards."""
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        torch.set_flush_denormal(False)
