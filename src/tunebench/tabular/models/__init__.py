"""The downstream-model registry: the models that read a table's features and text embeddings.

`ft_transformer` and `mlp` are torch modules, built by name with the same arguments and trained
with the text-producing language model or on its frozen embeddings; `gbdt` is LightGBM, fitted by
`fit_gbdt` on numpy or scipy arrays. A new model is one file here with a config and a line below.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Union

from pydantic import BaseModel, Field
from torch import nn

from tunebench.tabular.models.ft_transformer import FTTransformerConfig, FTTransformerWithText
from tunebench.tabular.models.gbdt import GBDTConfig
from tunebench.tabular.models.mlp import MLPConfig, MLPWithText


@dataclass(frozen=True)
class DownstreamModel:
    name: str
    config: type[BaseModel]
    description: str
    build: Callable[..., nn.Module] | None
    """`build(config, n_num=, cat_cardinalities=, text_dims=, d_out=)` -> torch module;
    None for trees, which `tunebench.tabular.models.gbdt.fit_gbdt` fits directly."""


DOWNSTREAM_MODELS: dict[str, DownstreamModel] = {
    model.name: model
    for model in (
        DownstreamModel(
            "ft_transformer",
            FTTransformerConfig,
            "FT-Transformer; one token per feature and per text column",
            FTTransformerWithText,
        ),
        DownstreamModel(
            "mlp", MLPConfig, "MLP on numeric | one-hot categorical | text embeddings", MLPWithText
        ),
        DownstreamModel("gbdt", GBDTConfig, "LightGBM gradient-boosted trees", None),
    )
}

AnyDownstreamConfig = Annotated[
    Union[tuple(model.config for model in DOWNSTREAM_MODELS.values())],  # noqa: UP007
    Field(discriminator="name"),
]

__all__ = [
    "DOWNSTREAM_MODELS",
    "AnyDownstreamConfig",
    "DownstreamModel",
    "FTTransformerConfig",
    "GBDTConfig",
    "MLPConfig",
]
