"""Which methods hold up across tasks? The summary `tunebench recommend` prints under the
per-task verdicts of a study with several tasks.

A method that is best on one task and no better than the majority class on another is a
different answer from one that is always near the top, and the per-task tables do not show
it at a glance. Per row label (the same method entry on every task), over the tasks that
scored it: on how many it was the chosen row or tied with it, its mean rank by mean quality
(1 = the best row scored on that task; equal means share a rank), how far behind the chosen
row it was on average (in the metric's points; only when every task reports the same
metric), and on how many it was no better than the trivial baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunebench.report.markdown import escape
from tunebench.report.verdict import Choice, TaskVerdict


@dataclass(frozen=True)
class AcrossTasks:
    label: str
    tasks: int
    """Tasks on which the row has a score."""
    best_or_tied: int
    mean_rank: float
    behind_best: float | None
    """Mean of (chosen row's quality − this row's), in the metric's direction and display
    scale (percentage points for accuracy-like metrics); None when the tasks' metrics differ
    or no task had a chosen row."""
    trivial: int
    """Tasks on which it was no better than the trivial baseline."""


def across_tasks(verdicts: list[TaskVerdict]) -> list[AcrossTasks]:
    """One summary per row label, by mean rank then most tasks best or tied; empty for a
    study of one task."""
    if len(verdicts) < 2:
        return []
    comparable = len({(v.column.metric, v.column.percent) for v in verdicts}) == 1
    seen: dict[str, list[tuple[int, float | None, bool, bool]]] = {}
    for verdict in verdicts:
        for choice in verdict.choices:
            chosen = choice is verdict.best or choice in verdict.tied
            seen.setdefault(choice.label, []).append(
                (
                    _rank(verdict, choice),
                    _behind(verdict, choice) if comparable else None,
                    chosen,
                    choice.cell.no_better_than_trivial,
                )
            )
    rows = [_summary(label, entries) for label, entries in seen.items()]
    return sorted(rows, key=lambda r: (r.mean_rank, -r.best_or_tied, r.label))


def _rank(verdict: TaskVerdict, choice: Choice) -> int:
    """1 + the rows of this task with a better mean (competition ranking)."""
    sign = -1 if verdict.column.lower_is_better else 1
    mean = sign * choice.cell.mean
    return 1 + sum(sign * other.cell.mean > mean for other in verdict.choices)


def _behind(verdict: TaskVerdict, choice: Choice) -> float | None:
    if verdict.best is None:
        return None
    sign = -1 if verdict.column.lower_is_better else 1
    scale = 100 if verdict.column.percent else 1
    return sign * (verdict.best.cell.mean - choice.cell.mean) * scale


def _summary(label: str, entries: list[tuple[int, float | None, bool, bool]]) -> AcrossTasks:
    gaps = [gap for _, gap, _, _ in entries if gap is not None]
    return AcrossTasks(
        label=label,
        tasks=len(entries),
        best_or_tied=sum(chosen for _, _, chosen, _ in entries),
        mean_rank=sum(rank for rank, _, _, _ in entries) / len(entries),
        behind_best=sum(gaps) / len(gaps) if gaps else None,
        trivial=sum(trivial for *_, trivial in entries),
    )


HEADERS = ["tasks", "best or tied", "mean rank", "behind best", "no better than trivial"]
LEGEND = (
    "Across tasks: on how many tasks the row was the chosen one or tied with it, its mean rank "
    "by mean quality (1 = best on that task), how far behind the chosen row it was on average "
    "(the metric's points; — when the tasks' metrics differ), and on how many tasks it was no "
    "better than the trivial baseline."
)


def cells(row: AcrossTasks) -> list[str]:
    """The row's cells under HEADERS, its label first."""
    behind = "—" if row.behind_best is None else f"{row.behind_best:.2f}"
    return [
        row.label,
        str(row.tasks),
        str(row.best_or_tied),
        f"{row.mean_rank:.1f}",
        behind,
        str(row.trivial),
    ]


def across_markdown(verdicts: list[TaskVerdict]) -> str:
    """The summary as a Markdown table and its legend; '' for a study of one task."""
    summary = across_tasks(verdicts)
    if not summary:
        return ""
    lines = ["| " + " | ".join([verdicts[0].label_header, *HEADERS]) + " |"]
    lines.append("|---|" + "--:|" * len(HEADERS))
    lines += ["| " + " | ".join(escape(c) for c in cells(row)) + " |" for row in summary]
    return "\n".join(lines) + "\n\n" + LEGEND + "\n"
