"""Run configuration: one YAML file (`configs/recipes/*.yaml`) plus `key=value` overrides, read into types.

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

Each section is read once into its dataclass (`DataConfig`, `DataFile`, the PRISM hook's
`PrismHookConfig`) by the shared typed layer (`safellava.config`), which names unknown keys, wrong types
and out-of-range values and remembers, per key, whether it came from the file or from a command-line
override. The whole run (model recipe, training arguments, files) is checked by `train.preflight` before
anything starts. Every value that a run used is saved, resolved, with each checkpoint and with the final
output (`safellava_run.yaml`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from safellava.config import (
    ConfigError,
    ConfigProblem,
    Origins,
    Problems,
    Range,
    from_mapping,
    load_yaml,
    not_a_setting,
    read_yaml_file,
    setting,
    settings_of,
)
from safellava.data.templates import TEMPLATES
from safellava.prism.hook import PrismHookConfig

RECIPES_DIR = Path(__file__).resolve().parents[2] / "configs" / "recipes"

__all__ = ["ConfigError", "DataConfig", "DataFile", "PatchConfig", "RunConfig", "load_run_config", "dump_yaml"]


@dataclass
class DataFile:
    """One LLaVA JSON/JSONL source; written as a bare path or `{path, weight}`."""

    path: str = setting(shorthand=True, non_empty=True)
    weight: float = setting(1.0, range=Range(above=0))  # how often its records appear (2 = twice)


@dataclass
class DataConfig:
    files: list[DataFile] = setting(default_factory=list)
    image_folder: str | None = None
    # default: `plain` for pretrain, the model recipe's for finetune
    template: str | None = setting(None, choices=tuple(sorted(TEMPLATES)))
    model_max_length: int = setting(2048, range=Range(at_least=8))  # counts the expanded image tokens
    # pad | resize; default: the model recipe's (pretrain: resize)
    image_aspect: str | None = setting(None, choices=("pad", "resize"))
    validation: str = setting("skip", choices=("skip", "strict"))  # skip (count and report) | strict (stop)
    # `clean`: records are cleaned as they are loaded, with `safellava clean`'s rules (train on the original
    # files; the same tokens as training on `safellava clean`'s output). `none`: used as they are.
    # Default: none (pretrain, finetune); clean (patch, whose mix is the Safe version of the records).
    privacy: str | None = setting(None, choices=("none", "clean"))
    # Images whose header declares more pixels are skipped and counted (decompression bombs); null: Pillow's
    # default limit, 0: no limit.
    max_image_pixels: int | None = setting(None, range=Range(at_least=0))
    # Generate the synthetic world into this folder first if it is missing (the demo's data); the keys
    # are `out`, `clean` and `safellava.synth.generate_world`'s settings (checked by the preflight).
    synth: dict[str, Any] | None = None


@dataclass
class PatchConfig:
    """The `patch:` section: what the patch stage trains on and what it writes (docs/patch.md)."""

    # The replayed records' share of the patch mix (records that do not touch people, unchanged), so the
    # patch does not make the model forget what it already does; 0: only the records that touch people.
    replay_ratio: float = setting(0.3, range=Range(at_least=0, at_most=0.9, note="0 = no replay"))
    # lora: a LoRA adapter on the language model and nothing else trained (QLoRA if the model recipe's
    # policy says qlora); recipe: the model recipe's tune policy as written (e.g. a full finetune).
    tune: str = setting("lora", choices=("lora", "recipe"))
    # adapter: the adapter on its base (`safellava export --merge-lora` merges it later); merged: a plain
    # Hugging Face folder with the adapter folded in (the adapter is kept in `<output_dir>/adapter`).
    output: str = setting("adapter", choices=("adapter", "merged"))


@dataclass
class RunConfig:
    model: str | dict[str, Any] = "tiny"  # a model recipe; read and checked by the preflight
    init_from: str | None = None
    data: DataConfig = setting(default_factory=DataConfig)
    # transformers.TrainingArguments fields (plus projector_lr), checked against its annotations by the
    # preflight once the stage's defaults are merged in
    training: dict[str, Any] = setting(default_factory=dict)
    resume_from_checkpoint: str | None = None
    seed: int = setting(42, range=Range(at_least=0))
    prism: PrismHookConfig | None = None  # the PRISM epoch hook; null disables it
    patch: PatchConfig | None = None  # the patch stage's settings (default: PatchConfig's); other stages refuse it
    source: str = not_a_setting("<defaults>")  # the file and overrides, in words
    origins: Origins = not_a_setting(default_factory=lambda: Origins("the defaults"))
    # Problems found while reading, reported with the preflight's (see `load_run_config(defer_problems=)`)
    problems: list[ConfigProblem] = not_a_setting(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in settings_of(RunConfig)}

    @property
    def patch_settings(self) -> PatchConfig:
        """The `patch:` section as written, or its defaults where the run config leaves it out."""
        return self.patch or PatchConfig()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def resolve_config_path(path_or_name: str | Path) -> Path:
    path = Path(path_or_name)
    if path.exists():
        return path
    candidate = RECIPES_DIR / f"{path_or_name}.yaml"
    if path.suffix not in (".yaml", ".yml") and candidate.exists():
        return _shown(candidate)
    known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
    raise ConfigError(ConfigProblem("command line", "--config", str(path_or_name), f"a run config: a YAML path or one of {known}"))


def _shown(path: Path) -> Path:
    """`path` relative to the working directory when it lies inside it (shorter in messages)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def load_run_config(
    path_or_name: str | Path | None, overrides: list[str] = (), *, defer_problems: bool = False
) -> RunConfig:
    """Read a run config (a path, or a name in configs/recipes/) and apply `key=value` overrides.

    Problems raise a `ConfigError` listing all of them; with `defer_problems` they are kept in
    `config.problems` instead, and `train.preflight` reports them together with the rest of the run's.
    """
    problems = Problems()
    if path_or_name is None:
        data, file = {}, "the defaults"
    else:
        path = resolve_config_path(path_or_name)
        data, file = read_yaml_file(path), str(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.add(file, "(the whole file)", data, "a run config is a YAML mapping of model, data, training, ...")
        data = {}
    data = copy.deepcopy(data)
    by_key: dict[str, str] = {}
    for override in overrides:
        apply_override(data, override, problems, by_key)
    config = config_from_dict(data, Origins(file, by_key), problems)
    config.source = file + (" with " + " ".join(overrides) if overrides else "")
    config.problems = list(problems.items)
    if not defer_problems:
        problems.raise_if_any()
    return config


def apply_override(data: dict[str, Any], override: str, problems: Problems, by_key: dict[str, str]) -> None:
    """`training.learning_rate=2e-5` sets data["training"]["learning_rate"]; values are parsed as YAML."""
    origin = f"command-line override {override}"
    if "=" not in override:
        problems.add(origin, "(override)", override, "a key=value override (e.g. training.learning_rate=2e-5)")
        return
    dotted, raw = override.split("=", 1)
    keys = dotted.strip().split(".")
    if not all(keys):
        problems.add(origin, dotted, raw, "a dotted key without empty parts (e.g. training.learning_rate)")
        return
    node = data
    for depth, key in enumerate(keys[:-1]):
        parent = ".".join(keys[: depth + 1])
        if key not in node:
            node[key], by_key[parent] = {}, origin  # a section only this override creates
        child = node[key]
        if not isinstance(child, dict):
            problems.add(origin, parent, child, f"a mapping, to set `{dotted}` inside it (set `{parent}=...` as a whole)")
            return
        node = child
    try:
        node[keys[-1]] = load_yaml(raw, origin=origin, key=dotted) if raw.strip() else None
    except ConfigError as error:
        problems.extend(error.problems)
        return
    by_key[dotted.strip()] = origin


def config_from_dict(data: dict[str, Any], origins: Origins, problems: Problems) -> RunConfig:
    """The run config's sections read into their types; problems are added, not raised."""
    data = dict(data)
    if "resume_from_checkpoint" in data:
        data["resume_from_checkpoint"] = _resume_value(data["resume_from_checkpoint"])
    config = from_mapping(RunConfig, data, origins=origins, problems=problems) or RunConfig()
    config.origins = origins
    return config


def _resume_value(value: Any) -> Any:
    if value in (None, False, "none", "null"):
        return None
    if value is True:
        return "auto"
    return value


def dump_yaml(config: RunConfig, extra: dict[str, Any] | None = None) -> str:
    return yaml.safe_dump({**config.to_dict(), **(extra or {})}, sort_keys=False)
