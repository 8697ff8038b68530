"""Every tuner type of the pinned PEFT through the escape hatch `{name: peft, type: ...}`:
each trains its own parameters and the head on a tiny encoder and a tiny decoder classifier,
or is refused with a reason — when the study loads where tunebench cannot drive the type,
when it is applied (the run fails as `unsupported`) where PEFT cannot place it or would leave
the head frozen. docs/methods.md's table of PEFT types is this test's table."""

from __future__ import annotations

import pytest
import torch
from peft.utils import PeftType
from pydantic import ValidationError

from tunebench.errors import UserError
from tunebench.methods import METHODS

from tiny import tiny_classifier, toy_batch

TRAIN = {  # type -> settings for the tiny models' 32-wide layers (PEFT's defaults otherwise)
    **dict.fromkeys(
        [
            "ADAMSS",
            "BEFT",
            "BOFT",
            "DEFT",
            "DELORA",
            "FROD",
            "GLORA",
            "GRALORA",
            "HIRA",
            "HRA",
            "IA3",
            "LILY",
            "LOHA",
            "LOKR",
            "LORA",
            "OFT",
            "OSF",
            "PEANUT",
            "PVERA",
            "RANDLORA",
            "SUPERTUNING",
            "TINYLORA",
            "UNILORA",
            "VERA",
        ],
        {},
    ),
    "C3A": {"block_size": 16},
    "FOURIERFT": {"n_frequency": 64},
    "LN_TUNING": {"target_modules": ["LayerNorm", "input_layernorm", "post_attention_layernorm"]},
    "MISS": {"r": 8},
    "PSOFT": {"r": 8},
    "ROAD": {"group_size": 16},
    "SHIRA": {"r": 4},
    "VBLORA": {"vector_length": 16},
    "WAVEFT": {"n_frequency": 64},
}
REFUSED_AT_LOAD = {
    "ADALORA": "use the method adalora",
    "POLY": "task id",
    "XLORA": "several trained LoRA adapters",
    **dict.fromkeys(
        [
            "PROMPT_TUNING",
            "PREFIX_TUNING",
            "P_TUNING",
            "MULTITASK_PROMPT_TUNING",
            "CPT",
            "CARTRIDGE",
        ],
        "methods prompt, prefix and p_tuning",
    ),
}
UNSUPPORTED = {  # refused when applied to a classifier: (settings, the reason)
    "TRAINABLE_TOKENS": ({"token_indices": [1]}, "leaves the classifier head frozen"),
    "ADAPTION_PROMPT": (  # Llama's attention only; on it, no head
        {"adapter_len": 4, "adapter_layers": 1},
        "model type for adaption prompt: 'bert'|leaves the classifier head frozen",
    ),
    "SHADOW": ({}, "locate the transformer backbone"),
}
HEAD = 32 * 2 + 2


def test_every_peft_type_is_in_one_table():
    types = {t.value for t in PeftType}
    assert types == set(TRAIN) | set(REFUSED_AT_LOAD) | set(UNSUPPORTED)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("peft_type", sorted(TRAIN))
def test_a_type_trains_its_parameters_and_the_head(peft_type, kind):
    model = METHODS["peft"].apply(
        tiny_classifier(kind), METHODS["peft"].config(type=peft_type, **TRAIN[peft_type]), ""
    )
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    head = [n for n in trainable if ".classifier." in f".{n}"]
    assert head and sum(p.numel() for p in trainable.values()) > HEAD
    before = {n: p.detach().clone() for n, p in trainable.items()}
    loss = model(**toy_batch()).loss
    loss.backward()
    torch.optim.AdamW(trainable.values(), lr=1e-2).step()
    moved = [n for n, p in trainable.items() if not torch.equal(before[n], p)]
    assert any(n in moved for n in head) and set(moved) - set(head)  # the tuner's own too


@pytest.mark.parametrize("peft_type", sorted(REFUSED_AT_LOAD))
def test_a_type_tunebench_cannot_drive_is_refused_when_the_study_loads(peft_type):
    with pytest.raises(ValidationError, match=REFUSED_AT_LOAD[peft_type]):
        METHODS["peft"].config(type=peft_type)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("peft_type", sorted(UNSUPPORTED))
def test_a_type_that_cannot_train_a_classifier_fails_as_unsupported(peft_type, kind):
    settings, reason = UNSUPPORTED[peft_type]
    config = METHODS["peft"].config(type=peft_type, **settings)
    with pytest.raises(UserError, match=reason):
        METHODS["peft"].apply(tiny_classifier(kind), config, "")


def test_list_peft_types_says_how_a_study_names_each_type_or_why_it_cannot():
    from test_cli import cli

    shown = cli("list", "peft-types")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any("VERA" in line and "{name: peft, type: VERA}" in line for line in lines)
    assert any(
        "POLY" in line and "refused: it routes each example by a task id" in line for line in lines
    )
    assert sum("refused:" in line for line in lines) == len(REFUSED_AT_LOAD)
