"""The keys a profile table accepts and their types, read from the settings dataclasses.

A field added to ``LoraSettings``, ``QuantSettings`` or ``RagSettings`` is accepted in
``pyproject.toml`` / ``llmbench.toml`` with no second list to update. TOML values are checked
against the field's annotation and converted (lists to tuples, integers to floats where a float
is expected, so ``lr = 1`` and ``lr = 1.0`` resolve to the same settings and the same config
hash). TOML has no null: an optional field (``int | None``) takes the string ``"none"``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

from llmbench.profiles.builtin import (
    ALL_PRECISIONS,
    ALL_RETRIEVERS,
    LoraSettings,
    QuantSettings,
    RagSettings,
)

SETTINGS: dict[str, type] = {"lora": LoraSettings, "quant": QuantSettings, "rag": RagSettings}
SUITE_TITLES = {"lora": "LoRA", "quant": "quantization", "rag": "RAG"}
NONE_VALUE = "none"


class SettingTypeError(TypeError):
    """A value does not fit the field's type; the message says what was expected."""


@functools.cache
def fields_of(suite: str) -> dict[str, Any]:
    """Field name -> resolved type annotation, in declaration order."""
    cls = SETTINGS[suite]
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def required_keys(suite: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(SETTINGS[suite])
                 if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)


def describe(hint: Any) -> str:
    """The expected TOML value in words: 'a list of integers', 'an integer or "none"'."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return " or ".join(describe(a) for a in inner) + f' or "{NONE_VALUE}"'
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} {_plural(args[0])}"
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a string"}.get(hint, str(hint))


def _plural(hint: Any) -> str:
    return {bool: "booleans", int: "integers", float: "numbers", str: "strings"}.get(
        hint, str(hint))


def coerce(value: Any, hint: Any) -> Any:
    """``value`` (as TOML parsed it) converted to ``hint``; SettingTypeError when it does not fit."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and value == NONE_VALUE:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(value, option)
            except SettingTypeError:
                continue
        raise SettingTypeError(describe(hint))
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SettingTypeError(describe(hint))
        item_types = [args[0]] * len(value) if args[1:] == (Ellipsis,) else list(args)
        if len(item_types) != len(value):
            raise SettingTypeError(describe(hint))
        try:
            return tuple(coerce(v, t) for v, t in zip(value, item_types))
        except SettingTypeError:
            raise SettingTypeError(describe(hint)) from None
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    else:  # a field type this module does not know yet: say so instead of guessing
        raise SettingTypeError(f"a value of type {hint} (not settable from TOML yet)")
    raise SettingTypeError(describe(hint))


def canonical_axes(suite: str, values: dict[str, Any]) -> dict[str, Any]:
    """The matrix axes without duplicates and in a fixed order (precisions: fp32 first, as the
    reference of the others; ranks ascending; retrievers in the built-in order; generators as
    given). Two spellings of one matrix give the same parametrization and test ids."""
    out = dict(values)
    if suite == "lora" and "ranks" in out:
        out["ranks"] = tuple(sorted(set(out["ranks"])))
    if suite == "quant" and "precisions" in out:
        out["precisions"] = _in_order(out["precisions"], ALL_PRECISIONS)
    if suite == "rag":
        if "retrievers" in out:
            out["retrievers"] = _in_order(out["retrievers"], ALL_RETRIEVERS)
        if "generators" in out:
            out["generators"] = tuple(dict.fromkeys(out["generators"]))
    return out


def _in_order(values: tuple[str, ...], order: tuple[str, ...]) -> tuple[str, ...]:
    """Known names in ``order``, unknown ones after them (the settings' check names them)."""
    unique = tuple(dict.fromkeys(values))
    return tuple(v for v in order if v in unique) + tuple(v for v in unique if v not in order)
