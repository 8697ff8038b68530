"""Pydantic's validation errors as the one-line messages a user reads: `field.path: what is
wrong (got value)`, without the internal tags of discriminated unions (method, family and
executor names) in the path."""

from __future__ import annotations

from pydantic import ValidationError

from tunebench.families.registry import FAMILIES
from tunebench.methods import METHODS
from tunebench.study.executors import EXECUTORS


def describe(error: ValidationError) -> str:
    """Pydantic errors as 'field.path: message' lines, one per problem."""
    lines = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"] if part not in _UNION_TAGS)
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        message = message.removeprefix("Value error, ")
        given = problem.get("input")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        lines.append(f"{location}: {message}{shown}" if location else f"{message}{shown}")
    return "; ".join(lines)


_UNION_TAGS = (
    {"method"}
    | set(METHODS)
    | set(FAMILIES)
    | set(EXECUTORS)
    | {tag for family in FAMILIES.values() for tag in family.union_tags}
)
