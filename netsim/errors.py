"""Errors a user can fix by editing their input; the CLI prints them as one line, exit 2."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError


class ScenarioError(Exception):
    """A scenario (or a file it points to) is invalid.

    ``str(error)`` is one line: ``FILE: KEY: PROBLEM``.
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)


_TYPE_TAGS = {"int", "float", "str", "bool", "list", "dict", "tuple"}


def _format_location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif ("-" in str(item) or "[" in str(item) or item in _TYPE_TAGS
              or str(item)[:1].isupper()):
            continue  # pydantic's union-member (a model's class name) and validator tags,
            # not keys a user wrote (every scenario key is lower case)
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


_UNION_TAGS = {"power_law", "3gpp_macro", "rayleigh", "rician", "nakagami", "none"}
"""The tags of the scenario's discriminated unions (path loss, fading law): pydantic puts
them in an error's location, where the user wrote no such key."""
_KEY_FIRST = re.compile(r"([a-z_][a-z0-9_.]*(?:\[\d+\])*(?:\.[a-z_][a-z0-9_]*)*): (.+)")
"""A message that starts with the key it is about (``eavesdroppers.positions_m[0]: ...``)."""


def validation_error(source: str, error: ValidationError, prefix: str = "") -> ScenarioError:
    """The ScenarioError for the most specific error of a pydantic ValidationError;
    ``prefix`` is the key of the part that was validated (e.g. ``schedulers[2]``)."""
    # The most specific error: for a union (a number or a list of numbers) pydantic
    # reports every branch; the one that reached deepest matches what the user wrote.
    first = max(error.errors(), key=lambda e: len(e["loc"]))
    loc = tuple(x for x in first["loc"] if x not in _UNION_TAGS)
    key = _format_location(loc)
    if prefix:
        key = prefix + ("" if key.startswith("[") or key == "(top level)" else ".") + key
        key = key.replace(".(top level)", "")
    message = first["msg"].removeprefix("Value error, ")
    named = _KEY_FIRST.match(message)
    if key == "(top level)" and not prefix and named:  # a check across keys names its key
        key, message = named.group(1), named.group(2)
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    elif "input" in first and first["type"] not in {"value_error", "assertion_error"}:
        message += f" (got {first['input']!r})"
    return ScenarioError(source, key, message)
