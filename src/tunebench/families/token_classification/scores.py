"""Word-level scores of a tagger: entity precision / recall / F1 (seqeval, strict IOB2: an
entity counts only with its exact span and type), the share of words tagged right, and seqeval's
per-type report. Per sentence it also keeps the counts the scores are sums of (entities right,
predicted, in the reference; words right, words), so that the paired bootstrap can resample
sentences and recompute every score exactly.
"""

from __future__ import annotations

from typing import Any

from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, Entities

from tunebench.training.metrics import with_rows


def word_metrics(gold: list[list[str]], predicted: list[list[str]], rows: list[Any]) -> dict:
    strict = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    truth, guess = _entities(gold), _entities(predicted)
    right = [len(t & g) for t, g in zip(truth, guess, strict=True)]
    words_right = [
        sum(a == b for a, b in zip(g, p, strict=True)) for g, p in zip(gold, predicted, strict=True)
    ]
    examples = {
        "entities_right": right,
        "entities_predicted": [len(g) for g in guess],
        "entities_gold": [len(t) for t in truth],
        "words_right": words_right,
        "words": [len(g) for g in gold],
    }
    return {
        "entity_f1": float(f1_score(gold, predicted, **strict)),
        "entity_precision": float(precision_score(gold, predicted, **strict)),
        "entity_recall": float(recall_score(gold, predicted, **strict)),
        "token_accuracy": sum(words_right) / max(sum(examples["words"]), 1),
        "per_type": classification_report(gold, predicted, output_dict=True, **strict),
        "examples": with_rows(examples, rows),
    }


def _entities(sentences: list[list[str]]) -> list[set[tuple]]:
    """Each sentence's entities as (type, start, end), as seqeval's strict mode reads them."""
    found = Entities(sentences, IOB2).entities
    return [{(e.tag, e.start, e.end) for e in sentence} for sentence in found]
