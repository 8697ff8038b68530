"""Visual question answering data and scoring: a user's file of images is read, checked image
by image before anything trains, split; answers are normalised and scored as the VQA
evaluation and POPE do, checked against values worked out by hand."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from shapes_vqa import draw, write_shapes_task

from tunebench.errors import UserError
from tunebench.families.visual_qa.answers import answer_scores, normalise, summary, token_f1
from tunebench.families.visual_qa.data import load_visual_qa


def _task(path, **settings):
    fields = {
        "name": "shapes",
        "path": str(path),
        "image_column": "image",
        "question_column": "question",
        "answer_column": "answer",
        "choices_column": None,
        "max_train_samples": None,
        "max_eval_samples": None,
        "data_seed": 0,
    }
    return SimpleNamespace(**{**fields, **settings})


def test_a_file_of_images_loads_split_with_paths_relative_to_it(tmp_path):
    path = write_shapes_task(tmp_path, images=20)
    data = load_visual_qa(_task(path))
    splits = (data.train, data.validation, data.test)
    assert [len(s) for s in splits] == [28, 4, 8]  # 40 questions, 70/10/20
    assert sorted(i for s in splits for i in s.ids) == list(range(40))
    first = data.train.ids[0]
    row = json.loads(path.read_text().splitlines()[first])
    assert data.train.images[0] == tmp_path / row["image"]
    assert data.train.questions[0] == row["question"] and data.train.answers[0] == row["answer"]
    assert data.train.choices[0] is None
    # the hash covers the images: redrawing one changes it
    draw("square", "blue", size=33).save(tmp_path / row["image"])
    assert load_visual_qa(_task(path)).data_sha256 != data.data_sha256


def test_a_missing_image_is_named_with_its_row_before_anything_runs(tmp_path):
    path = write_shapes_task(tmp_path, images=6)
    (tmp_path / "images" / "003_green_circle.png").unlink()
    with pytest.raises(UserError) as error:
        load_visual_qa(_task(path))
    message = str(error.value)
    # image 3 holds data rows 7 and 8
    assert "data row 7" in message and "(and 1 more rows)" in message
    assert "003_green_circle.png does not exist" in message and "'image'" in message


def test_an_unreadable_image_is_named_with_its_row(tmp_path):
    path = write_shapes_task(tmp_path, images=4)
    (tmp_path / "images" / "000_red_square.png").write_text("not a picture")
    with pytest.raises(UserError, match=r"data row 1: image .*000_red_square.png cannot be read"):
        load_visual_qa(_task(path))


def test_choices_must_hold_the_answer(tmp_path):
    write_shapes_task(tmp_path, images=4)
    rows = [json.loads(line) for line in (tmp_path / "shapes.jsonl").read_text().splitlines()]
    for row in rows:
        row["choices"] = ["red", "green", "blue"] if "colour" in row["question"] else ["yes", "no"]
    good = tmp_path / "choices.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_visual_qa(_task(good, choices_column="choices"))
    assert all(a in c for a, c in zip(data.train.answers, data.train.choices, strict=True))
    rows[2]["choices"] = ["green", "blue"]  # row 3 is red
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match="data row 3: the answer 'red' is not one of the choices"):
        load_visual_qa(_task(bad, choices_column="choices"))


def test_answers_are_normalised_as_the_vqa_evaluation_does():
    assert normalise("The Red.") == "red"
    assert normalise("Two dogs!") == "2 dogs"
    assert normalise("2.5 meters, a bit") == "2.5 meters bit"
    assert normalise("1,000") == "1,000"
    assert normalise("yes, it is") == "yes it is"
    assert token_f1("a red square", "red") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("blue", "red") == 0.0


def test_scores_on_a_fixed_batch_match_the_hand_count():
    answers = ["red", "no", "yes", "no", "two"]
    predictions = ["Red.", "yes", "yes", "no, it is not", "2"]
    scores = answer_scores(predictions, answers)
    assert scores["exact_match"] == [1.0, 0.0, 1.0, 0.0, 1.0]
    metrics = summary(scores)
    assert metrics["exact_match"] == pytest.approx(3 / 5)
    # yes/no questions: rows 2, 3, 4; right: row 3 only ("no, it is not" is not "no")
    assert metrics["yes_no_accuracy"] == pytest.approx(1 / 3)
    # answered "no": rows 2 and 4; said yes: row 2
    assert metrics["hallucination_rate"] == pytest.approx(1 / 2)
    f1_row4 = 2 * (1 / 4) * 1 / (1 / 4 + 1)  # "no it is not" against "no"
    assert metrics["token_f1"] == pytest.approx((1 + 0 + 1 + f1_row4 + 1) / 5)
    # no yes/no question at all: those rates are not zero, they are undefined
    assert summary(answer_scores(["red"], ["red"]))["hallucination_rate"] is None
