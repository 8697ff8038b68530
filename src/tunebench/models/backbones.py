"""Load a pretrained backbone and its tokenizer by alias, Hugging Face id or local path
(`locate` finds the files: the packaged aliases, SmolLM2's converted GGUF)."""

from __future__ import annotations

import json
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

from tunebench.errors import UserError
from tunebench.models.locate import Kind, config_file, model_path


@dataclass
class Backbone:
    """A loaded backbone: the bare transformer (no head), its tokenizer and how to pool it."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    kind: Kind
    default_pooling: Literal["cls", "mean", "last"]
    path: str  # what `from_pretrained` was given: a local folder or a Hub id


def load_config(name: str, trust_remote_code: bool = False) -> PretrainedConfig:
    """The backbone's config. Its files are found first without transformers (`config_file`
    names what is missing); a Hub id is read from the local cache, and from the Hub only for
    what the cache lacks (remote code of a `trust_remote_code` model)."""
    config_file(name)
    path = model_path(name)
    try:
        try:
            return AutoConfig.from_pretrained(
                path, trust_remote_code=trust_remote_code, local_files_only=True
            )
        except OSError:
            if Path(path).exists():
                raise
            return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise UserError(f"backbone '{name}': its config cannot be read ({error})") from error


def load_tokenizer(name: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """The backbone's tokenizer alone (`tunebench plan` counts tokens without the weights)."""
    return AutoTokenizer.from_pretrained(model_path(name), trust_remote_code=trust_remote_code)


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
    return bool(getattr(config, "is_decoder", False)) or _is_causal(config)


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
