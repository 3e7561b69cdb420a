"""The typed configuration layer: one YAML dialect, one mapping → dataclass helper, one error form.

Every file a user writes (run configs, model recipes) is read with `load_yaml`; every section is turned into
its dataclass by `from_mapping`, which names unknown keys, wrong types and out-of-range values the same way
everywhere and collects them all in `Problems` instead of stopping at the first. A `ConfigError` carries
every `ConfigProblem`, each naming where the value came from (a file or a command-line override), the key,
the value and what is allowed.

Standard library and PyYAML only: reading a recipe never imports torch.
"""

from safellava.config.problems import MISSING, ConfigError, ConfigProblem, Origins, Problems
from safellava.config.schema import Range, add_unknown_keys, check_value, close_match, describe_type, from_mapping
from safellava.config.schema import not_a_setting, setting, settings_of
from safellava.config.yaml_dialect import load_yaml, read_yaml_file

__all__ = [
    "MISSING",
    "ConfigError",
    "ConfigProblem",
    "Origins",
    "Problems",
    "Range",
    "add_unknown_keys",
    "check_value",
    "close_match",
    "describe_type",
    "from_mapping",
    "load_yaml",
    "not_a_setting",
    "read_yaml_file",
    "setting",
    "settings_of",
]
