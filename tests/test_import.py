"""`tunebench import`: runs exported on one machine seed a study's store on another, so the
study resumes there without running them again (machines may be fresh between sessions)."""

from __future__ import annotations

import yaml
from rich.console import Console
from test_cli import cli

from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study


def _study(tiny_assets, folder):
    study = {
        "name": "moved",
        "backbones": [str(tiny_assets / "lm")],
        "tasks": [{"name": "mine", "path": str(tiny_assets / "task.csv")}],
        "methods": ["frozen", {"name": "lora", "r": 2}],
        "training": {"epochs": 1, "batch_size": 8, "max_length": 32},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    return load_study(folder / "study.yaml")


def test_exported_runs_resume_a_study_elsewhere_without_running_again(tiny_assets, tmp_path):
    study = _study(tiny_assets, tmp_path)
    run_study(study, tmp_path / "here", Console(quiet=True))
    exported = cli("results", str(tmp_path / "here"), "--format", "json")
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "runs.json").write_text(exported.stdout)
    added = cli("import", str(tmp_path / "runs.json"), str(tmp_path / "there"))
    assert added.returncode == 0, added.stderr
    assert "2 runs added" in added.stdout
    again = cli("import", str(tmp_path / "runs.json"), str(tmp_path / "there"))
    assert "0 runs added" in again.stdout and "2 already there" in again.stdout
    with ResultsStore(tmp_path / "here" / "results.sqlite") as store:
        original = store.runs()
    with ResultsStore(tmp_path / "there" / "results.sqlite") as store:
        moved = store.runs()
    assert moved == original  # every field, timestamps included
    summary = run_study(study, tmp_path / "there", Console(quiet=True))
    assert (summary.completed, summary.skipped) == (0, 2)


def test_a_file_that_is_not_exported_runs_is_one_clear_error(tmp_path):
    bad = tmp_path / "runs.json"
    bad.write_text('[{"run_id": "x"}]')
    result = cli("import", str(bad), str(tmp_path / "there"))
    assert result.returncode == 2
    assert f"{bad}: not a JSON list of exported runs" in result.stderr
    assert not (tmp_path / "there").exists()
