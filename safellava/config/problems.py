"""Configuration problems: one message form for every bad setting, collected so all are reported at once.

The form is `<where it came from>: `<key>` = <value>: <what is allowed>`, e.g.

    command-line override training.learning_rate=abc: `training.learning_rate` = 'abc': a number > 0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from safellava.errors import UserError


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


#: The value of a required key that is absent.
MISSING: Any = _Missing()

_SHOWN_CHARS = 120


@dataclass(frozen=True)
class ConfigProblem:
    origin: str  # the file, or the command-line override, the value came from
    key: str  # dotted, e.g. `training.learning_rate` or `data.files[0]`
    value: Any
    allowed: str  # what would be accepted, and how to fix it when that is not obvious

    def describe(self) -> str:
        shown = repr(self.value)
        if len(shown) > _SHOWN_CHARS:
            shown = shown[: _SHOWN_CHARS - 3] + "..."
        return f"{self.origin}: `{self.key}` = {shown}: {self.allowed}"


class ConfigError(UserError, ValueError):
    """One or more configuration problems; the message lists each on its own line."""

    def __init__(self, problems: ConfigProblem | Iterable[ConfigProblem]):
        self.problems = [problems] if isinstance(problems, ConfigProblem) else list(problems)
        super().__init__(_message(self.problems))


def _message(problems: list[ConfigProblem]) -> str:
    if len(problems) == 1:
        return problems[0].describe()
    lines = "\n".join(f"  - {problem.describe()}" for problem in problems)
    return f"{len(problems)} configuration problems:\n{lines}"


class Problems:
    """Collects problems while a configuration is read, so that a user sees all of them in one go."""

    def __init__(self) -> None:
        self.items: list[ConfigProblem] = []

    def add(self, origin: str, key: str, value: Any, allowed: str) -> None:
        self.items.append(ConfigProblem(origin, key, value, allowed))

    def extend(self, problems: Iterable[ConfigProblem]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self, error_type: type[ConfigError] = ConfigError) -> None:
        if self.items:
            raise error_type(self.items)


@dataclass(frozen=True)
class Origins:
    """Where each key's value came from: one file (or text), with some keys set elsewhere.

    `by_key` maps a dotted key to the origin of everything under it, e.g.
    `{"training.learning_rate": "command-line override training.learning_rate=abc"}`; the longest key that
    is the asked key or one of its parents wins.
    """

    default: str
    by_key: Mapping[str, str] = field(default_factory=dict)

    def of(self, key: str) -> str:
        best = ""
        for candidate in self.by_key:
            inside = key == candidate or key.startswith((candidate + ".", candidate + "["))
            if inside and len(candidate) > len(best):
                best = candidate
        return self.by_key[best] if best else self.default
