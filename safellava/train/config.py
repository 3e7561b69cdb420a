"""Run configuration: one YAML file (`configs/recipes/*.yaml`) plus `key=value` overrides.

```yaml
model: tiny                      # model recipe: name, YAML path, or an inline mapping
init_from: runs/x/pretrain       # stage 2: a stage-1 output folder, or a projector file
data:
  files: [data/finetune.json]    # or [{path: a.json, weight: 2.0}, ...]
  image_folder: data/images
training:                        # any transformers.TrainingArguments field, plus projector_lr
  output_dir: runs/x/finetune
  num_train_epochs: 1
resume_from_checkpoint: auto     # auto | <checkpoint folder> | null
```

Unknown keys anywhere are errors that name the key; every value that a run used is saved, resolved, with
each checkpoint and with the final output (`safellava_run.yaml`).
"""

from __future__ import annotations

import copy
import re
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from safellava.errors import UserError

RECIPES_DIR = Path(__file__).resolve().parents[2] / "configs" / "recipes"


class _Loader(yaml.SafeLoader):
    """YAML as people write run configs (YAML 1.2 style): `1e-3` is a float (YAML 1.1 wants `1.0e-3`), and
    only true/false are booleans — `save_strategy: no` must stay the string "no", not become False."""


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


def _yaml_load(text):
    return yaml.load(text, Loader=_Loader)
STAGES = ("pretrain", "finetune")


class ConfigError(UserError, ValueError):
    """A run configuration is malformed; the message names the file and key."""


@dataclass
class DataFile:
    path: str
    weight: float = 1.0


@dataclass
class DataConfig:
    files: list[DataFile] = field(default_factory=list)
    image_folder: str | None = None
    template: str | None = None  # default: `plain` for pretrain, the model recipe's for finetune
    model_max_length: int = 2048  # counts the expanded image tokens
    image_aspect: str | None = None  # pad | resize; default: the model recipe's (pretrain: resize)
    validation: str = "skip"  # skip (count and report) | strict (fail at the first problem)
    # Generate the synthetic world into this folder first if it is missing (the demo's data).
    synth: dict[str, Any] | None = None


@dataclass
class RunConfig:
    model: Any = "tiny"
    init_from: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    training: dict[str, Any] = field(default_factory=dict)
    resume_from_checkpoint: str | None = None
    seed: int = 42
    # The PRISM epoch hook (safellava.prism.hook.PrismHookConfig); null disables it.
    prism: dict[str, Any] | None = None
    source: str = "<defaults>"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("source")
        return data


_TOP_LEVEL = {f.name for f in dataclasses.fields(RunConfig)} - {"source"}
_DATA_KEYS = {f.name for f in dataclasses.fields(DataConfig)}


def resolve_config_path(path_or_name: str | Path) -> Path:
    path = Path(path_or_name)
    if path.exists():
        return path
    candidate = RECIPES_DIR / f"{path_or_name}.yaml"
    if path.suffix not in (".yaml", ".yml") and candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
    raise ConfigError(f"run config {path_or_name!r} not found: give a YAML path or one of: {known}")


def load_run_config(path_or_name: str | Path | None, overrides: list[str] = ()) -> RunConfig:
    """Read a run config (a path, or a name in configs/recipes/) and apply `key=value` overrides."""
    if path_or_name is None:
        data, source = {}, "<defaults>"
    else:
        path = resolve_config_path(path_or_name)
        with open(path) as handle:
            data = _yaml_load(handle) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a run config must be a YAML mapping")
        source = str(path)
    data = copy.deepcopy(data)
    for override in overrides:
        apply_override(data, override)
    if overrides:
        source += " with " + " ".join(overrides)
    return config_from_dict(data, source)


def apply_override(data: dict[str, Any], override: str) -> None:
    """`training.learning_rate=2e-5` sets data["training"]["learning_rate"]; values are parsed as YAML."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} is not key=value (e.g. training.learning_rate=2e-5)")
    dotted, raw = override.split("=", 1)
    keys = dotted.strip().split(".")
    if not all(keys):
        raise ConfigError(f"override {override!r} has an empty key")
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {override!r}: {key!r} is not a mapping")
        node = child
    node[keys[-1]] = _yaml_load(raw) if raw.strip() else None


def config_from_dict(data: dict[str, Any], source: str) -> RunConfig:
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(_TOP_LEVEL)}")
    data_section = data.get("data") or {}
    if not isinstance(data_section, dict):
        raise ConfigError(f"{source}: `data` must be a mapping")
    unknown = sorted(set(data_section) - _DATA_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {['data.' + k for k in unknown]}; allowed: {sorted(_DATA_KEYS)}")
    data_config = DataConfig(**{**data_section, "files": _data_files(source, data_section.get("files", []))})
    if data_config.validation not in ("skip", "strict"):
        raise ConfigError(f"{source}: `data.validation` is {data_config.validation!r}; choose skip or strict")
    if data_config.model_max_length < 8:
        raise ConfigError(f"{source}: `data.model_max_length` must be at least 8, got {data_config.model_max_length}")
    training = data.get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError(f"{source}: `training` must be a mapping of TrainingArguments fields")
    return RunConfig(
        model=data.get("model", "tiny"),
        init_from=data.get("init_from"),
        data=data_config,
        training=dict(training),
        resume_from_checkpoint=_resume_value(data.get("resume_from_checkpoint")),
        seed=int(data.get("seed", 42)),
        prism=_prism_section(source, data.get("prism")),
        source=source,
    )


def _data_files(source: str, files: Any) -> list[DataFile]:
    if isinstance(files, (str, dict)):
        files = [files]
    result = []
    for position, item in enumerate(files):
        if isinstance(item, str):
            result.append(DataFile(path=item))
        elif isinstance(item, dict) and set(item) <= {"path", "weight"} and "path" in item:
            weight = float(item.get("weight", 1.0))
            if weight <= 0:
                raise ConfigError(f"{source}: `data.files[{position}].weight` must be positive, got {weight}")
            result.append(DataFile(path=str(item["path"]), weight=weight))
        else:
            raise ConfigError(f"{source}: `data.files[{position}]` must be a path or {{path, weight}}, got {item!r}")
    return result


def _prism_section(source: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    from safellava.prism.hook import PrismHookConfig

    PrismHookConfig.from_dict(value, source)  # validate now, with the key named
    return dict(value)


def _resume_value(value: Any) -> str | None:
    if value in (None, False, "none", "null"):
        return None
    if value is True:
        return "auto"
    return str(value)


def dump_yaml(config: RunConfig, extra: dict[str, Any] | None = None) -> str:
    return yaml.safe_dump({**config.to_dict(), **(extra or {})}, sort_keys=False)
