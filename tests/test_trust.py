"""Trust flags: a result no better than its task's trivial baseline is marked `∅`, one still
improving at its last epoch `↗`, in every table format."""

from __future__ import annotations

import pytest
from fake_runs import LABELS, classifier_run, run

from tunebench.report.latex import render_latex
from tunebench.report.markdown import render_markdown
from tunebench.report.table import build_table
from tunebench.report.trust import constant_examples


def _cell(table, method: str):
    row = next(r for r in table.rows if r.keys[1] == method)
    return row.cells[table.tasks[0].key]


def test_constant_baselines_are_the_majority_class_the_mean_and_no_entities():
    majority = constant_examples({"prediction": [1] * 100, "label": LABELS})
    assert majority["prediction"] == [0] * 100
    mean = constant_examples({"error": [0.0, 0.0, 0.0], "target": [1.0, 2.0, 6.0]})
    assert mean["error"] == pytest.approx([2.0, 1.0, -3.0])
    tokens = {"entities_right": [1, 2], "entities_predicted": [1, 3], "entities_gold": [2, 2]}
    assert constant_examples(tokens)["entities_predicted"] == [0, 0]
    assert constant_examples({"nll": [1.0], "tokens": [3]}) is None


def test_a_run_at_the_majority_class_is_flagged_and_a_good_one_is_not():
    records = [classifier_run("lora", s, 0.97) for s in range(3)]
    records += [classifier_run("loha", s, 0.0, best_epoch=1) for s in range(3)]
    for r in records[3:]:  # loha predicts the majority class every time
        r.metrics["test_examples"]["prediction"] = [0] * len(LABELS)
        r.metrics["test"]["accuracy"] = 0.8
    table = build_table(records)
    assert _cell(table, "loha").no_better_than_trivial
    assert _cell(table, "loha").trivial == pytest.approx(0.8)
    assert not _cell(table, "lora").no_better_than_trivial
    assert _cell(table, "loha").undertrained == 3 and _cell(table, "lora").undertrained == 0
    markdown = render_markdown(table)
    assert "<ins>80.00 ± 0.00 ∅ ↗</ins>" in markdown and "∅ no better than trivial" in markdown
    assert r"$\emptyset$" in render_latex(table)


def test_a_run_barely_above_the_majority_class_is_not_significantly_better():
    records = [classifier_run("lora", 0, 0.97)]
    # right on the majority class's examples and on one more: 81% against 80%
    records.append(
        run("vera", 0, {"accuracy": 0.81}, {"prediction": [0] * 99 + [1], "label": LABELS})
    )
    assert _cell(build_table(records), "vera").no_better_than_trivial


def test_a_single_epoch_is_never_called_undertrained():
    records = [classifier_run("lora", 0, 0.97, best_epoch=0, epochs=1)]
    records.append(classifier_run("full", 0, 0.97, best_epoch=1, epochs=2))
    table = build_table(records)
    assert _cell(table, "lora").undertrained == 0 and _cell(table, "full").undertrained == 1


def test_language_model_tasks_are_compared_with_the_untrained_model():
    task = {"name": "xsum", "family": "generation"}
    zero_shot = {"nll": [3.0] * 50, "tokens": [10] * 50}
    learned = {"nll": [2.0] * 50, "tokens": [10] * 50}
    worse = {"nll": [3.0 + 0.01 * (i % 3) for i in range(50)], "tokens": [10] * 50}
    records = [
        run("frozen", 0, {"perplexity": 1.35}, zero_shot, task=task),
        run("lora", 0, {"perplexity": 1.22}, learned, task=task),
        run("prompt", 0, {"perplexity": 1.35}, worse, task=task),
    ]
    table = build_table(records)
    assert not _cell(table, "frozen").no_better_than_trivial  # the baseline itself
    assert not _cell(table, "lora").no_better_than_trivial
    assert _cell(table, "prompt").no_better_than_trivial
    without_baseline = build_table(records[1:])
    assert not _cell(without_baseline, "prompt").no_better_than_trivial
    assert _cell(without_baseline, "prompt").trivial is None


def test_a_zero_shot_row_without_the_metrics_values_gives_no_flag():
    """A DPO study's frozen row scores no reward (the policy is its own reference), so reward
    accuracy has no zero-shot value: the trained rows get no flag, and the table is built
    (it raised a TypeError, ending `tunebench run examples/generation_quick.yaml`)."""
    task = {"name": "summary_pairs", "family": "preference"}
    zero_shot = {"logp_margin": [0.5, -0.5] * 16}
    trained = {"logp_margin": [0.5, -0.5] * 16, "reward_margin": [0.1, -0.1, 0.2, 0.3] * 8}
    records = [
        run("frozen", 0, {"logp_accuracy": 0.5}, zero_shot, task=task),
        run("lora", 0, {"reward_accuracy": 0.75, "logp_accuracy": 0.5}, trained, task=task),
    ]
    table = build_table(records, "reward_accuracy")
    assert _cell(table, "lora").trivial is None
    assert not _cell(table, "lora").no_better_than_trivial
