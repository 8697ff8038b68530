"""The downstream-model registry: the models that read a table's features and text embeddings.

`ft_transformer` and `mlp` are torch modules, built by name with the same arguments and trained
with the text-producing language model or on its frozen embeddings; `gbdt` is LightGBM, fitted by
`fit_gbdt` on numpy or scipy arrays. A new model is one file here, its config in configs.py and a
line below. Building imports the model's module only then, so the registry stays light.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Union

from pydantic import BaseModel, Field

from tunebench.families.tabular.models.configs import FTTransformerConfig, GBDTConfig, MLPConfig


@dataclass(frozen=True)
class DownstreamModel:
    name: str
    config: type[BaseModel]
    description: str
    module_class: str | None
    """`module:Class` of the torch module built as `Class(config, n_num=, cat_cardinalities=,
    text_dims=, d_out=)`; None for trees, which `models.gbdt.fit_gbdt` fits directly."""

    def build(self, config: BaseModel, **sizes):
        module, _, name = self.module_class.partition(":")
        model_class = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        return model_class(config, **sizes)


DOWNSTREAM_MODELS: dict[str, DownstreamModel] = {
    model.name: model
    for model in (
        DownstreamModel(
            "ft_transformer",
            FTTransformerConfig,
            "FT-Transformer; one token per feature and per text column",
            "ft_transformer:FTTransformerWithText",
        ),
        DownstreamModel(
            "mlp",
            MLPConfig,
            "MLP on numeric | one-hot categorical | text embeddings",
            "mlp:MLPWithText",
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
