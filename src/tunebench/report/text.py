"""How the table's numbers read as text, the same in every format: a metric cell, a cost cell,
step times, and the caption that says what the marks mean and what is missing."""

from __future__ import annotations

from tunebench.records import machine_name
from tunebench.report.cells import Cell
from tunebench.report.table import ReportTable


def metric_text(cell: Cell, percent: bool) -> str:
    """`97.17 ± 0.48` (percent metrics x 100), `0.4783 ± 0.0027`, or an em dash."""
    if cell.mean is None:
        return "—"
    scale, spec = (100, ".2f") if percent else (1, ".4f")
    text = format(cell.mean * scale, spec)
    if cell.std is not None:
        text += f" ± {format(cell.std * scale, spec)}"
    return text


def cost_text(key: str, cell: Cell) -> str:
    """`12.3 s`, `1520`, `74.5K (0.33%)`, `0.28`."""
    if cell.mean is None:
        return "—"
    if key == "train_seconds":
        return format_seconds([cell.mean])
    if key.endswith("trainable_params"):
        share = f" ({100 * cell.share:.2f}%)" if cell.share is not None else ""
        return human_count(cell.mean) + share
    return format(cell.mean, ".0f" if key == "peak_host_mb" else ".2f")


def human_count(count: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= scale:
            return f"{count / scale:.1f}{suffix}"
    return f"{count:.0f}"


def format_seconds(steps: list[float]) -> str:
    """[19800, 1800] -> '5.5 h + 30 min'."""
    return " + ".join(_duration(s) for s in steps) if steps else "—"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def caption_lines(table: ReportTable) -> list[str]:
    """What the marks and numbers mean, and what is missing: shared by every format."""
    lines = [
        "Test metrics (accuracy-like ones in %), mean ± std over seeds; per column the best is "
        "bold and the second best underlined; n = seeds."
    ]
    if table.timed:
        lines.append(
            "time: training seconds of each step (two_step: step 1 + step 2), mean over seeds."
        )
    if table.tested:
        lines.append(
            "† not significantly worse than the column's best (paired bootstrap over the test "
            "examples, seeds averaged, 2,000 resamples, p ≥ 0.05)."
        )
    else:
        lines.append(
            "No significance tests: they need two or more rows per column whose runs stored "
            "per-example test values (runs recorded by older versions did not)."
        )
    cells = [row.cells[column.key] for row in table.rows for column in table.tasks]
    if any(cell.no_better_than_trivial for cell in cells):
        lines.append(
            "∅ no better than trivial: not significantly better than the task's trivial baseline "
            "(the best constant prediction, or for language-model tasks the untrained model)."
        )
    if any(cell.undertrained for cell in cells):
        lines.append(
            "↗ may be undertrained: for at least one seed the last epoch was the best one."
        )
    shared = sum(_shared_machine(run) for row in table.rows for run in row.runs)
    if shared:
        lines.append(
            f"{shared} CPU run(s) had less than half of one core (cpu_seconds / wall_seconds "
            "< 0.5): the machine was busy with other work, so their times are slower than the "
            "machine's own."
        )
    lines += _machine_lines(table)
    if table.failed:
        lines.append(f"{table.failed} run(s) failed: see runs.json.")
    if table.running:
        lines.append(f"{table.running} run(s) still running or interrupted.")
    return lines


SHARED_BELOW = 0.5
"""A CPU run whose process had less than this share of one core was starved by other work. One
core, not its threads: a run on many threads may leave some idle on a machine of its own."""


def _shared_machine(run) -> bool:
    costs = run.costs
    cpu, wall = costs.get("cpu_seconds"), costs.get("wall_seconds")
    if not (cpu and wall) or costs.get("peak_gpu_mb") is not None:
        return False  # recorded before these costs, or a GPU run (its CPU waits on the GPU)
    return cpu / wall < SHARED_BELOW


def _machine_lines(table: ReportTable) -> list[str]:
    """Times and memory compare only between runs on one machine: a study resumed on another
    (exported, imported, continued) mixes them, and a row on the faster one looks cheaper."""
    counts = machine_counts([run for row in table.rows for run in row.runs])
    if len(counts) < 2:
        return []
    mixed = sum(len(machine_counts(row.runs)) > 1 for row in table.rows)
    return [
        f"{machines_text(counts)}; {mixed} row(s) mix them. Times compare only between runs "
        "on one machine (each run's machine: runs.json, provenance)."
    ]


def machine_counts(runs: list) -> dict[str, int]:
    """The machines the runs' costs were measured on (the GPU's name, else the CPU's), with
    how many runs each, most first; runs recorded without provenance are left out."""
    names = [machine_name(r.provenance or {}) for r in runs]
    counts = {name: names.count(name) for name in dict.fromkeys(names) if name}
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def machines_text(counts: dict[str, int]) -> str:
    """`Runs from 2 machines (AMD EPYC: 3, Xeon: 1 runs)`."""
    named = ", ".join(f"{name}: {n}" for name, n in counts.items())
    return f"Runs from {len(counts)} machines ({named} runs)"
