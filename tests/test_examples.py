"""The study files we ship (examples/, docs/data/) stay valid as the schema changes: each one
loads and expands to runs, and an example is named after its file, so that its results land in
`runs/<file name>` as the docs say."""

from pathlib import Path

import pytest

from tunebench.config import load_study

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
