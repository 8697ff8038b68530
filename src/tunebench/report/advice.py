"""A task's verdict in one plain sentence: what to use, what is as good for less, what is
worse but much cheaper, what the budget ruled out and what is no better than trivial.

  sms_spam: rslora r=64 is the best (98.33% accuracy); lora r=8 is within the noise of it at
  13% of its checkpoint size and 1% less memory; frozen is 1.7 points worse but 1.8× faster;
  adalora, loha are no better than the trivial baseline (87.30%).
"""

from __future__ import annotations

from tunebench.report.budget import Budget
from tunebench.report.cells import Column
from tunebench.report.verdict import Choice, TaskVerdict

FASTER = 1.5
"""A worse row is worth naming when it trains at least this many times faster."""


def advice(verdict: TaskVerdict, budget: Budget) -> str:
    column, best = verdict.column, verdict.best
    if best is None:
        if not verdict.choices:
            return f"{verdict.title}: no completed run."
        return (
            f"{verdict.title}: no method is both within the budget and better than the trivial "
            "baseline."
        )
    within = " within the budget" if budget.limits() else ""
    parts = [f"{verdict.title}: {best.label} is the best{within} ({score(column, best.cell.mean)})"]
    for clause in (_as_good_for_less, _worse_but_faster, _ruled_out):
        text = clause(verdict)
        if text:
            parts.append(text)
    if verdict.trivial:
        baseline = verdict.trivial[0].cell.trivial
        shown = f" ({score(column, baseline, named=False)})" if baseline is not None else ""
        names = ", ".join(c.label for c in verdict.trivial)
        verb = "is" if len(verdict.trivial) == 1 else "are"
        parts.append(f"{names} {verb} no better than the trivial baseline{shown}")
    return "; ".join(parts) + "."


def score(column: Column, value: float, named: bool = True) -> str:
    """`98.33% accuracy`, `perplexity 12.41` (or the number alone)."""
    text = f"{100 * value:.2f}%" if column.percent else f"{value:.4g}"
    if not named:
        return text
    return f"{text} {column.metric}" if column.percent else f"{column.metric} {text}"


def gap(column: Column, difference: float) -> str:
    """`2.4 points` (percent metrics) or `0.52 perplexity`."""
    if column.percent:
        return f"{100 * abs(difference):.1f} points"
    return f"{abs(difference):.3g} {column.metric}"


def _as_good_for_less(verdict: TaskVerdict) -> str | None:
    """The tied row with the smallest checkpoint (or fewest trainable parameters)."""
    best = verdict.best
    for key, words in (("checkpoint_mb", "checkpoint size"), ("trainable_params", "parameters")):
        cheaper = [c for c in verdict.tied if _less(c, best, key)]
        if cheaper:
            alt = min(cheaper, key=lambda c: c.costs[key])
            text = f"{alt.label} is within the noise of it at {_ratio(alt, best, key)} {words}"
            memory = _memory_change(alt, best)
            return text + (f" and {memory}" if memory else "")
    return None


def _worse_but_faster(verdict: TaskVerdict) -> str | None:
    """The best-scoring eligible row that trains at least FASTER times faster than the best."""
    best, column = verdict.best, verdict.column
    seconds = best.costs.get("train_seconds")
    if not seconds:
        return None
    fast = [
        c
        for c in verdict.choices
        if c is not best
        and c not in verdict.tied
        and c.over_budget is None
        and not c.cell.no_better_than_trivial
        and c.costs.get("train_seconds")
        and seconds / c.costs["train_seconds"] >= FASTER
    ]
    if not fast:
        return None
    sign = -1 if column.lower_is_better else 1
    alt = max(fast, key=lambda c: sign * c.cell.mean)
    speed = seconds / alt.costs["train_seconds"]
    worse = gap(column, best.cell.mean - alt.cell.mean)
    return f"{alt.label} is {worse} worse but {speed:.1f}× faster"


def _ruled_out(verdict: TaskVerdict) -> str | None:
    """The best row the budget excluded, when it scores better than the chosen one."""
    column, best = verdict.column, verdict.best
    better = [
        c
        for c in verdict.choices
        if c.over_budget
        and not c.cell.no_better_than_trivial
        and column.definition is not None
        and column.definition.better(c.cell.mean, best.cell.mean)
    ]
    if not better:
        return None
    sign = -1 if column.lower_is_better else 1
    top = max(better, key=lambda c: sign * c.cell.mean)
    shown = score(column, top.cell.mean, named=False)
    return f"{top.label} scores {shown} but is over the budget ({top.over_budget})"


def _less(choice: Choice, than: Choice, key: str) -> bool:
    mine, theirs = choice.costs.get(key), than.costs.get(key)
    return mine is not None and theirs is not None and mine < theirs


def _ratio(choice: Choice, of: Choice, key: str) -> str:
    """`13% of its`, `0.3% of its`."""
    share = choice.costs[key] / of.costs[key] if of.costs[key] else 0.0
    shown = f"{100 * share:.1f}%" if share < 0.1 else f"{100 * share:.0f}%"
    return f"{shown} of its"


def _memory_change(choice: Choice, of: Choice) -> str | None:
    mine, theirs = choice.costs.get("peak_host_mb"), of.costs.get("peak_host_mb")
    if not mine or not theirs:
        return None
    change = mine / theirs - 1
    if abs(change) < 0.01:
        return "the same memory"
    return f"{abs(change):.0%} {'less' if change < 0 else 'more'} memory"
