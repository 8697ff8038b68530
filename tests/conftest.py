import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `from tiny import ...`


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory) -> Path:
    """A tiny config-built decoder with its tokenizer (`lm/`) and a 60-row two-class CSV task
    (`task.csv`): studies that train for real in seconds, offline."""
    from tiny import tiny_causal_lm, tiny_tokenizer

    root = tmp_path_factory.mktemp("tiny_assets")
    tiny_causal_lm().save_pretrained(root / "lm")
    tiny_tokenizer().save_pretrained(root / "lm")
    rows = [f"good day {i},pos" for i in range(30)] + [f"bad news {i},neg" for i in range(30)]
    (root / "task.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    return root
