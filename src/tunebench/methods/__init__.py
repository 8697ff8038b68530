"""The method registry: one module per method, each exporting `METHOD`.

A new method is one file here with a config class and an `apply`, plus a line below.
"""

from typing import Annotated, Union

from pydantic import Field

from tunebench.methods import adapter, bitfit, frozen, full, ia3, last_n, lora, prefix, prompt
from tunebench.methods.base import Method, MethodConfig

METHODS: dict[str, Method] = {
    module.METHOD.name: module.METHOD
    for module in (frozen, full, last_n, bitfit, lora, ia3, prompt, prefix, adapter)
}

AnyMethodConfig = Annotated[
    Union[tuple(method.config for method in METHODS.values())],  # noqa: UP007
    Field(discriminator="name"),
]

__all__ = ["METHODS", "AnyMethodConfig", "Method", "MethodConfig"]
