"""The study files we ship (examples/, docs/data/) stay valid as the schema changes: each one
loads and expands to runs, and an example is named after its file, so that its results land in
`runs/<file name>` as the docs say."""

import json
from pathlib import Path

import pytest

from tunebench.study.expand import expand
from tunebench.study.load import first_points, load_study

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("docs/data/*.yaml")])


def test_the_examples_are_found():
    assert (ROOT / "examples" / "quickstart.yaml") in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_shipped_study_file_loads(path: Path):
    study = load_study(path)
    assert study.name
    if path.parent.name == "examples":
        assert study.name == path.stem


RECORDED = sorted(ROOT.glob("docs/data/*.json"))
SNAPSHOT = json.loads((ROOT / "tests" / "data" / "shipped_run_ids.json").read_text())


@pytest.mark.parametrize("path", sorted(SNAPSHOT), ids=str)
def test_shipped_studies_keep_their_run_ids(path: str):
    """Every shipped study expands to the run ids it had when the snapshot was taken (before the
    one-schema refactor), so a store made with it resumes without re-running anything. A study
    file edited on purpose gets its new ids written into tests/data/shipped_run_ids.json."""
    assert set(_run_ids(load_study(ROOT / path))) == set(SNAPSHOT[path])


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.name)
def test_recorded_runs_keep_their_ids(path: Path):
    """A new setting must not change the id of a run recorded before it existed, or every
    existing store would run its studies again (training/config.py ADDED_LATER)."""
    recorded = json.loads(path.read_text())
    studies = {s.name: s for s in (load_study(p) for p in SHIPPED)}
    if path.stem in studies:  # a store that imported another study's runs (decoders phase 2)
        study = studies[path.stem]
    else:
        (name,) = {run["study"] for run in recorded}
        study = studies[name]
    assert {run["run_id"] for run in recorded} <= set(_run_ids(study))


def _run_ids(study) -> list[str]:
    return [spec.run_id for spec in expand(study, first_points(study))]
