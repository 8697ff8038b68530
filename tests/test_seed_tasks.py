"""The built-in `snli` and `tweet_sentiment` tasks (families/classification/seed_tasks.py): the
garbled-row repair on made-up bytes, then the real data (fetched into the user cache)."""

from collections import Counter

import pytest

from tunebench.families.classification import ClassificationTask as TaskConfig
from tunebench.families.classification.seed_tasks import read_tweets, repaired_lines
from tunebench.families.registry import load_task


def test_garbled_runs_in_invalid_utf8_lines_become_one_space():
    data = (
        b"sentiment,confidence,text\r\n"
        b"negative,0.75,my life in google's hands #cars_\xd1_.no thank you\r\n"
        b"neutral,0.5,I look at Google\xd5\xa2_\x8a\xce_\x86\xa2s cars\r\n"
        + "positive,1,caf\u00e9 \U0001f600 is fine\r\n".encode()
    )
    lines = repaired_lines(data).splitlines()
    assert lines[1] == "negative,0.75,my life in google's hands #cars .no thank you"
    assert lines[2] == "neutral,0.5,I look at Google s cars"
    assert lines[3] == "positive,1,caf\u00e9 \U0001f600 is fine"  # valid UTF-8: untouched


def test_tweet_repeats_keep_their_first_row_and_conflicting_texts_go(tmp_path):
    path = tmp_path / "tweets.csv"
    rows = ["a,1,same", "a,1,same", "b,1,torn", "c,1,torn", "c,1,other"]
    path.write_text("sentiment,confidence,text\n" + "\n".join(rows) + "\n")
    raw = read_tweets(path)
    assert raw.texts == ("same", "other") and raw.rows == (0, 4)
    assert [raw.names[i] for i in raw.labels] == ["a", "c"]


@pytest.mark.real
def test_real_snli():
    data = load_task(TaskConfig(name="snli"))
    assert data.label_names == ["entailment", "neutral", "contradiction"]
    assert len(data.train) + len(data.validation) == 100_000 - 110  # less the "-" labels
    assert Counter(data.test.labels) == {0: 3368, 1: 3219, 2: 3237}  # the official test split
    assert data.train.text_pairs is not None and len(data.train.text_pairs) == len(data.train)
    assert not set(data.test.ids) & set(data.train.ids)


@pytest.mark.real
def test_real_tweet_sentiment():
    data = load_task(TaskConfig(name="tweet_sentiment"))
    splits = [data.train, data.validation, data.test]
    assert data.label_names == ["negative", "neutral", "positive"]
    assert sum(len(s) for s in splits) == 37_181
    assert not set(data.test.texts) & set(data.train.texts)
    assert not any("\ufffd" in text for s in splits for text in s.texts)
