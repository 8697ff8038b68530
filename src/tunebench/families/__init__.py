"""Task families: one module (or folder) per kind of task behind one protocol (`base.Family`),
and their registry (`registry`). A new family is its module, one line in `registry.py`, and its
tests (docs/architecture.md walks through one)."""
