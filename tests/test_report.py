"""`tunebench report`: tables with ranks and tests in Markdown and LaTeX, the HTML page in
headless Chromium, exports, and user strings that cannot break any of them."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunebench.owners import this_process
from tunebench.records import NewRun
from tunebench.report.table import build_table
from tunebench.report.verdict import pareto_front
from tunebench.report.write import write_report
from tunebench.store import ResultsStore

HOSTILE = '<script>alert("x")</script> & 100% $_{}'
N_TEST = 200


def _store(folder: Path, hostile: bool = False) -> Path:
    """A study of three methods x two seeds on one task, with per-example test values:
    `full` is right on 90% of the examples, `lora` on 88%, `frozen` on 60%."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, N_TEST)
    task = HOSTILE if hostile else "sms"
    with ResultsStore(folder / "results.sqlite") as store:
        for method, accuracy in (("full", 0.9), ("lora", 0.88), ("frozen", 0.6)):
            for seed in (0, 1):
                right = rng.random(N_TEST) < accuracy
                prediction = np.where(right, labels, 1 - labels)
                run_id = f"{method}-{seed}"
                name = {"name": method, **({"r": 8} if method == "lora" else {})}
                config = {"task": {"name": task}, "method": name, "training": {"epochs": 2}}
                run = NewRun(run_id, "demo", "tiny", task, method, seed, config, {"torch": "2"})
                store.claim(run, this_process())
                metrics = {
                    "test": {"accuracy": float(np.mean(prediction == labels))},
                    "validation": {"accuracy": 0.5},
                    "test_examples": {"prediction": prediction.tolist(), "label": labels.tolist()},
                }
                costs = {
                    "train_seconds": {"full": 40.0, "lora": 20.0, "frozen": 5.0}[method] + seed,
                    "peak_host_mb": 1000.0,
                    "trainable_params": {"full": 1e6, "lora": 1e4, "frozen": 100}[method],
                    "checkpoint_mb": 1.0,
                }
                history = [{"step": s, "epoch": 0, "loss": 1.0 / s} for s in (1, 2, 3)]
                store.finish(run_id, "completed", metrics, costs, history)
        if hostile:
            config = {"task": {"name": task}, "method": {"name": HOSTILE}, "training": {}}
            store.claim(
                NewRun("odd", "demo", HOSTILE, task, HOSTILE, 0, config, {}), this_process()
            )
            store.finish("odd", "failed", {}, {}, [], reason=HOSTILE)
    return folder


def test_ranks_and_the_bootstrap_mark_what_is_tied_with_the_best(tmp_path):
    with ResultsStore(_store(tmp_path) / "results.sqlite") as store:
        table = build_table(store.runs())
    rows = {row.keys[1]: row.cells["sms"] for row in table.rows}
    assert rows["full"].rank == 1 and rows["lora"].rank == 2 and rows["frozen"].rank is None
    assert rows["lora"].tied_with_best and rows["lora"].p > 0.05  # 88% vs 90%: not significant
    assert rows["frozen"].p < 0.01 and not rows["frozen"].tied_with_best
    costs = {row.keys[1]: row.costs["train_seconds"] for row in table.rows}
    assert costs["frozen"].rank == 1 and costs["lora"].rank == 2  # lower cost is better
    assert table.tested


def test_markdown_and_latex_tables(tmp_path):
    paths = write_report(_store(tmp_path / "study"))
    markdown = (tmp_path / "study" / "report" / "report.md").read_text()
    assert "| tiny | full | **" in markdown and "<ins>" in markdown and "†" in markdown
    assert "sms accuracy ↑" in markdown and "train time ↓" in markdown
    assert markdown.index("## Verdict\n\n- sms: full is the best (") < markdown.index("| tiny |")
    page = (tmp_path / "study" / "report" / "report.html").read_text()
    assert "<h2>Verdict</h2>\n<ul><li>sms: full is the best (" in page
    latex = (tmp_path / "study" / "report" / "report.tex").read_text()
    assert r"\toprule" in latex and r"\textbf{" in latex and r"\underline{" in latex
    assert r"$^\dagger$" in latex and r"$\pm$" in latex
    assert {p.name for p in paths} == {
        "report.md",
        "report.tex",
        "report.html",
        "runs.json",
        "runs.csv",
        "runs.parquet",
    }


def test_exports_hold_every_run(tmp_path):
    write_report(_store(tmp_path / "study"))
    folder = tmp_path / "study" / "report"
    frame = pd.read_parquet(folder / "runs.parquet")
    assert len(frame) == 6 and frame["metrics.test.accuracy"].dtype == float
    assert "metrics.test_examples.prediction" not in frame.columns  # JSON only
    assert len(pd.read_csv(folder / "runs.csv")) == 6
    runs = json.loads((folder / "runs.json").read_text())
    assert len(runs[0]["metrics"]["test_examples"]["label"]) == N_TEST


def test_user_strings_cannot_break_any_format(tmp_path):
    write_report(_store(tmp_path / "study", hostile=True))
    folder = tmp_path / "study" / "report"
    page = (folder / "report.html").read_text()
    assert '<script>alert("x")' not in page  # neither in the table nor in the plots' JSON
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    markdown = (folder / "report.md").read_text()
    assert "<script>" not in markdown
    latex = (folder / "report.tex").read_text()
    assert r"100\% \$\_\{\}" in latex and "<script>" not in latex


def test_pareto_front():
    points = [(1.0, 0.5), (2.0, 0.9), (3.0, 0.8), (4.0, 0.95), (2.0, 0.4)]
    assert pareto_front(points, lower_y=False) == [0, 1, 3]
    assert pareto_front([(1.0, 3.0), (2.0, 2.0), (3.0, 2.5)], lower_y=True) == [0, 1]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium package")
def test_html_report_loads_in_headless_chromium_with_its_charts(tmp_path):
    write_report(_store(tmp_path / "study", hostile=True))
    page = tmp_path / "study" / "report" / "report.html"
    command = [
        "chromium",
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=15000",
        "--window-size=1300,2400",
    ]
    shot = tmp_path / "report.png"
    dom = subprocess.run(
        [*command, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console  # no errors, and the page logs nothing else
    assert len(re.findall(r'class="main-svg"', dom.stdout)) >= 3  # plotly drew the figures
    assert "Pareto front" in dom.stdout
    subprocess.run([*command, f"--screenshot={shot}", page.as_uri()], timeout=120, check=True)
    assert shot.stat().st_size > 50_000  # charts, not a blank page
