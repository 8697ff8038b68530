"""A method as a study lists it: its config, plus training overrides for its runs alone, and
settings of a family's own (`connector`: whether a visual_qa run also trains the connector)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tunebench.methods import AnyMethodConfig


class MethodEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    method: AnyMethodConfig
    training: dict[str, Any] = Field(default_factory=dict)
    connector: Literal["frozen", "trainable"] | None = None
    """visual_qa only: train the image-text model's connector with the method (default
    frozen)."""


def method_entries(methods: Any) -> Any:
    """`lora` or `{name: lora, r: 16, training: {...}}` -> MethodEntry input."""
    entries = []
    for entry in methods or []:
        if isinstance(entry, str):
            entry = {"name": entry}
        if isinstance(entry, dict) and "method" not in entry:
            entry = dict(entry)
            training = entry.pop("training", {})
            connector = entry.pop("connector", None)
            entry = {"method": entry, "training": training, "connector": connector}
        entries.append(entry)
    return entries
