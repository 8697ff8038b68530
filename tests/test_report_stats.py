"""The paired bootstrap: metrics recomputed from per-example values match the direct ones, and
p-values separate a real difference from none."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, r2_score, recall_score

from tunebench.report.stats import RESAMPLABLE, paired_bootstrap_p, resampled

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 3, 300)


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
    assert resampled("accuracy", [run], whole)[0] == pytest.approx(np.mean(p == y))
    for metric, direct in (("f1_macro", f1_score), ("precision_macro", precision_score)):
        expected = direct(y, p, average="macro", zero_division=0)
        assert resampled(metric, [run], whole)[0] == pytest.approx(expected)
    assert resampled("recall_macro", [run], whole)[0] == pytest.approx(
        recall_score(y, p, average="macro")
    )
    target = RNG.normal(size=100)
    error = RNG.normal(scale=0.5, size=100)
    regression = {"error": error.tolist(), "target": target.tolist()}
    assert resampled("r2", [regression], _identity(regression))[0] == pytest.approx(
        r2_score(target, target + error)
    )
    generation = {"nll": [2.0, 6.0], "tokens": [1, 3]}
    assert resampled("perplexity", [generation], _identity(generation))[0] == pytest.approx(
        np.exp(8.0 / 4)
    )


def test_a_real_difference_is_significant_and_none_is_not():
    best = [_classifier(0.9, s) for s in (1, 2)]
    worse = [_classifier(0.6, s) for s in (3, 4)]
    same = [_classifier(0.9, s) for s in (5, 6)]
    assert paired_bootstrap_p("accuracy", best, worse, lower_is_better=False) < 0.01
    assert paired_bootstrap_p("accuracy", best, same, lower_is_better=False) > 0.05
    assert paired_bootstrap_p("accuracy", best, best, lower_is_better=False) == 1.0


def test_lower_is_better_metrics_are_oriented():
    good = {"error": (RNG.normal(size=200) * 0.3).tolist(), "target": RNG.normal(size=200).tolist()}
    bad = {"error": (RNG.normal(size=200) * 1.0).tolist(), "target": good["target"]}
    assert paired_bootstrap_p("mse", [good], [bad], lower_is_better=True) < 0.01


def test_no_test_without_matching_per_example_values():
    run = _classifier(0.9, 1)
    shorter = {k: v[:-1] for k, v in _classifier(0.5, 2).items()}
    assert paired_bootstrap_p("accuracy", [run], [shorter], lower_is_better=False) is None
    assert paired_bootstrap_p("auroc", [run], [run], lower_is_better=False) is None
    assert paired_bootstrap_p("rouge1", [run], [run], lower_is_better=False) is None
    assert set(RESAMPLABLE) >= {"accuracy", "perplexity", "reward_accuracy", "mse", "f1_macro"}
