"""Visual question answering data: a user's file of images, questions and answers.

`path` is a CSV, JSONL or Parquet file (families/files.py) with an image column (a path
relative to the file, or absolute), a question column and an answer column, and optionally a
choices column (a list of options — in a CSV cell a JSON array — that holds the answer) for
multiple-choice questions. Every image is opened and verified with Pillow when the task loads,
before anything trains: a missing or unreadable image is an error naming the data row and the
path. Splits: the file's `split` column, else random 70/10/20 with the fixed seed (as for
every file task). The data hash covers the file and every image it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from tunebench.assets import sha256_files
from tunebench.errors import UserError
from tunebench.families.files import (
    missing,
    options_cell,
    read_table,
    require_columns,
    split_rows,
    texts_of,
)
from tunebench.families.splits import Rows, limit


@dataclass(frozen=True)
class VQASplit(Rows):
    images: list[Path]
    questions: list[str]
    answers: list[str]
    choices: list[list[str] | None]
    """Each question's options where the file has a choices column, else None."""
    ids: list


@dataclass(frozen=True)
class VQAData:
    name: str
    train: VQASplit
    validation: VQASplit
    test: VQASplit
    data_sha256: str


def load_visual_qa(cfg: Any) -> VQAData:
    """The task's file, checked (every image opened), split and limited to the task's sizes."""
    path = Path(cfg.path).expanduser()
    frame = read_table(path)
    columns = {
        "image_column": cfg.image_column,
        "question_column": cfg.question_column,
        "answer_column": cfg.answer_column,
    }
    if cfg.choices_column is not None:
        columns["choices_column"] = cfg.choices_column
    require_columns(frame, path, **columns)
    images = checked_images(frame[cfg.image_column].tolist(), cfg.image_column, path)
    questions = texts_of(frame[cfg.question_column], path)
    answers = texts_of(frame[cfg.answer_column], path)
    choices: list[list[str] | None] = [None] * len(frame)
    if cfg.choices_column is not None:
        cells = frame[cfg.choices_column].tolist()
        choices = [
            _choices(cell, answer, row, cfg.choices_column, path)
            for row, (cell, answer) in enumerate(zip(cells, answers, strict=True))
        ]
    whole = VQASplit(images, questions, answers, choices, list(range(len(frame))))
    train, validation, test = (whole.take(p) for p in split_rows(frame, path))
    sha = sha256_files(path, *sorted(set(images)))
    data = VQAData(cfg.name, train, validation, test, sha)
    return limit(data, cfg.max_train_samples, cfg.max_eval_samples, cfg.data_seed)


def checked_images(cells: list[Any], column: str, path: Path) -> list[Path]:
    """Each cell's image path (relative to the task file unless absolute), every one opened and
    verified; UserError naming the first bad data row, its path and how many more are bad."""
    images, problems = [], []
    for row, cell in enumerate(cells):
        image, problem = _image(cell, path)
        images.append(image)
        if problem:
            problems.append(f"data row {row + 1}: {problem}")
    if problems:
        more = f" (and {len(problems) - 1} more rows)" if len(problems) > 1 else ""
        raise UserError(f"{path}: column {column!r}, {problems[0]}{more}")
    return images


def _image(cell: Any, task_file: Path) -> tuple[Path, str | None]:
    """The cell's image path and what is wrong with it (None: a readable image)."""
    text = "" if missing(cell) else str(cell).strip()
    if not text:
        return Path(), "no image path"
    image = Path(text).expanduser()
    if not image.is_absolute():
        image = task_file.parent / image
    if not image.is_file():
        return image, f"image {image} does not exist"
    try:
        with Image.open(image) as opened:
            opened.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return image, f"image {image} cannot be read ({type(error).__name__}: {error})"
    return image, None


def _choices(cell: Any, answer: str, row: int, column: str, path: Path) -> list[str]:
    """At least two non-empty options, the answer among them."""
    options = options_cell(cell, row, column, path)
    if answer.strip() not in options:
        raise UserError(
            f"{path}: column {column!r}, data row {row + 1}: the answer {answer!r} is not one "
            f"of the choices {options}"
        )
    return options
