"""Cross-task transfer (`eval_tasks`): a trained model is also tested on further tasks of its
family, recorded under `metrics.transfer`, and the report draws trained-on x tested-on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fake_runs import run
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from tunebench.errors import UserError
from tunebench.families.registry import AnyTaskConfig
from tunebench.report.table import build_table
from tunebench.report.transfer import transfer_markdown, transfer_matrices
from tunebench.store import ResultsStore
from tunebench.study.checks import checked_runs
from tunebench.study.expand import expand
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

TASK = TypeAdapter(AnyTaskConfig)
WORDS = ["cat", "dog", "sun", "tree"]


def _study(root: Path, lm: Path, tasks: list[dict], methods: list) -> Path:
    study = {
        "name": "transfer",
        "backbones": [str(lm)],
        "tasks": tasks,
        "methods": methods,
        "training": {"epochs": 1, "batch_size": 8, "max_length": 32},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "study.yaml").write_text(yaml.safe_dump(study))
    return root / "study.yaml"


def _runs(path: Path) -> list:
    run_study(load_study(path), path.parent / "run", Console(quiet=True))
    with ResultsStore(path.parent / "run" / "results.sqlite") as store:
        return store.runs()


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"name": "sms_spam", "eval_tasks": [{"name": "sms_spam"}]}, "repeats a task name"),
        (
            {
                "name": "sms_spam",
                "eval_tasks": [{"name": "boolq", "eval_tasks": [{"name": "snli"}]}],
            },
            r"eval_tasks.0 \('boolq'\) lists eval_tasks itself",
        ),
        ({"name": "sms_spam", "eval_tasks": [{"name": "xsum"}]}, "eval_tasks.0: .*unknown task"),
        (
            {"name": "conll2003_sample", "eval_tasks": [{"name": "conll2003_sample"}]},
            "token_classification tasks cannot be tested on others",
        ),
    ],
)
def test_eval_tasks_are_other_tasks_of_the_same_family(task, message):
    with pytest.raises(ValidationError, match=message):
        TASK.validate_python(task)


def test_no_eval_tasks_leaves_every_run_id_as_it_was(tiny_assets, tmp_path):
    task = {"name": "mine", "path": str(tiny_assets / "task.csv")}
    plain = expand(load_study(_study(tmp_path / "a", tiny_assets / "lm", [task], ["lora"])))
    listed = {**task, "eval_tasks": []}
    same = expand(load_study(_study(tmp_path / "b", tiny_assets / "lm", [listed], ["lora"])))
    assert [r.run_id for r in plain] == [r.run_id for r in same]


def test_a_classifier_is_tested_on_other_files_with_labels_mapped_by_name(tiny_assets, tmp_path):
    words = {"alpha": "red sky", "beta": "blue sea", "gamma": "green tree"}
    rows = [f"{text} {i},{label}" for label, text in words.items() for i in range(20)]
    trained = tmp_path / "trained.csv"
    trained.write_text("text,label\n" + "\n".join(rows) + "\n")
    again = tmp_path / "again.csv"  # the same rows: its test split is the trained task's
    again.write_text(trained.read_text())
    later = tmp_path / "later.csv"  # labels 0, 1 here are the trained task's 1, 2
    later.write_text("text,label\n" + "\n".join(r for r in rows if "alpha" not in r) + "\n")
    task = {
        "name": "mine",
        "path": str(trained),
        "eval_tasks": [
            {"name": "again", "path": str(again)},
            {"name": "later", "path": str(later)},
        ],
    }
    path = _study(tmp_path, tiny_assets / "lm", [task], ["full"])
    spec = yaml.safe_load(path.read_text())
    spec["training"].update(epochs=6, learning_rate=1e-3)
    path.write_text(yaml.safe_dump(spec))
    (record,) = _runs(path)
    assert record.status == "completed", record.reason
    test, transfer = record.metrics["test"], record.metrics["transfer"]
    assert test["accuracy"] == 1.0  # three phrases: learned
    assert transfer["again"] == test
    assert transfer["later"]["accuracy"] == 1.0  # read by id, not name, every answer were wrong
    assert "examples" not in transfer["again"]  # per-example values: the trained task's only


def test_a_file_with_labels_the_model_never_learned_stops_the_study(tiny_assets, tmp_path):
    other = tmp_path / "other.csv"
    rows = [f"so so {i},meh" for i in range(15)] + [f"good {i},pos" for i in range(15)]
    other.write_text("text,label\n" + "\n".join(rows) + "\n")
    task = {
        "name": "mine",
        "path": str(tiny_assets / "task.csv"),
        "eval_tasks": [{"name": "other", "path": str(other)}],
    }
    path = _study(tmp_path, tiny_assets / "lm", [task], ["lora"])
    with pytest.raises(UserError, match=r"task 'mine', eval_tasks.0 \('other'\): labels 'meh'"):
        checked_runs(load_study(path), tmp_path / "out", path)


def test_a_decoder_is_tested_on_other_multiple_choice_tasks(tiny_assets, tmp_path):
    rows = [
        {"question": f"pick {w}", "options": WORDS, "label": i % 4}
        for i, w in enumerate(WORDS * 12)
    ]
    for name in ("first", "second"):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = {
        "name": "first",
        "family": "multiple_choice",
        "path": str(tmp_path / "first.jsonl"),
        "eval_tasks": [{"name": "second", "path": str(tmp_path / "second.jsonl")}],
    }
    records = _runs(_study(tmp_path, tiny_assets / "lm", [task], ["frozen", "lora"]))
    for record in records:
        assert record.status == "completed", record.reason
        # the same questions under another name: the same scores
        assert record.metrics["transfer"]["second"] == record.metrics["test"]
        assert record.costs["transfer_seconds"] > 0


def test_the_transfer_matrix_has_trained_tasks_as_rows_and_tested_tasks_as_columns():
    records = [
        run("lora", s, {"accuracy": a}, {}, task={"name": t})
        for t, s, a in (("a", 0, 0.8), ("a", 1, 0.9), ("b", 0, 0.7))
    ]
    for record, transfer in zip(records, (0.5, 0.7, 0.6), strict=True):
        other = "b" if record.task == "a" else "a"
        record.metrics["transfer"] = {other: {"accuracy": transfer}, "c": {"accuracy": 0.1}}
    (matrix,) = transfer_matrices(build_table(records))
    assert (matrix.trained, matrix.tested) == (["a", "b"], ["a", "b", "c"])
    assert matrix.values[("a", "a")] == pytest.approx(85.0)  # mean over the two seeds
    assert matrix.values[("a", "b")] == pytest.approx(60.0)
    assert matrix.values[("b", "a")] == pytest.approx(60.0)
    assert ("b", "b") in matrix.values and matrix.values[("b", "c")] == pytest.approx(10.0)
    text = transfer_markdown(build_table(records))
    assert "| a | 85.00 | 60.00 | 10.00 |" in text
