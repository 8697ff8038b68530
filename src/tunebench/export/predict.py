"""`tunebench predict EXPORT_DIR DATA_FILE -o OUT.csv`: an exported classifier's labels, a token
classifier's tags (export/tags.py), a generation run's texts, or a visual_qa run's answers
(export/answers.py), for every row of a CSV / JSONL / Parquet file with the task's input
column(s).

The file is read and checked before the model loads (a missing column, a blank text or an
unreadable image is one line naming the file, column and row, exit 2), and OUT.csv appears
only when every row has been predicted: `row` (0-based, header not counted), then a
classifier's `prediction` (a label name) and one `probability_<label>` column per class, a
token classifier's `tags`, a generation run's `generation`, or a visual_qa run's `answer`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from rich.progress import Progress

from tunebench.errors import UserError
from tunebench.export.answers import answer_rows, read_questions
from tunebench.export.info import read_info
from tunebench.export.tags import read_sentences, tag_rows
from tunebench.families.files import read_table, require_columns, texts_of

BATCH = 32


def predict_file(export_dir: Path, data_file: Path, out_file: Path, progress: Progress) -> int:
    """Write the predictions for `data_file` into `out_file`; returns the number of rows."""
    info = _info(export_dir)
    reader = {"image_text": read_questions, "token_classifier": read_sentences}
    inputs = reader.get(info["model_kind"], _read_inputs)(data_file, info["columns"])
    from tunebench.export.load import load_export  # torch and transformers: after the checks

    exported = load_export(export_dir)
    count = len(next(iter(inputs.values())))
    task = progress.add_task("predicting", total=count)

    def advance(done: int) -> None:
        progress.update(task, advance=done)

    writer = {"classifier": _classified, "image_text": answer_rows, "token_classifier": tag_rows}
    frame = writer.get(info["model_kind"], _generated)(exported, inputs, advance)
    frame.insert(0, "row", range(count))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(f".{out_file.name}.partial")
    frame.to_csv(partial, index=False, lineterminator="\r\n")  # RFC 4180: \r in a text is quoted
    os.replace(partial, out_file)
    return count


def _classified(exported, inputs: dict[str, list[str]], advance) -> pd.DataFrame:
    """`prediction` (a label name) and `probability_<label>` per class."""
    texts, pairs, labels = inputs["text"], inputs.get("text_pair"), exported.info["labels"]
    rows = []
    for start in range(0, len(texts), BATCH):
        end = start + BATCH
        chunk_pairs = pairs[start:end] if pairs is not None else None
        rows.extend(exported.probabilities(texts[start:end], chunk_pairs).tolist())
        advance(len(texts[start:end]))
    frame = pd.DataFrame(rows, columns=[f"probability_{label}" for label in labels])
    frame.insert(0, "prediction", [labels[max(range(len(r)), key=r.__getitem__)] for r in rows])
    return frame


def _generated(exported, inputs: dict[str, list[str]], advance) -> pd.DataFrame:
    """`generation`: the greedy continuation, as the run's generation family produced it."""
    prompts = inputs["prompt"]
    from tunebench.families.causal_lm.sequences import Renderer
    from tunebench.families.generation.run import generate
    from tunebench.training.config import TrainingConfig
    from tunebench.training.optim import make_accelerator

    info = exported.info
    training = TrainingConfig.model_validate(info["run_config"]["training"])
    renderer = Renderer(exported.tokenizer, info["generation"]["prompt_format"])
    accelerator, outputs = make_accelerator(training), []
    for start in range(0, len(prompts), BATCH):
        chunk = prompts[start : start + BATCH]
        new_tokens = info["generation"]["max_new_tokens"]
        outputs += generate(exported.model, renderer, chunk, training, new_tokens, accelerator)
        advance(len(chunk))
    return pd.DataFrame({"generation": outputs})


def _info(export_dir: Path) -> dict:
    info = read_info(export_dir)
    if info.get("model_kind") not in ("classifier", "token_classifier") and not info.get(
        "generation"
    ):
        raise UserError(
            f"{export_dir}: predict writes a classifier's labels, a token classifier's tags, a "
            "generation run's texts or a visual_qa run's answers; "
            f"this export is a {info.get('model_kind')} run's (load it with transformers: "
            "docs/export.md)"
        )
    return info


def _read_inputs(data_file: Path, columns: dict[str, str | None]) -> dict[str, list[str]]:
    """The file's input texts by role ("text", "text_pair", "prompt"), checked: the columns
    exist and no text is blank."""
    frame = read_table(data_file)
    wanted = {role: column for role, column in columns.items() if column}
    require_columns(frame, data_file, **{f"{role}_column": c for role, c in wanted.items()})
    return {role: texts_of(frame[column], data_file) for role, column in wanted.items()}
