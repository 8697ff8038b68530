"""The verdict as text: per task, the advice sentence and a table of every row with its
quality (mean ± 95% CI over seeds), p-value against the chosen row, costs on that task, the
Pareto fronts it is on and its flags; as Markdown, in a terminal (rich) or as JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tunebench.report import across
from tunebench.report.advice import advice
from tunebench.report.budget import Budget
from tunebench.report.cells import Cell
from tunebench.report.markdown import escape
from tunebench.report.text import cost_text, machine_counts, machines_text
from tunebench.report.trust import cell_marks
from tunebench.report.verdict import PARETO_COSTS, Choice, TaskVerdict

FRONT_NAMES = {
    "train_seconds": "time",
    "peak_host_mb": "RAM",
    "trainable_params": "params",
    "checkpoint_mb": "checkpoint",
}
HEADERS = ["", "p vs best", "train time", "peak RAM MB", "trainable", "checkpoint MB"]
HEADERS += ["n", "Pareto front", "notes"]
LEGEND = (
    "Quality: test metric, mean ± 95% Student-t interval over seeds (accuracy-like metrics "
    "in %). p vs best: paired bootstrap over the test examples against the chosen row; † tied "
    "with it (p ≥ 0.05). Costs are this task's: mean train time, largest peak RAM. Pareto "
    "front: the costs against which no other row is both cheaper and better. ∅ no better than "
    "the trivial baseline; ↗ the last epoch was the best for at least one seed."
)


def rows(verdict: TaskVerdict) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the task's table, best row first, then in table order."""
    column = verdict.column
    headers = [verdict.label_header]
    headers += [f"{column.metric} {column.definition.arrow if column.definition else ''}"]
    headers += HEADERS[1:]
    ordered = sorted(verdict.choices, key=lambda c: c is not verdict.best)
    return headers, [_cells(verdict, c) for c in ordered]


def _cells(verdict: TaskVerdict, choice: Choice) -> list[str]:
    column = verdict.column
    scale, spec = (100, ".2f") if column.percent else (1, ".4f")
    quality = format(choice.cell.mean * scale, spec)
    if choice.interval is not None:
        quality += f" ± {format(choice.interval * scale, spec)}"
    if choice is verdict.best:
        p = "best"
    else:
        p = "—" if choice.p is None else "<0.001" if choice.p < 0.001 else f"{choice.p:.3f}"
        p += " †" if choice in verdict.tied else ""
    costs = []
    for key in PARETO_COSTS:
        cell = Cell(choice.costs[key], None, 1)
        cell.share = choice.row.costs.get(key, cell).share if key == "trainable_params" else None
        costs.append(cost_text(key, cell))
    fronts = [FRONT_NAMES[k] for k, front in verdict.pareto.items() if choice in front]
    notes = cell_marks(choice.cell).strip()
    if choice.over_budget:
        notes = f"{notes} over budget: {choice.over_budget}".strip()
    n = str(len(choice.row.by_column[choice.task]))
    return [choice.label, quality, p, *costs, n, ", ".join(fronts), notes]


def task_machines(verdict: TaskVerdict) -> dict[str, int]:
    """The machines the task's runs were measured on, with their run counts."""
    return machine_counts([r for c in verdict.choices for r in c.row.by_column[c.task]])


def explained(verdict: TaskVerdict, budget: Budget) -> str:
    """The advice, and a warning where the task's times come from several machines."""
    counts = task_machines(verdict)
    if len(counts) < 2:
        return advice(verdict, budget)
    return (
        f"{advice(verdict, budget)} {machines_text(counts)}: train times and the time front "
        "compare rows measured on different machines."
    )


def render_markdown(verdicts: list[TaskVerdict], budget: Budget) -> str:
    parts = []
    for verdict in verdicts:
        headers, cells = rows(verdict)
        lines = [f"### {escape(verdict.title)}", "", escape(explained(verdict, budget)), ""]
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|---|" + "--:|" * (len(headers) - 3) + "---|---|")
        lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in cells]
        parts.append("\n".join(lines))
    text = "\n\n".join(parts) + "\n\n" + LEGEND + "\n"
    summary = across.across_markdown(verdicts)
    return text + f"\n### Across tasks\n\n{summary}" if summary else text


def render_terminal(verdicts: list[TaskVerdict], budget: Budget) -> Group:
    shown = []
    for verdict in verdicts:
        headers, cells = rows(verdict)
        table = Table(title=verdict.title, title_justify="left")
        for index, header in enumerate(headers):
            table.add_column(header, justify="left" if index in (0, 8, 9) else "right")
        for row in cells:
            table.add_row(*(Text(c) for c in row))  # Text: labels may hold `[...]`
        shown += [Text(explained(verdict, budget)), table]
    shown.append(Text(LEGEND))
    summary = across.across_tasks(verdicts)
    if summary:
        table = Table(title="Across tasks", title_justify="left")
        for index, header in enumerate([verdicts[0].label_header, *across.HEADERS]):
            table.add_column(header, justify="left" if index == 0 else "right")
        for row in summary:
            table.add_row(*(Text(c) for c in across.cells(row)))
        shown += [table, Text(across.LEGEND)]
    return Group(*shown)


def to_json(verdicts: list[TaskVerdict], budget: Budget) -> list[dict[str, Any]]:
    """Per task (per backbone and task with `--by-backbone`: `backbone` names it): the chosen
    row under `best`, the tied ones under `tied`, the Pareto front per cost under `pareto`,
    every row under `rows`, and the advice."""
    return [
        {
            "task": v.column.key,
            "backbone": v.backbone,
            "metric": v.column.metric,
            "budget": budget.limits(),
            "advice": advice(v, budget),
            "machines": task_machines(v),
            "best": _choice(v.best) if v.best else None,
            "tied": [_choice(c) for c in v.tied],
            "pareto": {key: [c.label for c in front] for key, front in v.pareto.items()},
            "no_better_than_trivial": [c.label for c in v.trivial],
            "rows": [_choice(c) for c in v.choices],
        }
        for v in verdicts
    ]


def _choice(choice: Choice) -> dict[str, Any]:
    return {
        "label": choice.label,
        "run_ids": choice.run_ids,
        "mean": choice.cell.mean,
        "ci95": choice.interval,
        "n": len(choice.run_ids),
        "p_vs_best": choice.p,
        "costs": choice.costs,
        "over_budget": choice.over_budget,
        "trivial": choice.cell.trivial,
        "no_better_than_trivial": choice.cell.no_better_than_trivial,
        "undertrained_seeds": choice.cell.undertrained,
    }
