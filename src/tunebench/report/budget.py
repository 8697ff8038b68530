"""A user's budget for `tunebench recommend`: limits on a run's recorded costs, parsed from
the command line (`--max-memory 1700MB`, `--max-train-time 30min`, `--max-trainable-params
1M`, `--max-checkpoint-size 5MB`).

Sizes are in the store's units: MB is 2^20 bytes (as `peak_host_mb` and `checkpoint_mb`), GB
2^30, KB 2^10; a bare number is MB. Durations take s, min or h (a bare number is seconds);
counts take K, M or B (10^3, 10^6, 10^9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tunebench.errors import UserError

_NUMBER = r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*"
_SIZES = {"": 1.0, "kb": 2**-10, "k": 2**-10, "mb": 1.0, "m": 1.0, "gb": 1024.0, "g": 1024.0}
_DURATIONS = {"": 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}
_COUNTS = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9}


@dataclass(frozen=True)
class Budget:
    """Upper limits, each in its cost's unit; None: no limit."""

    peak_host_mb: float | None = None
    train_seconds: float | None = None
    trainable_params: float | None = None
    checkpoint_mb: float | None = None

    def limits(self) -> dict[str, float]:
        """cost key -> limit, for the limits that are set."""
        return {k: v for k, v in vars(self).items() if v is not None}

    def over(self, costs: dict[str, float | None]) -> str | None:
        """Why costs are over the budget ('peak RAM 1,971 MB > 1,700 MB'), or None."""
        for key, limit in self.limits().items():
            value = costs.get(key)
            if value is not None and value > limit:
                return f"{COST_WORDS[key]} {_shown(key, value)} > {_shown(key, limit)}"
        return None


NO_BUDGET = Budget()

COST_WORDS = {
    "peak_host_mb": "peak RAM",
    "train_seconds": "train time",
    "trainable_params": "trainable parameters",
    "checkpoint_mb": "checkpoint",
}


def parse_budget(
    memory: str | None, train_time: str | None, params: str | None, checkpoint: str | None
) -> Budget:
    """The command line's limits as a Budget (UserError naming the option when one is bad)."""
    return Budget(
        peak_host_mb=_parse("--max-memory", memory, _SIZES, "1700MB, 2GB"),
        train_seconds=_parse("--max-train-time", train_time, _DURATIONS, "90s, 30min, 1.5h"),
        trainable_params=_parse("--max-trainable-params", params, _COUNTS, "500K, 1M, 1e6"),
        checkpoint_mb=_parse("--max-checkpoint-size", checkpoint, _SIZES, "5MB, 1GB"),
    )


def _parse(option: str, text: str | None, units: dict[str, float], examples: str) -> float | None:
    if text is None:
        return None
    match = re.fullmatch(_NUMBER + r"([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in units:
        raise UserError(f"{option}: cannot read {text!r} (examples: {examples})")
    return float(match.group(1)) * units[unit]


def _shown(key: str, value: float) -> str:
    if key == "train_seconds":
        return f"{value:,.0f} s"
    if key == "trainable_params":
        return f"{value:,.0f}"
    return f"{value:,.0f} MB" if value >= 10 else f"{value:.2f} MB"
