"""Sweeps: grid, random and Optuna TPE over method and training settings, resumable."""

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from rich.console import Console

import tunebench.study.run_path as study_module
from tunebench.errors import UserError
from tunebench.report.sweep_plots import varied_settings
from tunebench.report.write import write_report
from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.run_path import RunOutcome
from tunebench.study.runner import run_study
from tunebench.study.sweeps import Range, SweepConfig, fixed_points


def _study(tiny_assets: Path, folder: Path, sweep: dict, methods=None, seeds=(0,)) -> Path:
    study = {
        "name": "sweep",
        "backbones": [str(tiny_assets / "lm")],
        "tasks": [{"name": "mine", "path": str(tiny_assets / "task.csv")}],
        "methods": methods or ["lora"],
        "seeds": list(seeds),
        "training": {"epochs": 1, "batch_size": 8, "max_length": 32},
        "sweep": sweep,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    return folder / "study.yaml"


def test_a_grid_crosses_lists_and_stepped_ranges():
    sweep = SweepConfig(
        space={
            "method.r": [4, 8],
            "method.target_modules": [["q"], ["q", "v"]],
            "training.learning_rate": {"low": 1e-4, "high": 3e-4, "step": 1e-4},
        }
    )
    points = fixed_points(sweep)
    assert len(points) == 2 * 2 * 3
    assert {p["training.learning_rate"] for p in points} == {1e-4, 2e-4, 3e-4}
    assert {tuple(p["method.target_modules"]) for p in points} == {("q",), ("q", "v")}


def test_random_points_are_seeded_and_inside_the_space():
    space = {
        "method.r": {"low": 1, "high": 64, "log": True},
        "training.learning_rate": {"low": 1e-5, "high": 1e-2, "log": True},
        "training.scheduler": ["linear", "cosine"],
    }
    first = fixed_points(SweepConfig(strategy="random", trials=20, space=space))
    again = fixed_points(SweepConfig(strategy="random", trials=20, space=space))
    other = fixed_points(SweepConfig(strategy="random", trials=20, space=space, seed=1))
    assert first == again and first != other and len(first) == 20
    assert all(isinstance(p["method.r"], int) and 1 <= p["method.r"] <= 64 for p in first)
    assert all(1e-5 <= p["training.learning_rate"] <= 1e-2 for p in first)
    assert {p["training.scheduler"] for p in first} == {"linear", "cosine"}


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"space": {"r": [1]}}, "name a `method.<setting>`, `training.<setting>` or `task"),
        ({"space": {"method.r": {"low": 1, "high": 8}}}, "a grid needs a list of values or a step"),
        ({"strategy": "tpe", "space": {"method.r": [1, 2]}}, "a tpe sweep needs a trial budget"),
        ({"space": {"method.r": {"low": 8, "high": 1, "step": 1}}}, "must be below high"),
        ({"space": {"method.rank": [1, 2]}}, "sweep.space.method.rank: methods.0 (lora) has no"),
        ({"space": {"method.r": [0, 2]}}, "r: Input should be greater than 0"),
        ({"space": {"training.epochs": ["many"]}}, "epochs: Input should be a valid integer"),
    ],
)
def test_bad_sweeps_are_one_clear_error(tiny_assets, tmp_path, sweep, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_study(_study(tiny_assets, tmp_path, sweep))


def test_a_random_sweep_runs_for_real_and_resumes(tiny_assets, tmp_path):
    sweep = {
        "strategy": "random",
        "trials": 2,
        "space": {"training.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}},
    }
    study = load_study(_study(tiny_assets, tmp_path, sweep))
    summary = run_study(study, tmp_path / "run", Console(quiet=True))
    assert (summary.completed, summary.failed) == (2, 0)
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        rates = sorted(r.config["training"]["learning_rate"] for r in store.runs())
    assert rates == sorted(p["training.learning_rate"] for p in fixed_points(study.sweep))
    assert run_study(study, tmp_path / "run", Console(quiet=True)).skipped == 2
    write_report(tmp_path / "run")
    page = (tmp_path / "run" / "report" / "report.html").read_text()
    assert "mine: accuracy against training.learning_rate" in page


def test_the_report_finds_the_settings_that_vary_within_a_method():
    def run(method, r, lr, seed=0):
        config = {"method": {"name": method, "r": r}, "training": {"learning_rate": lr}}
        return SimpleNamespace(method=method, config=config)

    runs = [run("lora", 4, 1e-3), run("lora", 8, 1e-3), run("full", None, 1e-5)]
    assert varied_settings(runs) == ["method.r"]  # lr differs only between methods
    runs.append(run("full", None, 3e-5))
    assert varied_settings(runs) == ["method.r", "training.learning_rate"]


def _fake_execute(executed: list):
    """Training replaced by a known objective: validation accuracy peaks at r = 8."""

    def execute(spec, *args, **kwargs):
        executed.append(spec.method.r)
        accuracy = 1 - (math.log2(spec.method.r) - 3) ** 2 / 40
        metrics = {"validation": {"accuracy": accuracy}, "test": {"accuracy": accuracy}}
        return RunOutcome(metrics, {"train_seconds": 1.0}, [])

    return execute


TPE_SPACE = {"method.r": {"low": 1, "high": 64}, "method.alpha": [8, 16, 32]}


def test_tpe_runs_its_budget_of_distinct_points_and_finds_the_best(
    tiny_assets, tmp_path, monkeypatch
):
    executed = []
    monkeypatch.setattr(study_module, "execute", _fake_execute(executed))
    sweep = {"strategy": "tpe", "trials": 16, "space": TPE_SPACE, "startup_trials": 4}
    summary = run_study(
        load_study(_study(tiny_assets, tmp_path, sweep)), tmp_path / "run", Console(quiet=True)
    )
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        runs = store.runs()
    points = {(r.config["method"]["r"], r.config["method"]["alpha"]) for r in runs}
    assert len(points) == len(runs) == summary.completed == 16
    best = max(runs, key=lambda r: r.metrics["validation"]["accuracy"])
    assert 6 <= best.config["method"]["r"] <= 11  # the objective's peak is at 8
    # TPE concentrates on the good region once it models the results: later points are nearer
    late = [abs(math.log2(r) - 3) for r in executed[8:]]
    early = [abs(math.log2(r) - 3) for r in executed[:4]]
    assert sum(late) / len(late) < sum(early) / len(early)


def test_tpe_resumes_where_it_stopped_and_asks_what_it_would_have(
    tiny_assets, tmp_path, monkeypatch
):
    executed = []
    monkeypatch.setattr(study_module, "execute", _fake_execute(executed))
    sweep = {"strategy": "tpe", "trials": 10, "space": TPE_SPACE, "startup_trials": 3}
    study = load_study(_study(tiny_assets, tmp_path / "one", sweep))
    run_study(study, tmp_path / "one" / "run", Console(quiet=True))
    straight = list(executed)

    executed.clear()
    short = load_study(_study(tiny_assets, tmp_path / "two", {**sweep, "trials": 6}))
    run_study(short, tmp_path / "two" / "run", Console(quiet=True))
    run_study(study, tmp_path / "two" / "run", Console(quiet=True))  # the full budget
    assert executed == straight  # the replayed history leads the sampler to the same points
    assert run_study(study, tmp_path / "two" / "run", Console(quiet=True)).completed == 0


def test_tpe_needs_one_objective(tiny_assets, tmp_path):
    sweep = {"strategy": "tpe", "trials": 2, "space": TPE_SPACE, "metric": "perplexity"}
    study = load_study(_study(tiny_assets, tmp_path, sweep))
    with pytest.raises(UserError, match="sweep.metric: mine reports accuracy"):
        run_study(study, tmp_path / "run", Console(quiet=True))


def test_ranges_are_integer_only_when_both_ends_are():
    assert Range(low=1, high=8).integer and not Range(low=1, high=8.0).integer
