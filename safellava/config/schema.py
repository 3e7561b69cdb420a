"""Mapping → dataclass, checked against the dataclass's own annotations: the one way settings are read.

A settings dataclass declares each key once, with its type annotation and, through `setting(...)`, the
values it accepts (`choices`, a `Range`). `from_mapping(cls, data, ...)` then names every unknown key (with
a close match when there is one), every value of the wrong type and every value out of range, adds them to
`Problems`, and builds the dataclass from the good values (defaults stand in for the bad ones, so one pass
finds every problem). Nested dataclasses are read the same way, with dotted keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from safellava.config.problems import MISSING, Origins, Problems

T = TypeVar("T")

# `setting(...)` metadata keys
_CHOICES, _RANGE, _NON_EMPTY, _SHORTHAND, _NOT_A_SETTING = "choices", "range", "non_empty", "shorthand", "not_a_setting"


@dataclass(frozen=True)
class Range:
    """Numbers a setting accepts: `at_least` (inclusive), `above` (exclusive), `at_most` (inclusive)."""

    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None
    note: str = ""  # what a boundary value means, e.g. "0 = a dry run"

    def holds(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return (
            (self.at_least is None or value >= self.at_least)
            and (self.above is None or value > self.above)
            and (self.at_most is None or value <= self.at_most)
        )

    def describe(self) -> str:
        bounds = [f">= {_number(self.at_least)}" if self.at_least is not None else "",
                  f"> {_number(self.above)}" if self.above is not None else "",
                  f"<= {_number(self.at_most)}" if self.at_most is not None else ""]
        text = " and ".join(bound for bound in bounds if bound)
        return f"{text} ({self.note})" if self.note else text


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def setting(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    choices: tuple | None = None,
    range: Range | None = None,  # noqa: A002 — reads naturally at the call site
    non_empty: bool = False,
    shorthand: bool = False,
) -> Any:
    """A dataclass field with what it accepts. `shorthand`: a bare value (e.g. a path string) in place of
    the whole mapping sets this field."""
    metadata = {_CHOICES: choices, _RANGE: range, _NON_EMPTY: non_empty, _SHORTHAND: shorthand}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def not_a_setting(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING) -> Any:
    """A field that is filled in by code, never read from a file (e.g. where the settings came from)."""
    return dataclasses.field(
        default=default, default_factory=default_factory, repr=False, compare=False, metadata={_NOT_A_SETTING: True}
    )


def settings_of(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get(_NOT_A_SETTING)}


# ------------------------------------------------------------------------------------------------ types


class _Mismatch(Exception):
    pass


def describe_type(annotation: Any) -> str:
    """An annotation in words: `int | None` → "null or an integer"."""
    if annotation is Any or annotation is object:
        return "any value"
    if annotation is type(None):
        return "null"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        enum_type = _enum_member(args)
        members = [a for a in args if a is not str] if enum_type is not None else list(args)
        return " or ".join(describe_type(member) for member in members)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if origin in (list, tuple) or annotation in (list, tuple):
        item = args[0] if args else Any
        return f"a list of ({describe_type(item)})" if args else "a list"
    if origin is dict or annotation is dict:
        return "a mapping"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(repr(member.value) for member in annotation)
    if dataclasses.is_dataclass(annotation):
        return "a mapping with keys " + ", ".join(settings_of(annotation))
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _enum_member(args: tuple) -> type | None:
    """`SchedulerType | str` (transformers' style) accepts only the enum's values: the enum, or None."""
    enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
    return enums[0] if enums and str in args else None


def _conform(value: Any, annotation: Any) -> Any:
    """`value` if it has the annotated type (plain values only; dataclasses are handled by the caller)."""
    if annotation is Any or annotation is object:
        return value
    if annotation is type(None):
        if value is None:
            return None
        raise _Mismatch
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        enum_type = _enum_member(args)
        members = [a for a in args if a is not str] if enum_type is not None else args
        for member in sorted(members, key=lambda m: m is not type(None)):
            try:
                return _conform(value, member)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is typing.Literal:
        if value in args:
            return value
        raise _Mismatch
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        return [_conform(item, args[0]) for item in value] if args else list(value)
    if origin is dict or annotation is dict:
        if isinstance(value, Mapping):
            return dict(value)
        raise _Mismatch
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if isinstance(value, annotation) or value in {member.value for member in annotation}:
            return value
        raise _Mismatch
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise _Mismatch
    return value  # an annotation this checker does not understand: let the consumer judge


def check_value(
    value: Any,
    annotation: Any,
    *,
    key: str,
    origin: str,
    problems: Problems,
    choices: tuple | None = None,
    range: Range | None = None,  # noqa: A002
    non_empty: bool = False,
) -> tuple[bool, Any]:
    """(ok, value): the value checked for type, choices, range and emptiness; a problem is added if not ok."""
    try:
        value = _conform(value, annotation)
    except _Mismatch:
        problems.add(origin, key, value, f"expected {describe_type(annotation)}")
        return False, value
    if choices is not None and value is not None and value not in choices:
        problems.add(origin, key, value, f"expected one of {', '.join(map(str, choices))}{close_match(value, choices)}")
        return False, value
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if range is not None and numeric and not range.holds(value):
        noun = "an integer" if _integers_only(annotation) else "a number"
        problems.add(origin, key, value, f"expected {noun} {range.describe()}")
        return False, value
    if non_empty and not value:
        problems.add(origin, key, value, f"required: {describe_type(annotation)}, not empty")
        return False, value
    return True, value


def _integers_only(annotation: Any) -> bool:
    members = typing.get_args(annotation) or (annotation,)
    return int in members and float not in members


def close_match(word: Any, candidates) -> str:
    """The text ` (did you mean 'x'?)` for a near miss among `candidates`, else an empty string."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ------------------------------------------------------------------------------------------------ mappings


def from_mapping(cls: type[T], data: Any, *, origins: Origins, problems: Problems, prefix: str = "") -> T | None:
    """`cls` built from `data` (a mapping read from YAML); every problem is added to `problems`.

    `prefix` is the dotted path of this section (`"data."`). Returns None only when a required key is
    missing or the section is not a mapping at all (the problems say so).
    """
    fields = settings_of(cls)
    section = prefix.rstrip(".")
    if data is None:
        data = {}
    shorthand = [name for name, f in fields.items() if f.metadata.get(_SHORTHAND)]
    if not isinstance(data, Mapping) and shorthand:
        data = {shorthand[0]: data}
    if not isinstance(data, Mapping):
        problems.add(origins.of(section), section or "(top level)", data, f"expected {describe_type(cls)}")
        return None
    add_unknown_keys(data, list(fields), prefix=prefix, origins=origins, problems=problems)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    complete = True
    for name, spec in fields.items():
        full = prefix + name
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                problems.add(origins.of(full), full, MISSING, f"required: {describe_type(hints[name])}")
                complete = False
            continue
        ok, value = _read_field(data[name], hints[name], spec, full, origins, problems)
        if ok:
            values[name] = value
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            complete = False
    return cls(**values) if complete else None


def add_unknown_keys(data: Mapping, known: list[str], *, prefix: str, origins: Origins, problems: Problems) -> None:
    """A problem for each key of `data` that is not in `known`, the same way for every section."""
    for key in data:
        if key not in known:
            full = prefix + str(key)
            allowed = f"not a known key here{close_match(key, known)}; known keys: {', '.join(known)}"
            problems.add(origins.of(full), full, data[key], allowed)


def _read_field(value: Any, annotation: Any, spec: dataclasses.Field, key: str, origins: Origins, problems: Problems):
    nested = _dataclass_in(annotation)
    if nested is not None and value is not None:
        built = from_mapping(nested, value, origins=origins, problems=problems, prefix=key + ".")
        return built is not None, built
    item = _list_item_dataclass(annotation)
    if item is not None:
        return _read_list(value, item, key, origins, problems, non_empty=spec.metadata.get(_NON_EMPTY, False))
    if _is_list(annotation) and value is not None and not isinstance(value, (list, tuple)):
        value = [value]  # one path where a list of paths is expected
    return check_value(
        value, annotation, key=key, origin=origins.of(key), problems=problems,
        choices=spec.metadata.get(_CHOICES), range=spec.metadata.get(_RANGE),
        non_empty=spec.metadata.get(_NON_EMPTY, False),
    )


def _read_list(value, item: type, key: str, origins: Origins, problems: Problems, *, non_empty: bool):
    if value is None:
        value = []
    if not isinstance(value, (list, tuple)):
        value = [value]
    if non_empty and not value:
        problems.add(origins.of(key), key, value, f"required: a list of ({describe_type(item)}), not empty")
        return False, value
    before = len(problems)
    built = [
        from_mapping(item, entry, origins=origins, problems=problems, prefix=f"{key}[{i}].")
        for i, entry in enumerate(value)
    ]
    return len(problems) == before, built


def _dataclass_in(annotation: Any) -> type | None:
    """The dataclass of `X` or `X | None`, else None."""
    if dataclasses.is_dataclass(annotation):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1 and dataclasses.is_dataclass(members[0]):
            return members[0]
    return None


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list or annotation is list


def _list_item_dataclass(annotation: Any) -> type | None:
    if _is_list(annotation):
        args = typing.get_args(annotation)
        if args and dataclasses.is_dataclass(args[0]):
            return args[0]
    return None
