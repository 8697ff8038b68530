"""The downstream models' settings: what a study may say about each, importable without torch
(the study schema validates them before anything loads)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator

ATTENTION_N_HEADS = 8
"""rtdl's default FT-Transformer attention heads (`FTTransformer.get_default_kwargs()`)."""


class FTTransformerConfig(BaseModel):
    """The tunable hyperparameters; defaults are rtdl's default FT-Transformer (3 blocks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Literal["ft_transformer"] = "ft_transformer"
    n_blocks: PositiveInt = 3
    d_block: PositiveInt = 192
    """Token width; a multiple of the 8 attention heads."""
    attention_dropout: float = Field(0.2, ge=0, lt=1)
    ffn_dropout: float = Field(0.1, ge=0, lt=1)
    residual_dropout: float = Field(0.0, ge=0, lt=1)
    text_projection: Literal["linear"] = "linear"
    """How a text embedding becomes a token: one linear layer per text column (the paper's)."""

    @field_validator("d_block")
    @classmethod
    def _divisible_by_heads(cls, d_block: int) -> int:
        if d_block % ATTENTION_N_HEADS:
            raise ValueError(f"d_block must be a multiple of {ATTENTION_N_HEADS}, got {d_block}")
        return d_block


class MLPConfig(BaseModel):
    """Defaults are the MLP in rtdl_revisiting_models' README (rtdl ships no default config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Literal["mlp"] = "mlp"
    n_blocks: PositiveInt = 2
    d_block: PositiveInt = 384
    dropout: float = Field(0.1, ge=0, lt=1)


class GBDTConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Literal["gbdt"] = "gbdt"
    n_estimators: PositiveInt = 2000
    """Upper bound on boosting rounds; early stopping picks the number actually used."""
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(31, ge=2)
    early_stopping_rounds: PositiveInt = 50
    seed: int = 0
    num_threads: NonNegativeInt = 0
    """0 = LightGBM's default (all cores); results are bit-identical for the same value only."""
