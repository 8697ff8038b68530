"""A tabular study on the user's own CSV, with no language model: roles from YAML, results in
the Table 2 layout, and bad roles stopped before anything trains, naming the column."""

import io
import math

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from test_cli import cli

from tunebench.errors import UserError
from tunebench.report.markdown import render_markdown
from tunebench.report.table import build_table
from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study


def write_tickets(path, n: int = 120) -> None:
    """Resolution days = 2 * amount + 3 if the subject says 'urgent' (+ noise); some cells empty."""
    rng = np.random.default_rng(0)
    amount = rng.normal(size=n)
    urgent = rng.random(n) < 0.5
    subjects = [
        ("urgent " if u else "") + str(rng.choice(["printer", "login", "mail"])) for u in urgent
    ]
    frame = pd.DataFrame(
        {
            "amount": amount,
            "country": rng.choice(["fr", "de", "it", None], size=n),
            "subject": subjects,
            "days": 2 * amount + 3 * urgent + rng.normal(scale=0.1, size=n),
        }
    )
    frame.loc[::9, "amount"] = None
    frame.to_csv(path, index=False)


def study_yaml(csv, text: str = "subject") -> str:
    return f"""
name: tickets
tasks:
  - name: tickets
    path: {csv}
    numeric: [amount]
    categorical: [country]
    text: [{text}]
    target: days
    problem: regression
downstream:
  - {{name: mlp, d_block: 32, n_blocks: 1}}
  - {{name: gbdt, n_estimators: 50}}
pipelines: [tabular_only, tfidf]
downstream_training: {{max_epochs: 5}}
"""


def test_file_task_study_runs_and_tfidf_sees_the_text(tmp_path):
    write_tickets(tmp_path / "tickets.csv")
    (tmp_path / "study.yaml").write_text(study_yaml(tmp_path / "tickets.csv"))
    study = load_study(tmp_path / "study.yaml")
    summary = run_study(study, tmp_path / "out", Console(file=io.StringIO()))
    assert (summary.total, summary.completed, summary.failed) == (3, 3, 0)
    with ResultsStore(tmp_path / "out" / "results.sqlite") as store:
        runs = {(r.config["pipeline"], r.config["downstream"]["name"]): r for r in store.runs()}
    assert set(runs) == {("tabular_only", "mlp"), ("tabular_only", "gbdt"), ("tfidf", "gbdt")}
    for run in runs.values():
        assert math.isfinite(run.metrics["test"]["rmse"]) and run.backbone == "none"
    # The 'urgent' word carries 3 days of the target: trees that read the text do far better.
    without_text = runs[("tabular_only", "gbdt")].metrics["test"]["rmse"]
    assert runs[("tfidf", "gbdt")].metrics["test"]["rmse"] < 0.6 * without_text
    markdown = io.StringIO()
    markdown.write(render_markdown(build_table(list(runs.values()))))
    assert "| — | gbdt | tfidf |" in markdown.getvalue()
    assert "tickets mse ↓" in markdown.getvalue()


def test_a_column_in_two_roles_is_an_error_naming_it(tmp_path):
    write_tickets(tmp_path / "tickets.csv")
    (tmp_path / "study.yaml").write_text(study_yaml(tmp_path / "tickets.csv", text="amount"))
    with pytest.raises(UserError, match="amount"):
        load_study(tmp_path / "study.yaml")  # amount is numeric and text at once


def test_bad_column_role_through_the_cli_is_one_message_and_exit_2(tmp_path):
    write_tickets(tmp_path / "tickets.csv")
    frame = pd.read_csv(tmp_path / "tickets.csv")
    frame["subject"] = np.arange(len(frame))  # a "text" column that holds numbers
    frame.to_csv(tmp_path / "tickets.csv", index=False)
    (tmp_path / "study.yaml").write_text(study_yaml(tmp_path / "tickets.csv"))
    done = cli("run", str(tmp_path / "study.yaml"), "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "'subject'" in done.stderr and "holds numbers" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "out" / "results.sqlite").exists()  # stopped before any run
