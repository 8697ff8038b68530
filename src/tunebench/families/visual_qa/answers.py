"""Scoring a visual question answering run: VQA answer normalisation, exact match, token F1,
accuracy on yes/no questions and a POPE-style hallucination rate.

Normalisation follows the VQA evaluation's spirit (Antol et al. 2015; the official script's
`processPunctuation` and `processDigitArticle`): lower case, punctuation removed (a period or
comma inside a number kept: "2.5", "1,000"), number words zero to ten written as digits, the
articles a / an / the dropped, spaces collapsed. The hallucination rate (Li et al. 2023, POPE)
is, over the questions whose answer is "no", the share of predictions that say "yes" (their
first word): a model that sees objects that are not there.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from tunebench.metrics import Arrays, Metric, mean_of

NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    )
}
ARTICLES = frozenset({"a", "an", "the"})
_PUNCTUATION = re.compile(r"(?!(?<=\d)[.,](?=\d))[^\w\s]")
"""Any punctuation mark but a period or comma between two digits."""


def normalise(answer: str) -> str:
    """`answer` as the VQA evaluation compares it."""
    words = _PUNCTUATION.sub(" ", answer.lower()).replace("_", " ").split()
    return " ".join(NUMBER_WORDS.get(w, w) for w in words if w not in ARTICLES)


def token_f1(prediction: str, answer: str) -> float:
    """F1 of the normalised words in common (SQuAD's token F1); 1 when both are empty."""
    predicted, expected = normalise(prediction).split(), normalise(answer).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def answer_scores(predictions: list[str], answers: list[str]) -> dict[str, list[float]]:
    """Per example: `exact_match`, `token_f1`, `yes_no` (1 where the answer is yes or no),
    `answer_no` (1 where it is no) and `says_yes` (1 where the prediction's first word is
    yes) — what the metrics below average and the bootstrap resamples."""
    scores: dict[str, list[float]] = {
        k: [] for k in ("exact_match", "token_f1", "yes_no", "answer_no", "says_yes")
    }
    for predicted, answer in zip(predictions, answers, strict=True):
        expected, said = normalise(answer), normalise(predicted)
        scores["exact_match"].append(float(said == expected))
        scores["token_f1"].append(token_f1(predicted, answer))
        scores["yes_no"].append(float(expected in ("yes", "no")))
        scores["answer_no"].append(float(expected == "no"))
        scores["says_yes"].append(float(said.split()[:1] == ["yes"]))
    return scores


def summary(scores: dict[str, list[float]]) -> dict[str, float | None]:
    """The run's metrics from `answer_scores`; a rate over no questions is None."""
    arrays = {k: np.asarray([v], dtype=float) for k, v in scores.items()}
    return {m.name: _value(m, arrays) for m in METRICS}


def _value(metric: Metric, arrays: Arrays) -> float | None:
    value = float(metric.resample(arrays)[0])
    return None if np.isnan(value) else value


def _among(mask: str, value: str):
    """The mean of `value` over the examples where `mask` is 1 (NaN where there are none)."""

    def resample(e: Arrays) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (e[value] * e[mask]).sum(axis=1) / e[mask].sum(axis=1)

    return resample


METRICS = (
    Metric("exact_match", True, resample=mean_of("exact_match")),
    Metric("token_f1", True, resample=mean_of("token_f1")),
    Metric("yes_no_accuracy", True, resample=_among("yes_no", "exact_match")),
    Metric("hallucination_rate", False, resample=_among("answer_no", "says_yes")),
)
"""Shown as fractions, as the generation family shows its exact match and ROUGE."""
