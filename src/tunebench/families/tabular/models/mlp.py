"""MLP with text: the seed study's simpler downstream model, rtdl_revisiting_models' `MLP`.

Its input is one flat vector per row: the numeric features, each categorical feature one-hot
encoded, and every text column's embedding as it comes from the language model. One-hot follows
rtdl's own usage example for MLP-like models; it adds no hyperparameter, and the codes 0
(missing) and 1 (unseen in training) simply get their own columns. The width is therefore
n_num + sum(cardinalities) + sum(d_text); with very high-cardinality columns, prefer the
FT-Transformer, whose categorical embeddings do not grow with the input width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from rtdl_revisiting_models import MLP
from torch import Tensor, nn

from tunebench.families.tabular.models.configs import MLPConfig
from tunebench.families.tabular.models.ft_transformer import check_feature_counts, check_inputs


class MLPWithText(nn.Module):
    """[x_num | one_hot(x_cat) | text_1 | ... | text_k] -> rtdl MLP -> (batch, d_out).

    Same inputs as `FTTransformerWithText.forward`; gradients reach the text tensors.
    """

    def __init__(
        self,
        config: MLPConfig,
        *,
        n_num: int,
        cat_cardinalities: Sequence[int],
        text_dims: Sequence[int],
        d_out: int,
    ) -> None:
        check_feature_counts(n_num, cat_cardinalities, text_dims)
        super().__init__()
        self.n_num = n_num
        self.cat_cardinalities = list(cat_cardinalities)
        self.text_dims = list(text_dims)
        self.d_in = n_num + sum(self.cat_cardinalities) + sum(self.text_dims)
        self.mlp = MLP(
            d_in=self.d_in,
            d_out=d_out,
            n_blocks=config.n_blocks,
            d_block=config.d_block,
            dropout=config.dropout,
        )

    def forward(self, x_num: Tensor, x_cat: Tensor, texts: Sequence[Tensor]) -> Tensor:
        check_inputs(x_num, x_cat, texts, self.n_num, len(self.cat_cardinalities), self.text_dims)
        dtype = self.mlp.blocks[0].linear.weight.dtype
        one_hots = [
            F.one_hot(column, cardinality)
            for column, cardinality in zip(x_cat.T, self.cat_cardinalities, strict=True)
        ]
        parts = [x_num, *one_hots, *texts]
        return self.mlp(torch.cat([part.to(dtype) for part in parts], dim=1))
