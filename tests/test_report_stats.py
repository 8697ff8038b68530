"""The paired bootstrap: metrics recomputed from per-example values match the direct ones, and
p-values separate a real difference from none; one metric name means one direction everywhere."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, r2_score, recall_score

from tunebench.families.registry import FAMILIES
from tunebench.report.stats import paired_bootstrap_p, resampled

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 3, 300)
CLASSIFICATION = FAMILIES["classification"].metrics
TABULAR = FAMILIES["tabular"].metrics
GENERATION = FAMILIES["generation"].metrics


def _classifier(accuracy: float, seed: int) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(LABELS)) > accuracy
    prediction = np.where(wrong, (LABELS + rng.integers(1, 3, len(LABELS))) % 3, LABELS)
    return {"prediction": prediction.tolist(), "label": LABELS.tolist()}


def _identity(examples: dict) -> np.ndarray:
    return np.arange(len(next(iter(examples.values()))))[None, :]


def test_resampled_metrics_equal_the_direct_ones_on_the_full_set():
    run = _classifier(0.7, 1)
    y, p = np.array(run["label"]), np.array(run["prediction"])
    whole = _identity(run)
    assert resampled(CLASSIFICATION["accuracy"], [run], whole)[0] == pytest.approx(np.mean(p == y))
    for metric, direct in (("f1_macro", f1_score), ("precision_macro", precision_score)):
        expected = direct(y, p, average="macro", zero_division=0)
        assert resampled(CLASSIFICATION[metric], [run], whole)[0] == pytest.approx(expected)
    assert resampled(CLASSIFICATION["recall_macro"], [run], whole)[0] == pytest.approx(
        recall_score(y, p, average="macro")
    )
    target = RNG.normal(size=100)
    error = RNG.normal(scale=0.5, size=100)
    regression = {"error": error.tolist(), "target": target.tolist()}
    assert resampled(TABULAR["r2"], [regression], _identity(regression))[0] == pytest.approx(
        r2_score(target, target + error)
    )
    generation = {"nll": [2.0, 6.0], "tokens": [1, 3]}
    perplexity = resampled(GENERATION["perplexity"], [generation], _identity(generation))
    assert perplexity[0] == pytest.approx(np.exp(8.0 / 4))


def test_a_real_difference_is_significant_and_none_is_not():
    best = [_classifier(0.9, s) for s in (1, 2)]
    worse = [_classifier(0.6, s) for s in (3, 4)]
    same = [_classifier(0.9, s) for s in (5, 6)]
    accuracy = CLASSIFICATION["accuracy"]
    assert paired_bootstrap_p(accuracy, best, worse) < 0.01
    assert paired_bootstrap_p(accuracy, best, same) > 0.05
    assert paired_bootstrap_p(accuracy, best, best) == 1.0


def test_lower_is_better_metrics_are_oriented():
    good = {"error": (RNG.normal(size=200) * 0.3).tolist(), "target": RNG.normal(size=200).tolist()}
    bad = {"error": (RNG.normal(size=200) * 1.0).tolist(), "target": good["target"]}
    assert paired_bootstrap_p(TABULAR["mse"], [good], [bad]) < 0.01


def test_no_test_without_matching_per_example_values():
    run = _classifier(0.9, 1)
    shorter = {k: v[:-1] for k, v in _classifier(0.5, 2).items()}
    assert paired_bootstrap_p(CLASSIFICATION["accuracy"], [run], [shorter]) is None
    assert paired_bootstrap_p(CLASSIFICATION["auroc"], [run], [run]) is None  # not resamplable
    assert paired_bootstrap_p(GENERATION["rouge1"], [run], [run]) is None  # no rouge1 values
    resamplable = {n for f in FAMILIES.values() for n, m in f.metrics.items() if m.resample}
    assert resamplable >= {"accuracy", "perplexity", "reward_accuracy", "mse", "f1_macro"}


def test_row_ids_travel_with_the_values_but_are_not_resampled():
    run = {**_classifier(0.9, 1), "row": [f"id-{i}" for i in range(len(LABELS))]}
    assert paired_bootstrap_p(CLASSIFICATION["accuracy"], [run], [run]) == 1.0


def test_one_metric_name_means_one_direction_and_display_in_every_family():
    """The defect the registry replaced: directions that disagreed between modules."""
    seen = {}
    for family in FAMILIES.values():
        for name, metric in family.metrics.items():
            assert metric.name == name
            kind = (metric.higher_is_better, metric.percent)
            assert seen.setdefault(name, kind) == kind, (family.name, name)
