"""Model recipes: what a LLaVA is made of, read from YAML (`configs/models/*.yaml`).

A recipe names the vision encoder, the language model and the projector (architecture and where the
weights come from), the tokenizer, the conversation template and the per-module tune policy. The
architecture is written out in full so that `safellava model summary` works offline, without weights.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safellava.config import (
    ConfigError,
    ConfigProblem,
    Origins,
    Problems,
    Range,
    from_mapping,
    not_a_setting,
    read_yaml_file,
    setting,
    settings_of,
)
from safellava.data.templates import TEMPLATES
from safellava.model.dtypes import DTYPE_NAMES
from safellava.model.tune_policy import TunePolicy

MODELS_DIR = Path(__file__).resolve().parents[2] / "configs" / "models"

VISION_KINDS = ("clip", "siglip")
LANGUAGE_KINDS = ("llama", "qwen2", "mistral")
PROJECTOR_TYPES = ("mlp2x_gelu", "linear")
TOKENIZER_TRAINERS = ("sentencepiece_llama", "qwen_bpe")
SELECT_STRATEGIES = ("default", "full")
ATTENTION_KINDS = ("sdpa", "flash_attention_2", "eager")

IMAGE_ASPECTS = ("pad", "resize")


class RecipeError(ConfigError):
    """A model recipe is malformed; the message names the file and key and says what to change."""


@dataclass
class VisionSpec:
    kind: str = setting("clip", choices=VISION_KINDS)
    pretrained: str | None = None  # hub id or local folder; None = random init from `config`
    config: dict[str, Any] = field(default_factory=dict)
    feature_layer: int = -2
    select_strategy: str = setting("default", choices=SELECT_STRATEGIES)


@dataclass
class LanguageSpec:
    kind: str = setting("llama", choices=LANGUAGE_KINDS)
    pretrained: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProjectorSpec:
    type: str = setting("mlp2x_gelu", choices=PROJECTOR_TYPES)


@dataclass
class TokenizerSpec:
    pretrained: str | None = None  # defaults to the language model's source
    train: str | None = setting(None, choices=TOKENIZER_TRAINERS)  # build a real tokenizer offline
    vocab_size: int = setting(1000, range=Range(at_least=1))
    corpus: str | None = None  # text the offline tokenizer is trained on: a named corpus (`synth`) or a text file
    # Length of the pretrained tokenizer before LLaVA's tokens, when it differs from the LM's vocab_size
    # (Qwen2: 151,646 tokens, 151,936 rows). Only offline summaries need it.
    base_size: int | None = None
    pad_to_multiple_of: int = setting(64, range=Range(at_least=1))  # embedding rows, as llava-hf does


@dataclass
class LoraSpec:
    r: int = setting(128, range=Range(at_least=1))
    alpha: int = setting(256, range=Range(above=0))
    dropout: float = setting(0.05, range=Range(at_least=0, at_most=1))
    # Leaf names inside the language model; resolved to full module names (never the vision tower).
    targets: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class QuantSpec:
    quant_type: str = setting("nf4", choices=("nf4", "fp4"))
    double_quant: bool = True
    compute_dtype: str = setting("bfloat16", choices=DTYPE_NAMES)


@dataclass
class ModelRecipe:
    name: str = setting(non_empty=True)
    vision: VisionSpec = setting()
    language: LanguageSpec = setting()
    projector: ProjectorSpec = field(default_factory=ProjectorSpec)
    tokenizer: TokenizerSpec = field(default_factory=TokenizerSpec)
    template: str = setting("vicuna_v1", choices=tuple(sorted(TEMPLATES)))  # the conversation template
    tune: TunePolicy = field(default_factory=TunePolicy)
    lora: LoraSpec = field(default_factory=LoraSpec)
    qlora: QuantSpec = field(default_factory=QuantSpec)
    dtype: str = setting("float32", choices=DTYPE_NAMES)  # weights dtype when building
    image_aspect: str = setting("pad", choices=IMAGE_ASPECTS)  # how training and evaluation preprocess images
    # Attention kernel for both towers: sdpa (PyTorch's fused attention) | flash_attention_2 (needs the
    # flash-attn package and a CUDA GPU, bf16/fp16) | eager.
    attn_implementation: str = setting("sdpa", choices=ATTENTION_KINDS)
    # A whole llava-hf style checkpoint to start from (weights, tokenizer, processor); the parts'
    # `config` blocks then only describe the architecture for offline summaries.
    checkpoint: str | None = None
    source: str = not_a_setting("<dict>")  # where the recipe was read from, for error messages

    def to_dict(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in settings_of(ModelRecipe)}


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def resolve_recipe_path(path_or_name: str | Path, *, origin: str = "command line", key: str = "model") -> Path:
    """A path to a YAML file, or a bare name such as `tiny` looked up in `configs/models/`."""
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise RecipeError(ConfigProblem(origin, key, str(path_or_name), "an existing model recipe file"))
        return path
    candidate = MODELS_DIR / f"{path_or_name}.yaml"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in MODELS_DIR.glob("*.yaml")))
    raise RecipeError(ConfigProblem(origin, key, str(path_or_name), f"a model recipe: a YAML path or one of {known}"))


def load_model_recipe(path_or_name: str | Path | dict) -> ModelRecipe:
    """Read and check a recipe from a YAML path, a recipe name, or an already-parsed dict.

    A dict with a `recipe` key extends that recipe: `{recipe: llava-1.5-7b, tune: {language_model: lora}}`
    is LLaVA-1.5-7B with LoRA; nested mappings are merged key by key. Every problem raises one RecipeError.
    """
    problems = Problems()
    recipe = read_model_recipe(path_or_name, problems)
    problems.raise_if_any(RecipeError)
    return recipe


def read_model_recipe(
    spec: str | Path | dict, problems: Problems, *, origins: Origins | None = None, key: str = "model"
) -> ModelRecipe | None:
    """The recipe `spec` names; its problems are added to `problems` (None if it cannot be read at all).

    `origins` tells where `spec` itself came from (a run config's `model` key, or the command line).
    """
    origins = origins or Origins("command line")
    try:
        if isinstance(spec, dict) and "recipe" in spec:
            path = resolve_recipe_path(spec["recipe"], origin=origins.of(f"{key}.recipe"), key=f"{key}.recipe")
            extension = {k: v for k, v in spec.items() if k != "recipe"}
            from_run = {f"{key}.{leaf}": origins.of(f"{key}.{leaf}") for leaf in _leaves(extension)}
            recipe_origins = Origins(f"{path} (the recipe `{key}` extends)", from_run)
            data, prefix, source = _deep_merge(_read_yaml(path), extension), f"{key}.", f"{path} extended by the run config"
        elif isinstance(spec, dict):
            data, prefix, source, recipe_origins = spec, f"{key}.", "<dict>", origins
        else:
            path = resolve_recipe_path(spec, origin=origins.of(key), key=key)
            data, prefix, source, recipe_origins = _read_yaml(path), "", str(path), Origins(str(path))
    except ConfigError as error:
        problems.extend(error.problems)
        return None
    before = len(problems)
    recipe = from_mapping(ModelRecipe, data, origins=recipe_origins, problems=problems, prefix=prefix)
    if recipe is None:
        return None
    recipe.source = source
    if len(problems) == before:  # cross-key checks only on a recipe whose keys are each fine
        _add_cross_key_problems(recipe, recipe_origins, prefix, problems)
    return recipe


def _read_yaml(path: Path) -> dict[str, Any]:
    data = read_yaml_file(path)
    if not isinstance(data, dict):
        raise RecipeError(ConfigProblem(str(path), "(the whole file)", data, "a model recipe is a YAML mapping"))
    return data


def _leaves(mapping: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            found.extend(_leaves(value, f"{prefix}{key}."))
        else:
            found.append(f"{prefix}{key}")
    return found


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _add_cross_key_problems(recipe: ModelRecipe, origins: Origins, prefix: str, problems: Problems) -> None:
    """What no single key can say: a source for the tokenizer and for each tower, a trainable policy."""
    def add(key: str, value: Any, allowed: str) -> None:
        problems.add(origins.of(prefix + key), prefix + key, value, allowed)

    recipe.tune.add_problems(origins, problems, prefix=prefix)
    if recipe.checkpoint:
        return
    if recipe.tokenizer.train is None and not (recipe.tokenizer.pretrained or recipe.language.pretrained):
        add("tokenizer", dataclasses.asdict(recipe.tokenizer), f"a tokenizer source: set `tokenizer.pretrained`, "
            f"`language.pretrained`, or `tokenizer.train` (one of {', '.join(TOKENIZER_TRAINERS)}) to build one offline")
    if recipe.tokenizer.train is not None and not recipe.tokenizer.corpus:
        add("tokenizer.corpus", None, f"the text to train the `{recipe.tokenizer.train}` tokenizer on: a named corpus "
            f"(`synth`, the synthetic world's text) or a UTF-8 text file with one text per line")
    for part in ("vision", "language"):
        spec = getattr(recipe, part)
        if spec.pretrained is None and not spec.config:
            add(part, dataclasses.asdict(spec), "`pretrained` weights or a full `config` for random init")
