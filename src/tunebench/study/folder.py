"""The study's output folder, checked before anything loads or trains: a path that cannot become
a writable folder is one message naming it, and nothing is created."""

from __future__ import annotations

import os
from pathlib import Path

from tunebench.errors import UserError

SQLITE_HEADER = b"SQLite format 3\x00"


def check_output_folder(folder: Path) -> None:
    """UserError unless `folder` is, or can be made as, a folder this process may write in
    (and its results store, if it has one, a file it may write)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output folder {folder}: is a file, not a folder")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"output folder {folder}: {existing} is a file, so it cannot hold a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"output folder {folder}: no permission to write in {existing}")
    store = folder / "results.sqlite"
    if store.is_dir():
        raise UserError(f"{store} is a folder; expected a results file (results.sqlite)")
    if store.exists() and not os.access(store, os.R_OK | os.W_OK):
        raise UserError(f"output folder {folder}: no permission to write {store}")
    if store.exists() and store.stat().st_size:
        with store.open("rb") as file:
            if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise UserError(f"{store} is not a tunebench results store (not an SQLite file)")
