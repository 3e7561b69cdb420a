"""The one YAML dialect of every file a user writes (run configs, model recipes, `key=value` overrides).

YAML as people write configuration today (the YAML 1.2 reading): `1e-3` is a float (PyYAML's YAML 1.1
resolver reads it as the string "1e-3" and wants `1.0e-3`), and only true/false are booleans, so that
`save_strategy: no` stays the string "no" instead of becoming False.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from safellava.config.problems import ConfigError, ConfigProblem


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def load_yaml(text: str, *, origin: str, key: str = "(the whole file)") -> Any:
    """Parse YAML text in the project's dialect; a syntax error is a `ConfigError` naming `origin`."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(ConfigProblem(origin, key, text, f"valid YAML{where}: {problem}")) from None


def read_yaml_file(path: str | Path) -> Any:
    """A YAML file in the project's dialect (UTF-8)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(ConfigProblem(str(path), "(the whole file)", f"byte {error.start}", "UTF-8 text")) from None
    return load_yaml(text, origin=str(path))
