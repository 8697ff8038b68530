"""`tunebench recommend`: the best method within a budget, the ones tied with it, the Pareto
fronts and one sentence of advice, from recorded runs."""

from __future__ import annotations

import json

import pytest
from fake_runs import classifier_run, store_runs
from test_cli import cli

from tunebench.errors import UserError
from tunebench.report.across import across_tasks
from tunebench.report.advice import advice
from tunebench.report.budget import NO_BUDGET, Budget, parse_budget
from tunebench.report.table import build_table
from tunebench.report.verdict import ci95, verdicts
from tunebench.report.verdict_table import render_markdown
from tunebench.report.write import write_report

COSTS = {  # method -> (accuracy, train seconds, peak MB, trainable params, checkpoint MB)
    "full": (0.97, 100.0, 2000.0, 22e6, 86.0),
    "lora": (0.96, 60.0, 1800.0, 7e4, 0.3),
    "frozen": (0.90, 20.0, 1100.0, 770.0, 0.01),
    "bitfit": (0.80, 50.0, 1600.0, 2e4, 0.1),
}


def _records():
    records = []
    for method, (accuracy, seconds, peak, params, checkpoint) in COSTS.items():
        costs = {
            "train_seconds": seconds,
            "peak_host_mb": peak,
            "trainable_params": params,
            "checkpoint_mb": checkpoint,
        }
        records += [classifier_run(method, s, accuracy - 0.01 * s, costs) for s in range(3)]
    for r in records:  # bitfit predicts the majority class: no better than trivial
        if r.method == "bitfit":
            r.metrics["test_examples"]["prediction"] = [0] * 100
    return records


def _verdict(budget: Budget = NO_BUDGET):
    return verdicts(build_table(_records()), budget)[0]


def test_budgets_read_sizes_durations_and_counts():
    budget = parse_budget("1.5GB", "30min", "1M", "512KB")
    assert budget == Budget(1536.0, 1800.0, 1e6, 0.5)
    assert parse_budget("1700", "90", "2e5", None).limits() == {
        "peak_host_mb": 1700.0,
        "train_seconds": 90.0,
        "trainable_params": 2e5,
    }
    with pytest.raises(UserError, match="--max-memory: cannot read '12 parsecs'"):
        parse_budget("12 parsecs", None, None, None)
    assert Budget(peak_host_mb=1700).over({"peak_host_mb": 1971.0}) == (
        "peak RAM 1,971 MB > 1,700 MB"
    )


def test_the_best_row_its_ties_and_the_fronts_without_a_budget():
    verdict = _verdict()
    assert verdict.best.label == "full"
    assert [c.label for c in verdict.tied] == ["lora"]  # 1 point on 100 examples: noise
    assert [c.label for c in verdict.trivial] == ["bitfit"]
    assert [c.label for c in verdict.pareto["checkpoint_mb"]] == ["frozen", "lora", "full"]
    assert all(c.label != "bitfit" for front in verdict.pareto.values() for c in front)
    frozen = next(c for c in verdict.choices if c.label == "frozen")
    assert frozen.p < 0.05 and frozen.run_ids == [r.run_id for r in frozen.row.runs]
    text = advice(verdict, NO_BUDGET)
    assert text.startswith("sms_spam: full is the best (")
    assert "lora is within the noise of it at 0.3% of its checkpoint size and 10% less memory" in (
        text
    )
    assert "frozen is " in text and "5.0× faster" in text
    assert "bitfit is no better than the trivial baseline (80.00%)" in text


def test_a_budget_rules_rows_out_and_says_what_it_cost():
    verdict = _verdict(Budget(peak_host_mb=1700))
    assert verdict.best.label == "frozen"
    assert verdict.best.costs["peak_host_mb"] <= 1700
    text = advice(verdict, Budget(peak_host_mb=1700))
    assert "frozen is the best within the budget" in text
    assert "full scores" in text and "over the budget (peak RAM 2,000 MB > 1,700 MB)" in text
    nothing = _verdict(Budget(peak_host_mb=100))
    assert nothing.best is None
    assert "no method is both within the budget" in advice(nothing, Budget(peak_host_mb=100))


def test_the_interval_is_students_t_over_seeds():
    cell = _verdict().best.cell
    assert ci95(cell) == pytest.approx(4.302653 * cell.std / 3**0.5, rel=1e-5)


def test_the_command_prints_json_markdown_and_refuses_a_bad_budget(tmp_path):
    store_runs(tmp_path / "study", _records())
    shown = cli("recommend", str(tmp_path / "study"), "--max-memory", "1700MB", "-f", "json")
    assert shown.returncode == 0, shown.stderr
    (task,) = json.loads(shown.stdout)
    assert task["best"]["label"] == "frozen" and len(task["best"]["run_ids"]) == 3
    assert task["best"]["costs"]["peak_host_mb"] <= 1700
    assert task["pareto"]["peak_host_mb"][0] == "frozen"
    assert task["no_better_than_trivial"] == ["bitfit"]
    markdown = cli("recommend", str(tmp_path / "study"), "-f", "markdown")
    assert "| full | " in markdown.stdout and "### sms_spam" in markdown.stdout
    bad = cli("recommend", str(tmp_path / "study"), "--max-train-time", "soon")
    assert bad.returncode == 2 and "--max-train-time: cannot read 'soon'" in bad.stderr


def test_figures_fit_their_axis_and_label_only_the_trusted_front():
    from tunebench.report.plots import cost_figure, interval_figure

    table = build_table(_records())
    column = table.tasks[0]
    dots = interval_figure(table, column)
    low, high = dots.layout.yaxis.range
    assert 60 < low < 78 and 98 < high < 102  # fitted to the intervals, not from zero
    assert dots.data[0].type == "scatter" and dots.data[0].error_y.array[0] > 0
    front = cost_figure(table, column).data[1]  # train time: the front's trace
    assert list(front.text) == ["frozen", "lora", "full"]  # bitfit (trivial) left out


def test_across_tasks_counts_wins_ranks_and_the_gap_to_the_best(tmp_path):
    """full is best on sms_spam, lora on a second task where full is 3 points behind."""
    second = {"full": 0.96, "lora": 0.99, "frozen": 0.93, "bitfit": 0.90}
    records = _records() + [
        classifier_run(method, s, accuracy - 0.01 * s, task="tweets")
        for method, accuracy in second.items()
        for s in range(3)
    ]
    found = verdicts(build_table(records), NO_BUDGET)
    assert [v.column.key for v in found] == ["sms_spam", "tweets"]
    summary = {row.label: row for row in across_tasks(found)}
    assert [row.label for row in across_tasks(found)][2:] == ["frozen", "bitfit"]
    full, lora, frozen, bitfit = (summary[m] for m in ("full", "lora", "frozen", "bitfit"))
    assert (full.mean_rank, lora.mean_rank, frozen.mean_rank, bitfit.mean_rank) == (1.5, 1.5, 3, 4)
    assert full.behind_best == pytest.approx(1.5) and lora.behind_best == pytest.approx(0.5)
    assert frozen.behind_best == pytest.approx(6.5) and bitfit.behind_best == pytest.approx(13.0)
    sms_spam, tweets = found
    assert sms_spam.best.label == "full" and tweets.best.label == "lora"
    full_tied_on_tweets = any(c.label == "full" for c in tweets.tied)
    assert full.best_or_tied == 1 + full_tied_on_tweets and lora.best_or_tied == 2
    assert frozen.best_or_tied == 0 and bitfit.trivial >= 1
    assert frozen.tasks == 2 and frozen.trivial == 0
    markdown = render_markdown(found, NO_BUDGET)
    assert "### Across tasks" in markdown and "| frozen | 2 | 0 | 3.0 | 6.50 | 0 |" in markdown
    assert across_tasks(found[:1]) == []  # one task: nothing to summarise
    assert "Across tasks" not in render_markdown(found[:1], NO_BUDGET)
    store_runs(tmp_path / "study", records)
    write_report(tmp_path / "study")
    report = (tmp_path / "study" / "report" / "report.md").read_text()
    assert report.index("## Across tasks") < report.index("## Comparison")
    assert "| frozen | 2 | 0 | 3.0 | 6.50 | 0 |" in report
    page = (tmp_path / "study" / "report" / "report.html").read_text()
    frozen_row = "<td>frozen</td><td>2</td><td>0</td><td>3.0</td><td>6.50</td><td>0</td>"
    assert "<h3>Across tasks</h3>" in page and frozen_row in page


def test_backbone_picks_one_models_runs_and_refuses_one_the_study_lacks(tmp_path):
    other = [classifier_run("lora", s, 0.99 - 0.01 * s, backbone="smollm2-135m") for s in range(3)]
    store_runs(tmp_path / "study", _records() + other)
    both = cli("recommend", str(tmp_path / "study"), "-f", "json")
    assert json.loads(both.stdout)[0]["best"]["label"] == "smollm2-135m / lora"
    one = cli("recommend", str(tmp_path / "study"), "--backbone", "minilm-l6", "-f", "json")
    (task,) = json.loads(one.stdout)
    assert task["best"]["label"] == "full" and len(task["rows"]) == 4
    each = cli("recommend", str(tmp_path / "study"), "--by-backbone", "-f", "json")
    verdicts_by = {(t["backbone"], t["task"]): t for t in json.loads(each.stdout)}
    assert list(verdicts_by) == [("minilm-l6", "sms_spam"), ("smollm2-135m", "sms_spam")]
    assert verdicts_by["smollm2-135m", "sms_spam"]["best"]["label"] == "lora"
    table = cli("recommend", str(tmp_path / "study"), "--by-backbone", "-f", "markdown").stdout
    assert "### smollm2-135m · sms_spam" in table and "smollm2-135m · sms_spam: lora is" in table
    assert "| lora | 2 | 2 |" in table  # across both backbones: best on one, tied on the other
    bad = cli("recommend", str(tmp_path / "study"), "--backbone", "gpt-5")
    assert bad.returncode == 2
    assert "--backbone: " in bad.stderr and "no runs of 'gpt-5'" in bad.stderr
    assert "its backbones are: minilm-l6, smollm2-135m" in bad.stderr


def test_times_from_several_machines_come_with_a_warning():
    records = _records()
    assert "machines" not in render_markdown(verdicts(build_table(records), NO_BUDGET), NO_BUDGET)
    for r in records:
        r.provenance.update(cpu_model="Xeon" if r.method == "frozen" else "EPYC", gpu_name=None)
    text = render_markdown(verdicts(build_table(records), NO_BUDGET), NO_BUDGET)
    assert "Runs from 2 machines (EPYC: 9, Xeon: 3 runs): train times and the time front" in text
