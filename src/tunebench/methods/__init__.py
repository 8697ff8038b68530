"""The method registry. Every module in this package registers its method on import (see
`base.register`), so a new method is one file here and nothing else; this module imports them
all and builds the union of their configs that study files are validated against."""

import importlib
import pkgutil
from typing import Annotated, Union

from pydantic import Field

from tunebench.methods.base import REGISTERED, Method, MethodConfig

_NOT_METHODS = {"base", "target", "entry", "tuner"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _NOT_METHODS:
        importlib.import_module(f"{__name__}.{_module.name}")

METHODS: dict[str, Method] = dict(REGISTERED)

AnyMethodConfig = Annotated[
    Union[tuple(method.config for method in METHODS.values())],  # noqa: UP007
    Field(discriminator="name"),
]

__all__ = ["METHODS", "AnyMethodConfig", "Method", "MethodConfig"]
