"""The DPO reference cache returns what scoring would, and scores only what it has not seen."""

import numpy as np

from tunebench.families.causal_lm.sequences import Sequences
from tunebench.families.preference.reference import cached_scores

CHOSEN = Sequences([[1, 2, 3], [1, 4]], [1, 1])
REJECTED = Sequences([[1, 5], [1, 6, 7]], [1, 1])


class CountingScorer:
    def __init__(self, offset: float = 0.0):
        self.calls, self.offset = 0, offset

    def __call__(self, chosen: Sequences, rejected: Sequences):
        self.calls += 1
        interleaved = np.array([-1.25, -2.0, -3.5, -0.75])  # views, as score_pairs returns
        return interleaved[0::2] + self.offset, interleaved[1::2], np.array([2, 1])


def test_a_second_run_reads_the_stored_scores_bit_for_bit(tmp_path):
    first, second = CountingScorer(), CountingScorer(offset=100.0)
    stored = cached_scores(tmp_path, "model a", CHOSEN, REJECTED, first)
    read = cached_scores(tmp_path, "model a", CHOSEN, REJECTED, second)
    assert (first.calls, second.calls) == (1, 0)
    for a, b in zip(stored, read, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert np.array_equal(read[1], [-2.0, -0.75])
    assert len(list(tmp_path.glob("*.safetensors"))) == 1 and not list(tmp_path.glob("*.tmp"))


def test_other_weights_or_other_tokens_are_scored_again(tmp_path):
    scorer = CountingScorer()
    cached_scores(tmp_path, "model a", CHOSEN, REJECTED, scorer)
    cached_scores(tmp_path, "model b", CHOSEN, REJECTED, scorer)
    cached_scores(tmp_path, "model a", CHOSEN, Sequences([[1, 5], [1, 6, 8]], [1, 1]), scorer)
    cached_scores(tmp_path, "model a", CHOSEN, Sequences([[1, 5], [1, 6, 7]], [1, 2]), scorer)
    assert scorer.calls == 4


def test_an_empty_split_is_scored_without_storing_anything(tmp_path):
    scorer = CountingScorer()
    cached_scores(tmp_path / "dpo", "model a", Sequences([], []), Sequences([], []), scorer)
    assert scorer.calls == 1 and not (tmp_path / "dpo").exists()
