"""Seed 001's analyses in the report: data-size curves from a sweep of `task.max_train_samples`
(the rows each run trained on are recorded in its provenance) and the spread over seeds."""

from __future__ import annotations

import pytest
import yaml
from fake_runs import run
from rich.console import Console
from test_sweeps import _study

from tunebench.errors import UserError
from tunebench.report.data_size import data_size_figures, train_rows
from tunebench.report.stability import spreads, stability_markdown
from tunebench.report.table import build_table
from tunebench.report.write import write_report
from tunebench.store import ResultsStore
from tunebench.study.expand import expand
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

SIZES = {"space": {"task.max_train_samples": [8, 16, None]}}


def test_a_task_setting_sweeps_like_a_method_setting(tiny_assets, tmp_path):
    path = _study(tiny_assets, tmp_path, SIZES, seeds=(0, 1))
    runs = expand(load_study(path))
    assert [r.task.max_train_samples for r in runs] == [8, 8, 16, 16, None, None]
    assert len({r.run_id for r in runs}) == 6
    plain = yaml.safe_load(path.read_text())
    del plain["sweep"]
    path.write_text(yaml.safe_dump(plain))
    # the point with the study's own value is the same run as the study without the sweep
    unswept = {r.run_id for r in expand(load_study(path))}
    assert unswept == {r.run_id for r in runs if r.task.max_train_samples is None}


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"task.rows": [8]}, "sweep.space.task.rows: task 'mine' has no such setting"),
        ({"task.max_train_samples": [0]}, "max_train_samples: Input should be greater than 0"),
    ],
)
def test_a_bad_task_setting_is_one_clear_error(tiny_assets, tmp_path, space, message):
    with pytest.raises(UserError, match=message):
        load_study(_study(tiny_assets, tmp_path, {"space": space}))


def test_a_data_size_study_records_its_sizes_and_draws_the_curves(tiny_assets, tmp_path):
    study = load_study(_study(tiny_assets, tmp_path, SIZES, methods=["frozen"], seeds=(0, 1)))
    summary = run_study(study, tmp_path / "run", Console(quiet=True))
    assert (summary.completed, summary.failed) == (6, 0)
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        records = store.runs()
    whole = {train_rows(r) for r in records if r.config["task"]["max_train_samples"] is None}
    assert sorted({train_rows(r) for r in records}) == [8, 16, *whole] and whole.pop() > 16
    # every size is scored on the same validation and test rows
    assert len({repr(r.provenance["split_rows"]) for r in records if train_rows(r) == 8}) == 1
    assert len({(r.provenance["split_rows"]["test"]) for r in records}) == 1
    table = build_table(records)
    (accuracy, seconds) = data_size_figures(table)
    (curve,) = accuracy.data
    assert list(curve.x) == sorted({train_rows(r) for r in records})
    assert accuracy.layout.xaxis.type == "log"
    assert all(t.error_y.array is not None for t in seconds.data)
    write_report(tmp_path / "run")
    page = (tmp_path / "run" / "report" / "report.html").read_text()
    assert "mine: test accuracy against training rows" in page
    assert "over seeds" in (tmp_path / "run" / "report" / "report.md").read_text()


def test_no_curve_for_a_task_run_at_one_size():
    records = [run("lora", seed, {"accuracy": 0.9}, {}) for seed in (0, 1)]
    assert data_size_figures(build_table(records)) == []


def test_the_spread_over_seeds_is_computed_per_row():
    records = [
        run("lora", 0, {"accuracy": 0.90}, {}),
        run("lora", 1, {"accuracy": 0.94}, {}),
        run("lora", 2, {"accuracy": 0.95}, {}),
        run("full", 0, {"accuracy": 0.97}, {}),  # one seed: no spread
    ]
    table = build_table(records)
    (spread,) = spreads(table, table.tasks[0])
    assert spread.values == pytest.approx([90.0, 94.0, 95.0])
    assert spread.std == pytest.approx(2.6457513, rel=1e-6)
    assert (spread.low, spread.high) == pytest.approx((90.0, 95.0))
    text = stability_markdown(table)
    assert "| lora | 3 | 93.00 | 2.65 | 90.00 | 95.00 | 5.00 |" in text
    assert "full" not in text
