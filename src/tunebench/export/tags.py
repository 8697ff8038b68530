"""`tunebench predict` on an exported token-classification run: a tag for every word of every
row, read at the word's first sub-token as the run's test read it (`Exported.word_tags`).

A row's words are a list (a JSONL or Parquet list; in a CSV cell, a JSON array) or a text,
split on whitespace. Every row is checked before the model loads. The output's `tags` column
holds each row's tags as a JSON array, one per word, in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from tunebench.errors import UserError
from tunebench.families.files import list_cell, missing, read_table, require_columns

ROWS_PER_BATCH = 32


def read_sentences(data_file: Path, columns: dict[str, str | None]) -> dict[str, list]:
    """{"words": each row's words}, checked: the column exists and no row is empty."""
    frame = read_table(data_file)
    column = columns["words"]
    require_columns(frame, data_file, tokens_column=column)
    words = [_words(cell, row, column, data_file) for row, cell in enumerate(frame[column])]
    return {"words": words}


def tag_rows(exported: Any, inputs: dict[str, list], advance) -> pd.DataFrame:
    """`tags`: a JSON array of each row's tags, one per word."""
    sentences, tags = inputs["words"], []
    for start in range(0, len(sentences), ROWS_PER_BATCH):
        chunk = sentences[start : start + ROWS_PER_BATCH]
        tags += exported.word_tags(chunk)
        advance(len(chunk))
    return pd.DataFrame({"tags": [json.dumps(row_tags) for row_tags in tags]})


def _words(cell: Any, row: int, column: str, path: Path) -> list[str]:
    listed = list_cell(cell)
    if listed is None and isinstance(cell, str):
        listed = cell.split()
    words = [] if listed is None or missing(cell) else [str(w) for w in listed]
    if not words or not all(w.strip() for w in words):
        raise UserError(
            f"{path}: column {column!r}, data row {row + 1}: a row's words are a list of "
            'non-empty texts (in a CSV file, a JSON array such as ["Ann", "runs"]) or a text '
            "split on spaces"
        )
    return words
