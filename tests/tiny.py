"""Tiny random models built from configs, for fast unit tests (no download, < 0.1 s each)."""

from pathlib import Path

import torch
from transformers import BertConfig, BertModel, LlamaConfig, LlamaModel

from tunebench.models.heads import SequenceClassifier


def tiny_bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return BertModel(config, add_pooling_layer=False)


def tiny_llama() -> LlamaModel:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    return LlamaModel(config)


def tiny_classifier(kind: str, num_labels: int = 2) -> SequenceClassifier:
    backbone = tiny_bert() if kind == "encoder" else tiny_llama()
    return SequenceClassifier(backbone, num_labels, "mean" if kind == "encoder" else "last")


def toy_batch(batch_size: int = 4, length: int = 8) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1, 100, (batch_size, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, -3:] = 0  # one right-padded row
    input_ids[0, -3:] = 0
    labels = torch.arange(batch_size) % 2
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_tokenizer(chat: bool = True):
    """A character-level fast tokenizer (one token per character) with `<|im_end|>` as pad
    and end of sequence, and optionally a ChatML template: offline, deterministic."""
    import string

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|im_end|>", "<|im_start|>", "<unk>"]
    vocab = {token: i for i, token in enumerate(specials + list(string.printable))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|im_end|>", unk_token="<unk>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_causal_lm(vocab_size: int = 110):
    """A 2-layer Llama with its language-modelling head (tied embeddings, as SmolLM2)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(tiny_llama_config(vocab_size, 0, 0, tie_word_embeddings=True))


def tiny_llama_config(vocab_size: int, pad: int, eos: int, **settings) -> LlamaConfig:
    """A 2-block Llama of width 32 (the tiny decoders' and the tiny LLaVA's language model)."""
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        pad_token_id=pad,
        eos_token_id=eos,
        **settings,
    )


def tiny_context(training, method: str = "lora", seed: int = 0, family: str = "classification"):
    """A RunContext for driving a family's training pieces directly: the run's method, seed and
    training settings, no data, no store."""
    from types import SimpleNamespace

    from tunebench.families.context import RunContext
    from tunebench.families.registry import FAMILIES
    from tunebench.methods import METHODS
    from tunebench.training.optim import make_accelerator

    spec = SimpleNamespace(
        method=METHODS[method].config(), seed=seed, training=training, backbone=None, options={}
    )
    return RunContext(spec, FAMILIES[family], None, make_accelerator(training), None, Path("."))


def save_tiny_word_encoder(folder: Path, words: list[str]) -> Path:
    """A tiny BERT and a word-level WordPiece tokenizer over `words`, saved as a model folder
    a study can name as its backbone."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words]))
    tiny_bert().save_pretrained(folder)
    BertTokenizerFast(vocab=str(vocab)).save_pretrained(folder)
    return folder


TINY_SETTINGS: dict[str, dict] = {
    "last_n": {"n": 1},
    "c3a": {"block_size": 16},  # divides the tiny models' widths (32, and 16 for Llama's v)
    "miss": {"r": 16},
    "road": {"group_size": 8},
    "shira": {"r": 4},  # r × (in + out) must stay below in × out
    "fourierft": {"n_frequency": 100},  # at most in × out (512 for Llama's v)
}
"""Method settings that fit the tiny models built here (the defaults fit real widths)."""
