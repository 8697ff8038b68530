"""Task loading: user files (every format and every mistake), splitting rules, built-in data."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from tunebench.assets import asset_dir
from tunebench.errors import UserError
from tunebench.families.classification import ClassificationTask as TaskConfig
from tunebench.families.classification.data import SMS_SPAM, SMS_SPAM_TSV, TaskData, _read_sms_spam
from tunebench.families.registry import builtin_tasks, load_task
from tunebench.families.splits import apportion, stratified_split, stratified_subset


def _rows(n_a: int = 70, n_b: int = 30) -> list[dict]:
    return [{"text": f"a text {i}", "label": "a"} for i in range(n_a)] + [
        {"text": f"b text {i}", "label": "b"} for i in range(n_b)
    ]


def _write(path: Path, rows: list[dict]) -> Path:
    frame = pd.DataFrame(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _load(path: Path, **kw) -> TaskData:
    return load_task(TaskConfig(name="mine", path=path, **kw))


def _error(path: Path, **kw) -> str:
    with pytest.raises(UserError) as err:
        _load(path, **kw)
    return str(err.value)


def _all_texts(data: TaskData) -> list[list[str]]:
    return [data.train.texts, data.validation.texts, data.test.texts]


# --- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_each_format_loads_with_a_stratified_70_10_20_split(tmp_path, suffix):
    path = _write(tmp_path / f"data{suffix}", _rows())
    data = _load(path)
    assert data.label_names == ["a", "b"]
    assert (len(data.train), len(data.validation), len(data.test)) == (70, 10, 20)
    assert Counter(data.test.labels) == {0: 14, 1: 6}
    assert Counter(data.validation.labels) == {0: 7, 1: 3}
    texts = _all_texts(data)
    assert sorted(sum(texts, [])) == sorted(r["text"] for r in _rows())
    assert data.data_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.train.text_pairs is None
    assert _load(path) == data  # same config, identical splits


def test_json_array_and_integer_labels_in_numeric_order(tmp_path):
    rows = [{"text": f"t{i}", "label": [2, 10, 1][i % 3]} for i in range(30)]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(rows))
    data = _load(path)
    assert data.label_names == ["1", "2", "10"]
    for split in (data.train, data.validation, data.test):  # ids index label_names
        for text, label in zip(split.texts, split.labels, strict=True):
            assert data.label_names[label] == str([2, 10, 1][int(text[1:]) % 3])


def test_text_pairs_and_custom_columns(tmp_path):
    rows = [{"q": f"q{i}", "p": f"p{i}", "y": i % 2 == 0} for i in range(40)]
    data = _load(
        _write(tmp_path / "pairs.parquet", rows),
        text_column="q",
        text_pair_column="p",
        label_column="y",
    )
    assert data.label_names == ["False", "True"]
    for split in (data.train, data.validation, data.test):
        assert [t[1:] for t in split.texts] == [p[1:] for p in split.text_pairs]
        assert all(
            int(t[1:]) % 2 == 1 - label for t, label in zip(split.texts, split.labels, strict=True)
        )


def test_split_column_is_honoured(tmp_path):
    rows = _rows(10, 10)
    for i, row in enumerate(rows):
        row["split"] = ["train", "train", "validation", "test"][i % 4]
    data = _load(_write(tmp_path / "s.csv", rows))
    assert data.test.texts == [r["text"] for r in rows if r["split"] == "test"]
    assert data.validation.texts == [r["text"] for r in rows if r["split"] == "validation"]
    assert len(data.train) == 10


def test_split_column_without_validation_takes_10_percent_of_train(tmp_path):
    rows = _rows(50, 50)
    for i, row in enumerate(rows):
        row["split"] = "Test " if i % 5 == 0 else "train"
    data = _load(_write(tmp_path / "s.jsonl", rows))
    assert len(data.test) == 20
    assert (len(data.train), len(data.validation)) == (72, 8)
    assert Counter(data.validation.labels) == {0: 4, 1: 4}
    assert not set(data.validation.texts) & set(data.train.texts)


# --- caps -------------------------------------------------------------------------------------


def test_max_train_samples_is_stratified_deterministic_and_seeded(tmp_path):
    path = _write(tmp_path / "d.csv", _rows(400, 100))
    full = _load(path)
    small = _load(path, max_train_samples=50)
    assert len(small.train) == 50
    assert Counter(small.train.labels) == {0: 40, 1: 10}  # 4:1 like the data
    assert set(small.train.texts) <= set(full.train.texts)
    assert _load(path, max_train_samples=50) == small
    assert _load(path, max_train_samples=50, data_seed=1).train != small.train
    assert (small.validation, small.test) == (full.validation, full.test)
    assert _load(path, max_train_samples=10_000).train == full.train


def test_max_eval_samples_caps_validation_and_test_the_same_for_every_seed(tmp_path):
    path = _write(tmp_path / "d.csv", _rows(400, 100))
    a = _load(path, max_eval_samples=20)
    b = _load(path, max_eval_samples=20, data_seed=7)
    assert (len(a.validation), len(a.test)) == (20, 20)
    assert Counter(a.test.labels) == {0: 16, 1: 4}
    assert (a.validation, a.test) == (b.validation, b.test)
    assert len(a.train) == 350


# --- mistakes in user files -------------------------------------------------------------------


def test_missing_file(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope.csv")


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    message = _error(path)
    assert "'.xlsx'" in message and ".parquet" in message


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert _error(empty) == f"task file {empty} is empty"
    header = tmp_path / "header.csv"
    header.write_text("text,label\n")
    assert "no data rows" in _error(header)


def test_missing_columns_list_what_exists(tmp_path):
    path = _write(tmp_path / "d.csv", [{"sentence": "x", "label": "a"}])
    message = _error(path)
    assert "'text' (text_column)" in message and "sentence, label" in message
    message = _error(path, text_column="sentence", label_column="class")
    assert "'class' (label_column)" in message and str(path) in message


def test_empty_label_names_the_row(tmp_path):
    rows = _rows()
    rows[4]["label"] = ""
    rows[9]["label"] = None
    message = _error(_write(tmp_path / "d.csv", rows))
    assert "label column 'label'" in message and "data row 5 (and 1 more)" in message


def test_null_text_names_the_row(tmp_path):
    rows = _rows()
    rows[2]["text"] = None
    message = _error(_write(tmp_path / "d.jsonl", rows))
    assert "column 'text' is empty in data row 3" in message and "d.jsonl" in message


def test_csv_with_byte_order_mark_and_non_utf8(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(
        b"\xef\xbb\xbftext,label\n" + b"".join(b"t%d,%d\n" % (i, i % 2) for i in range(30))
    )
    assert _load(path).label_names == ["0", "1"]
    path.write_bytes(b"text,label\n\xe9t\xe9,a\n")
    assert f"could not read task file {path}" in _error(path)


def test_numeric_texts_are_written_out(tmp_path):
    rows = [{"text": i, "label": i % 2} for i in range(30)]
    data = _load(_write(tmp_path / "d.parquet", rows))
    assert all(t.isdigit() for t in data.train.texts)


def test_one_class(tmp_path):
    message = _error(_write(tmp_path / "d.csv", _rows(20, 0)))
    assert "only one class ('a')" in message


def test_too_few_rows_for_a_label(tmp_path):
    message = _error(_write(tmp_path / "d.csv", _rows(20, 2)))
    assert "label 'b' has only 2 row(s)" in message and "at least 3" in message


def test_bad_split_values(tmp_path):
    rows = _rows(10, 10)
    for row in rows:
        row["split"] = "train"
    rows[6]["split"] = "dev"
    message = _error(_write(tmp_path / "d.csv", rows))
    assert "'dev' in data row 7" in message and "train, validation, test" in message
    rows[6]["split"] = "train"
    assert "no 'test' rows" in _error(_write(tmp_path / "d.csv", rows))


def test_label_missing_from_train_split(tmp_path):
    rows = _rows(10, 10)
    for row in rows:
        row["split"] = "train" if row["label"] == "a" else "test"
    assert "label 'b' has no rows in the 'train' split" in _error(_write(tmp_path / "d.csv", rows))


def test_invalid_json_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "x", "label": "a"}\n{"text": oops}\n')
    assert "line 2 is not valid JSON" in _error(path)


# --- config -----------------------------------------------------------------------------------


def test_config_rules():
    with pytest.raises(ValidationError, match="unknown task 'imdb'.*sms_spam, 20newsgroups, boolq"):
        TaskConfig(name="imdb")
    with pytest.raises(ValidationError, match="'boolq' is built in and takes no path"):
        TaskConfig(name="boolq", path="x.csv")
    with pytest.raises(ValidationError, match="strip only applies to 20newsgroups"):
        TaskConfig(name="sms_spam", strip=["headers"])
    with pytest.raises(ValidationError, match="text_column only apply to a task read from a file"):
        TaskConfig(name="sms_spam", text_column="body")
    with pytest.raises(ValidationError, match="extra"):
        TaskConfig(name="sms_spam", max_samples=5)
    with pytest.raises(ValidationError, match="greater than 0"):
        TaskConfig(name="sms_spam", max_train_samples=0)
    assert TaskConfig(name="20newsgroups", strip=["quotes", "headers", "quotes"]).strip == [
        "headers",
        "quotes",
    ]


def test_splitting_helpers():
    assert apportion(10, [0.7, 0.1, 0.2]) == [7, 1, 2]
    assert sum(apportion(747, [0.7, 0.1, 0.2])) == 747
    labels = [0] * 6 + [1] * 3
    parts = stratified_split(labels, (0.7, 0.1, 0.2))
    assert sorted(sum(parts, [])) == list(range(9))
    assert all({labels[i] for i in part} == {0, 1} for part in parts)  # each class everywhere
    assert stratified_subset(labels, 3, seed=3) == stratified_subset(labels, 3, seed=3)
    assert Counter(labels[i] for i in stratified_subset(labels, 3, seed=3)) == {0: 2, 1: 1}


def test_registry_describes_each_task():
    families = {n: f.name for n, (f, _) in builtin_tasks().items()}
    assert families == {
        "sms_spam": "classification",
        "20newsgroups": "classification",
        "boolq": "classification",
        "snli": "classification",
        "tweet_sentiment": "classification",
        "xsum": "generation",
        "boolq_gen": "generation",
        "commonsense_qa": "multiple_choice",
        "piqa": "multiple_choice",
        "openbookqa": "multiple_choice",
        "siqa": "multiple_choice",
        "hellaswag": "multiple_choice",
        "summary_pairs": "preference",
        "conll2003_sample": "token_classification",
        "clothing_reviews_rating": "tabular",
        "clothing_reviews_recommend": "tabular",
        "adult": "tabular",
        "california_housing": "tabular",
    }
    assert all(t.description and t.target and t.asset for _, t in builtin_tasks().values())


# --- real data (fetched into the user cache on first use) ------------------------------------


def _ratio(labels: list[int]) -> float:
    return sum(labels) / len(labels)


@pytest.mark.real
def test_real_sms_spam():
    data = load_task(TaskConfig(name="sms_spam"))
    splits = [data.train, data.validation, data.test]
    assert data.label_names == ["ham", "spam"]
    assert [len(s) for s in splits] == [3619, 517, 1035]  # 5,574 rows less 403 exact repeats
    assert sum(sum(s.labels) for s in splits) == 653
    overall = 653 / 5171
    assert all(abs(_ratio(s.labels) - overall) < 0.01 for s in splits)
    assert not set(data.test.texts) & set(data.train.texts)  # no test message seen in training
    source = _read_sms_spam(asset_dir(SMS_SPAM) / SMS_SPAM_TSV).texts
    assert Counter(sum((s.texts for s in splits), [])) == Counter(source)  # a partition of the rows
    hits = _read_sms_spam.cache_info().hits
    assert load_task(TaskConfig(name="sms_spam", data_seed=5)) == data  # split seed is fixed
    assert _read_sms_spam.cache_info().hits == hits + 1  # parsed once per process


@pytest.mark.real
def test_real_boolq():
    data = load_task(TaskConfig(name="boolq"))
    assert data.label_names == ["False", "True"]
    assert len(data.test) == 3270 and Counter(data.test.labels) == {1: 2033, 0: 1237}
    assert len(data.train) + len(data.validation) == 12_697 - 3270
    train = set(zip(data.train.texts, data.train.text_pairs, strict=True))
    test = set(zip(data.test.texts, data.test.text_pairs, strict=True))
    assert not train & test
    assert not set(data.train.texts) & set(data.test.texts)  # not even a shared question
    assert all(" -- " in p for p in data.test.text_pairs[:50])  # same passage format as train


@pytest.mark.real
def test_real_20newsgroups_and_strip():
    data = load_task(TaskConfig(name="20newsgroups"))
    assert data.num_labels == 20 and data.label_names[0] == "alt.atheism"
    assert len(data.test) == 7532 and len(data.train) + len(data.validation) == 11_314
    assert set(data.validation.labels) == set(range(20))
    stripped = load_task(TaskConfig(name="20newsgroups", strip=["headers"]))
    assert data.train.texts[0].startswith("From:")
    assert not stripped.train.texts[0].startswith("From:")
    assert stripped.train.labels == data.train.labels
