"""Cost of a run: peak memory, the machine's matmul peak, a training-FLOP estimate, checkpoint size.

The FLOP estimate counts what training must compute (Kaplan et al. 2020, "6N"): per token, a
forward pass of 2 FLOPs per matmul weight plus attention scores (4 * layers * seq * width);
a backward pass through activations (2 per weight) only down to the lowest trainable layer;
and weight gradients (2 per trainable matmul weight). It counts padded tokens, since padding
is computed too. Embedding lookups are not matmuls and are not counted.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import platform
import sys
import threading
import time

import psutil
import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from tunebench import assets
from tunebench.provenance import collect_provenance
from tunebench.training import clock
from tunebench.training.prefix_cache import first_trainable_block


class PeakHostMemory:
    """Samples this process's resident memory in a thread; `peak_mb` is the largest seen.

    On entry it first frees what earlier work in the process left behind (reference cycles,
    glibc's retained heap), so that a run's peak is its own rather than its predecessor's
    leftovers: measured, SmolLM2 zero-shot on commonsense_qa peaked at 2,524 MB after a LoRA
    run on XSum in the same process against 1,415 MB alone.
    """

    def __init__(self, interval_s: float = 0.05):
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._process = psutil.Process()

    def __enter__(self) -> PeakHostMemory:
        release_memory()
        self.peak_bytes = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    def _sample(self) -> None:
        """Each sample is also a tick of the clock that notices the process was stopped."""
        last = (time.perf_counter(), time.process_time())
        while not self._stop.wait(self.interval_s):
            now = (time.perf_counter(), time.process_time())
            clock.STOPS.tick(last, now, self.interval_s)
            last = now
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def release_memory() -> None:
    """Collect garbage and hand glibc's free heap back to the system (Linux; elsewhere only
    the collection)."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def machine_peak_flops(device: torch.device) -> float:
    """Dense-matmul FLOP/s of this machine (fp32 on CPU, bf16 on GPU): the best ever measured.

    Measured once per process and merged into a cache on disk by keeping the maximum, so a
    measurement taken while other work shared the CPU can only ever be replaced by a higher one
    and never makes later MFU figures exceed 1.
    """
    key = _machine_key(device)
    cache = assets.cache_dir() / "machine_peak.json"
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    measured = _measured_this_process(key, device)
    if measured > known.get(key, 0.0):
        known[key] = measured
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1))
    return known[key]


_MEASURED: dict[str, float] = {}


def _measured_this_process(key: str, device: torch.device) -> float:
    if key not in _MEASURED:
        _MEASURED[key] = _measure_matmul_flops(device)
    return _MEASURED[key]


def _machine_key(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}:bf16"
    cpu = collect_provenance()["cpu_model"] or platform.machine()
    return f"cpu:{cpu}:{torch.get_num_threads()}threads:fp32"


def _measure_matmul_flops(device: torch.device, window_s: float = 1.0) -> float:
    """Best rate over `window_s` of repeated matmuls, after one untimed warm-up product."""
    size, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (1024, torch.float32)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    deadline = time.perf_counter() + window_s
    while time.perf_counter() < deadline:
        _sync(device)
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        _sync(device)
        best = min(best, (time.perf_counter() - start) / 4)
    return 2 * size**3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_flops(
    model: nn.Module,
    layers: nn.ModuleList,
    padded_tokens: int,
    mean_sequence_length: float,
    hidden_size: int,
    skipped_tokens: int = 0,
    skipped_blocks: int = 0,
) -> float:
    """Estimated FLOPs of training on `padded_tokens` tokens (see the module docstring), less
    the forward passes of the bottom `skipped_blocks` blocks on `skipped_tokens` tokens that
    the prefix cache did not compute."""
    matmul_weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    forward_weights = sum(w.numel() for w in matmul_weights)
    trainable_weights = sum(w.numel() for w in matmul_weights if w.requires_grad)
    attention = 4 * len(layers) * mean_sequence_length * hidden_size
    forward = 2 * forward_weights + attention
    depth = _gradient_depth(model, layers)
    backward_activations = forward * depth
    backward_weights = 2 * trainable_weights
    block_weights = sum(
        m.weight.numel()
        for block in layers[:skipped_blocks]
        for m in block.modules()
        if isinstance(m, nn.Linear)
    )
    skipped = 2 * block_weights + 4 * skipped_blocks * mean_sequence_length * hidden_size
    total = padded_tokens * (forward + backward_activations + backward_weights)
    return total - skipped_tokens * skipped


def _gradient_depth(model: nn.Module, layers: nn.ModuleList) -> float:
    """Fraction of the blocks that gradients must flow back through (1.0 = down to the input)."""
    return (len(layers) - first_trainable_block(model, layers)) / len(layers)


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """What a method must save to reproduce its model: a copy of its trainable tensors.

    `copy=True` matters: on a CPU model `.to("cpu")` alone returns the live storage, which the
    optimiser keeps changing, so a best-epoch snapshot would silently follow the latest weights.
    """
    return {
        name: parameter.detach().to("cpu", copy=True).contiguous()
        for name, parameter in model.named_parameters()
        if parameter.requires_grad
    }


def checkpoint_mb(state: dict[str, torch.Tensor]) -> float:
    """Size of `state` serialised as safetensors, in MB (2^20 bytes)."""
    return len(safetensors_bytes(state)) / 2**20
