"""FT-Transformer with text tokens: the downstream model of the seed study (its Figure 2).

Gorishniy et al. (2021) turn every numeric and categorical feature into one token of width
`d_block` and run a Transformer over them plus a [CLS] token. Here each text column's language
model embedding becomes one more token: a `nn.Linear(d_text_i, d_block)` projects it to the token
width and it is appended after the feature tokens. Everything else is rtdl_revisiting_models'
own parts (`LinearEmbeddings`, `CategoricalEmbeddings`, `FTTransformerBackbone`), assembled as
`rtdl_revisiting_models.FTTransformer.forward` does, so the Transformer is the paper's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from rtdl_revisiting_models import CategoricalEmbeddings, FTTransformerBackbone, LinearEmbeddings
from torch import Tensor, nn

from tunebench.families.tabular.models.configs import ATTENTION_N_HEADS, FTTransformerConfig

# Fixed parts of rtdl's default configuration (`FTTransformer.get_default_kwargs()`).
FFN_D_HIDDEN_MULTIPLIER = 4 / 3  # with ReGLU, about the parameters of 2.0 with ReLU
# The paper's optimiser for the default FT-Transformer (rtdl's `make_default_optimizer`).
DEFAULT_LR = 1e-4
DEFAULT_WEIGHT_DECAY = 1e-5


def check_feature_counts(
    n_num: int, cat_cardinalities: Sequence[int], text_dims: Sequence[int]
) -> None:
    """Raise ValueError for a negative numeric width or a model with no feature at all."""
    if n_num < 0:
        raise ValueError(f"n_num must be non-negative, got {n_num}")
    if n_num == 0 and not cat_cardinalities and not text_dims:
        raise ValueError("the model needs at least one numeric, categorical or text feature")


def check_inputs(
    x_num: Tensor,
    x_cat: Tensor,
    texts: Sequence[Tensor],
    n_num: int,
    n_cat: int,
    text_dims: list[int],
) -> None:
    """Raise ValueError unless the batch has the widths the model was built for."""
    if x_num.shape[-1] != n_num or x_cat.shape[-1] != n_cat:
        raise ValueError(
            f"expected {n_num} numeric and {n_cat} categorical columns, "
            f"got x_num {tuple(x_num.shape)} and x_cat {tuple(x_cat.shape)}"
        )
    widths = [text.shape[-1] for text in texts]
    if widths != text_dims:
        raise ValueError(f"expected text embeddings of widths {text_dims}, got {widths}")


class FTTransformerWithText(nn.Module):
    """[CLS] + numeric tokens + categorical tokens + one token per text column -> backbone.

    `forward(x_num, x_cat, texts)` takes x_num float (batch, n_num), x_cat int64 codes
    (batch, n_cat) (pass (batch, 0) tensors for an absent kind) and one (batch, d_text_i)
    tensor per text column; it returns (batch, d_out). Gradients reach the text tensors, so a
    language model that produced them trains jointly with this model.
    """

    def __init__(
        self,
        config: FTTransformerConfig,
        *,
        n_num: int,
        cat_cardinalities: Sequence[int],
        text_dims: Sequence[int],
        d_out: int,
    ) -> None:
        check_feature_counts(n_num, cat_cardinalities, text_dims)
        super().__init__()
        d_block = config.d_block
        self.n_num = n_num
        self.n_cat = len(cat_cardinalities)
        self.text_dims = list(text_dims)
        # The [CLS] token, initialised like rtdl's (private) _CLSEmbedding.
        self.cls_token = nn.Parameter(
            torch.empty(d_block).uniform_(-(d_block**-0.5), d_block**-0.5)
        )
        self.cont_embeddings = LinearEmbeddings(n_num, d_block) if n_num else None
        self.cat_embeddings = (
            CategoricalEmbeddings(list(cat_cardinalities), d_block, bias=True)
            if cat_cardinalities
            else None
        )
        self.text_projections = nn.ModuleList(nn.Linear(d, d_block) for d in self.text_dims)
        self.backbone = FTTransformerBackbone(
            d_out=d_out,
            n_blocks=config.n_blocks,
            d_block=d_block,
            attention_n_heads=ATTENTION_N_HEADS,
            attention_dropout=config.attention_dropout,
            ffn_d_hidden=None,
            ffn_d_hidden_multiplier=FFN_D_HIDDEN_MULTIPLIER,
            ffn_dropout=config.ffn_dropout,
            residual_dropout=config.residual_dropout,
        )

    @property
    def n_tokens(self) -> int:
        """Tokens per row fed to the backbone: [CLS] + numeric + categorical + text columns."""
        return 1 + self.n_num + self.n_cat + len(self.text_dims)

    def forward(self, x_num: Tensor, x_cat: Tensor, texts: Sequence[Tensor]) -> Tensor:
        check_inputs(x_num, x_cat, texts, self.n_num, self.n_cat, self.text_dims)
        tokens = [self.cls_token.expand(x_num.shape[0], 1, -1)]
        if self.cont_embeddings is not None:
            tokens.append(self.cont_embeddings(x_num))
        if self.cat_embeddings is not None:
            tokens.append(self.cat_embeddings(x_cat))
        for projection, text in zip(self.text_projections, texts, strict=True):
            # A language model may run in bf16/fp16; the projection casts to its own dtype.
            tokens.append(projection(text.to(projection.weight.dtype)).unsqueeze(1))
        return self.backbone(torch.cat(tokens, dim=1))


def make_parameter_groups(model: FTTransformerWithText) -> list[dict[str, Any]]:
    """rtdl's `FTTransformer.make_parameter_groups` for this model: two groups for AdamW.

    No weight decay on the feature tokenizer ([CLS], numeric and categorical embeddings and,
    as part of the tokenizer in the seed paper's Figure 2, the text projections), on the blocks'
    LayerNorms, or on any bias; the rest gets the optimiser's weight decay.
    """
    tokenizer = [model.cont_embeddings, model.cat_embeddings, model.text_projections]
    normalizations = (
        module
        for block in model.backbone.blocks
        for name, module in block.named_children()
        if name.endswith("_normalization")
    )
    no_decay = {
        id(p)
        for p in itertools.chain(
            [model.cls_token],
            *(m.parameters() for m in tokenizer if m is not None),
            *(m.parameters() for m in normalizations),
            (p for name, p in model.named_parameters() if name.endswith(".bias")),
        )
    }
    return [
        {"params": [p for p in model.parameters() if id(p) not in no_decay]},
        {"params": [p for p in model.parameters() if id(p) in no_decay], "weight_decay": 0.0},
    ]


def make_optimizer(
    model: FTTransformerWithText, lr: float = DEFAULT_LR, weight_decay: float = DEFAULT_WEIGHT_DECAY
) -> torch.optim.AdamW:
    """AdamW over `make_parameter_groups`, the paper's lr 1e-4 and weight decay 1e-5 by default.

    For joint (one-step) training add the language model's parameters with
    `optimizer.add_param_group({"params": ..., "lr": ...})`.
    """
    return torch.optim.AdamW(make_parameter_groups(model), lr=lr, weight_decay=weight_decay)
