"""A PEFT tuner as a tunebench method: a typed config whose fields are the tuner's settings
(under tunebench's names: `alpha`, `dropout`, `layers`), mapped onto PEFT's config class for
the tuner's type when a run applies it. Most PEFT methods are one `tuner(...)` call on a
config class; see lora.py, vera.py, loha.py.

PEFT refusing the settings on a backbone (a block size that does not divide a layer's width)
is a `UserError`, so the run fails as `unsupported` with PEFT's reason, before it trains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import NonNegativeInt

from tunebench.errors import UserError
from tunebench.methods.base import Method, MethodConfig, register
from tunebench.models.blocks import transformer_layers
from tunebench.models.shape import unmatched_modules

if TYPE_CHECKING:
    from torch import nn

    from tunebench.methods.target import Target
    from tunebench.models.shape import Shape

PEFT_NAMES = {"layers": "layers_to_transform"}
"""tunebench's names of settings that every layered tuner shares, and PEFT's."""


class ModulesConfig(MethodConfig):
    """Settings of a tuner that PEFT applies to named modules of every block."""

    target_modules: list[str] | None = None
    """Module names to adapt; None = PEFT's default for the architecture (query/value,
    q_proj/v_proj)."""


class TunerConfig(ModulesConfig):
    """Settings of a tuner that PEFT can also restrict to some blocks."""

    layers: list[NonNegativeInt] | None = None
    """Block indices to adapt; None = every block."""


def misfit(config: ModulesConfig, shape: Shape) -> str | None:
    """Module names the backbone lacks and blocks it does not have, with the names it has."""
    misnamed = unmatched_modules(config, ("target_modules",), shape)
    if misnamed:
        return misnamed
    outside = [i for i in getattr(config, "layers", None) or [] if i >= shape.blocks]
    if outside:
        return f"layers {outside}: the backbone has blocks 0-{shape.blocks - 1}"
    return None


def blocks_name(backbone: nn.Module) -> str | None:
    """The name of the backbone's list of blocks (`layer`, `layers`, `h`), or None if not
    found: PEFT finds a block's index by it, also in a language model that is not the
    model's outermost module (an image-text model's), where PEFT's own search needs a dot
    before the name."""
    try:
        blocks = transformer_layers(backbone)
    except ValueError:
        return None  # PEFT's own search
    return next(n for n, m in backbone.named_modules() if m is blocks).rsplit(".", 1)[-1]


Resolve = Callable[["Target", dict[str, Any]], dict[str, Any]]
"""(the target, PEFT's settings as configured) -> the settings to build PEFT's config with
(defaults that depend on the backbone, such as its layer norms' names)."""


def peft_settings(config: MethodConfig, renamed: dict[str, str]) -> dict[str, Any]:
    """The config's fields under PEFT's names (`name` is tunebench's alone)."""
    names = {**PEFT_NAMES, **renamed}
    return {names.get(k, k): v for k, v in config.model_dump(exclude={"name"}).items()}


def peft_config_class(peft_type: str) -> type:
    """PEFT's config class for a type name (any case)."""
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    by_name = {str(key.value): value for key, value in PEFT_TYPE_TO_CONFIG_MAPPING.items()}
    found = by_name.get(peft_type.upper())
    if found is None:
        raise ValueError(f"type {peft_type!r} is no PEFT type; PEFT has {', '.join(by_name)}")
    return found


def peft_model(target: Target, peft_type: str, settings: dict[str, Any], what: str):
    """`target`'s model wrapped by PEFT's `peft_type` with `settings`; PEFT refusing them on
    this model is a `UserError` naming `what` (so the run fails as `unsupported`)."""
    from peft import get_peft_model

    pattern = blocks_name(target.backbone) if settings.get("layers_to_transform") else None
    if pattern and not settings.get("layers_pattern"):
        settings = {**settings, "layers_pattern": pattern}
    try:
        peft_config = peft_config_class(peft_type)(task_type=target.peft_task, **settings)
        return get_peft_model(target.model, peft_config)
    except (TypeError, ValueError, NotImplementedError, KeyError, AttributeError) as error:
        # AttributeError: a tuner that cannot find the parts it needs (SHADOW's backbone)
        raise UserError(f"{what} on this model: {error}") from error


def tuner(
    name: str,
    config: type[MethodConfig],
    peft_type: str,
    default_lr: float,
    description: str,
    renamed: dict[str, str] | None = None,
    fixed: dict[str, Any] | None = None,
    resolve: Resolve | None = None,
    **capabilities: Any,
) -> Method:
    """Register the method `name` that applies PEFT's `peft_type` with `config`'s fields
    (`renamed` maps a field to PEFT's name for it), plus the `fixed` PEFT settings that make
    a variant (`use_dora=True`). `capabilities` are `Method`'s (mergeable, kinds, ...)."""

    def apply(target: Target, settings: MethodConfig):
        chosen = {**peft_settings(settings, renamed or {}), **(fixed or {})}
        if resolve is not None:
            chosen = resolve(target, chosen)
        return peft_model(target, peft_type, chosen, f"method {name}")

    if issubclass(config, ModulesConfig):
        capabilities.setdefault("misfit", misfit)
    return register(Method(name, config, default_lr, description, apply, **capabilities))
