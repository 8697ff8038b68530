"""`tunebench predict` on an exported visual_qa run: each row's image and question answered as
the run's test answered them — generated greedily, or, where the row has choices, the option
the model finds likeliest.

The file names its images as the task file did (a path relative to the file, or absolute);
every image is opened and verified, and every choices cell checked, before the model loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tunebench.families.files import missing, options_cell, read_table, require_columns, texts_of
from tunebench.families.visual_qa.data import checked_images

ROWS_PER_BATCH = 8


def read_questions(data_file: Path, columns: dict[str, str | None]) -> dict[str, list]:
    """{"image": paths, "question": texts, "choices": options or None per row}, checked. The
    choices are the task's choices column, else a column named `choices`, where the file
    holds it (any row may leave it empty)."""
    frame = read_table(data_file)
    require_columns(
        frame, data_file, image_column=columns["image"], question_column=columns["question"]
    )
    images = checked_images(frame[columns["image"]].tolist(), columns["image"], data_file)
    questions = texts_of(frame[columns["question"]], data_file)
    choices: list[list[str] | None] = [None] * len(frame)
    column = columns.get("choices") or "choices"
    if column in frame.columns:
        choices = [_options(cell, row, column, data_file) for row, cell in enumerate(frame[column])]
    return {"image": images, "question": questions, "choices": choices}


def answer_rows(exported: Any, inputs: dict[str, list], advance) -> pd.DataFrame:
    """`answer` per row: generated for open questions, the likeliest option for the others."""
    from tunebench.families.visual_qa.batches import generate_answers, option_logprobs

    images, questions, choices = inputs["image"], inputs["question"], inputs["choices"]
    open_rows = [row for row, options in enumerate(choices) if options is None]
    answers: dict[int, str] = {}
    new_tokens = exported.info["generation"]["max_new_tokens"]
    for start in range(0, len(open_rows), ROWS_PER_BATCH):
        rows = open_rows[start : start + ROWS_PER_BATCH]
        generated = generate_answers(
            exported.model,
            exported.processor,
            [images[row] for row in rows],
            [questions[row] for row in rows],
            new_tokens,
            ROWS_PER_BATCH,
        )
        answers.update(zip(rows, generated, strict=True))
        advance(len(rows))
    for row, options in enumerate(choices):
        if options is not None:
            scores = option_logprobs(
                exported.model, exported.processor, images[row], questions[row], options
            )
            answers[row] = options[max(range(len(options)), key=scores.__getitem__)]
            advance(1)
    return pd.DataFrame({"answer": [answers[row] for row in range(len(choices))]})


def _options(cell: Any, row: int, column: str, path: Path) -> list[str] | None:
    """A row's options (None for an empty cell: the question is answered by generating)."""
    if missing(cell) or (isinstance(cell, str) and not cell.strip()):
        return None
    return options_cell(cell, row, column, path)
