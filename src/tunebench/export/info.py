"""`tunebench.json`, the file that makes a folder an export: its name and its reader (no torch,
so `predict` checks a folder and a data file before any model library loads)."""

from __future__ import annotations

import json
from pathlib import Path

from tunebench.errors import UserError

INFO = "tunebench.json"


def read_info(folder: Path) -> dict:
    """The export's `tunebench.json` (UserError when `folder` is not an export)."""
    path = folder / INFO
    if not path.is_file():
        raise UserError(f"{folder}: no {INFO} here (not a `tunebench export` folder)")
    return json.loads(path.read_text())
