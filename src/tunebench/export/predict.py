"""`tunebench predict EXPORT_DIR DATA_FILE -o OUT.csv`: an exported classifier's predictions
for every row of a CSV / JSONL / Parquet file with the task's text column(s).

The file is read and checked before the model loads (a missing column or a blank text is one
line naming the file, column and row, exit 2), and OUT.csv appears only when every row has
been predicted: `row` (0-based, header not counted), `prediction` (a label name) and one
`probability_<label>` column per class.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
from rich.progress import Progress

from tunebench.errors import UserError
from tunebench.families.files import read_table, require_columns, texts_of

BATCH = 32


def predict_file(export_dir: Path, data_file: Path, out_file: Path, progress: Progress) -> int:
    """Write the predictions for `data_file` into `out_file`; returns the number of rows."""
    info = _info(export_dir)
    texts, pairs = _read_inputs(data_file, info["columns"])
    from tunebench.export.load import load_export  # torch and transformers: after the checks

    exported = load_export(export_dir)
    labels = info["labels"]
    rows = []
    task = progress.add_task("predicting", total=len(texts))
    for start in range(0, len(texts), BATCH):
        end = start + BATCH
        chunk_pairs = pairs[start:end] if pairs is not None else None
        rows.extend(exported.probabilities(texts[start:end], chunk_pairs).tolist())
        progress.update(task, advance=len(texts[start:end]))
    frame = pd.DataFrame(rows, columns=[f"probability_{label}" for label in labels])
    frame.insert(0, "prediction", [labels[max(range(len(r)), key=r.__getitem__)] for r in rows])
    frame.insert(0, "row", range(len(rows)))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(f".{out_file.name}.partial")
    frame.to_csv(partial, index=False)
    os.replace(partial, out_file)
    return len(rows)


def _info(export_dir: Path) -> dict:
    path = export_dir / "tunebench.json"
    if not path.is_file():
        raise UserError(f"{export_dir}: no tunebench.json here (not a `tunebench export` folder)")
    info = json.loads(path.read_text())
    if info.get("model_kind") != "classifier":
        raise UserError(
            f"{export_dir}: predict writes a classifier's predictions; this export is a "
            f"{info.get('model_kind')} (load it with transformers: docs/export.md)"
        )
    return info


def _read_inputs(data_file: Path, columns: dict) -> tuple[list[str], list[str] | None]:
    """The file's texts (and pairs), checked: the columns exist, no text is blank."""
    frame = read_table(data_file)
    wanted = {"text_column": columns["text"]}
    if columns.get("text_pair"):
        wanted["text_pair_column"] = columns["text_pair"]
    require_columns(frame, data_file, **wanted)
    texts = texts_of(frame[columns["text"]], data_file)
    pairs = texts_of(frame[columns["text_pair"]], data_file) if columns.get("text_pair") else None
    return texts, pairs
