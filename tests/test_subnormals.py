"""Runs flush subnormal floats to zero on the CPU (some CPUs are many times slower on them),
and give the process its IEEE default back afterwards."""

from __future__ import annotations

import torch

from tunebench.training.subnormals import subnormals_flushed

SUBNORMAL = 1e-40  # below float32's smallest normal, 1.18e-38


def _kept() -> bool:
    return bool((torch.tensor([SUBNORMAL]) * 1.0).item() != 0.0)


def test_subnormals_read_as_zero_inside_the_block_only():
    assert _kept()
    with subnormals_flushed() as supported:
        if supported:  # x86 (FTZ/DAZ) and arm64 (FZ)
            assert not _kept()
    assert _kept()


def test_the_default_comes_back_after_an_error():
    try:
        with subnormals_flushed():
            raise RuntimeError("a failed run")
    except RuntimeError:
        pass
    assert _kept()
