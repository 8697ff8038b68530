"""Every case of tests/data/bad_inputs.yaml ends as the user's one line: exit code 2, a single
`error:` line on stderr naming the mistake, nothing trained and the output folder untouched.
(bench/bad_inputs.py times the same cases as fresh processes on a real backbone.)"""

from __future__ import annotations

import sys

import pytest

from bench.bad_inputs import CASES, fill, prepare, snapshot
from tunebench import cli
from tunebench.study import run_path


def _never_train(*args, **kwargs):
    raise AssertionError("a bad input reached training")


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_is_one_line(case, tiny_assets, tmp_path, monkeypatch, capsys):
    args, values = prepare(case, tmp_path, str(tiny_assets / "lm"))
    before = snapshot(tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(run_path, "execute", _never_train)
    monkeypatch.setattr(sys, "argv", ["tunebench", *args])

    with pytest.raises(SystemExit) as ended:
        cli.main()

    stderr = capsys.readouterr().err
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert ended.value.code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert fill(case["expect"], values) in lines[0], stderr
    assert snapshot(tmp_path / "out") == before


def test_case_ids_are_unique():
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))
