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

import yaml

from safellava.errors import UserError
from safellava.model.tune_policy import TunePolicy

MODELS_DIR = Path(__file__).resolve().parents[2] / "configs" / "models"

VISION_KINDS = ("clip", "siglip")
LANGUAGE_KINDS = ("llama", "qwen2", "mistral")
PROJECTOR_TYPES = ("mlp2x_gelu", "linear")
TOKENIZER_TRAINERS = ("sentencepiece_llama", "qwen_bpe")
SELECT_STRATEGIES = ("default", "full")
ATTENTION_KINDS = ("sdpa", "flash_attention_2", "eager")


class RecipeError(UserError, ValueError):
    """A model recipe is malformed; the message names the file and key and says what to change."""


@dataclass
class VisionSpec:
    kind: str = "clip"
    pretrained: str | None = None  # hub id or local folder; None = random init from `config`
    config: dict[str, Any] = field(default_factory=dict)
    feature_layer: int = -2
    select_strategy: str = "default"


@dataclass
class LanguageSpec:
    kind: str = "llama"
    pretrained: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProjectorSpec:
    type: str = "mlp2x_gelu"


@dataclass
class TokenizerSpec:
    pretrained: str | None = None  # defaults to the language model's source
    train: str | None = None  # one of TOKENIZER_TRAINERS: build a real tokenizer offline
    vocab_size: int = 1000
    corpus: str = "synth"  # text the offline tokenizer is trained on: `synth` or a text file
    # Length of the pretrained tokenizer before LLaVA's tokens, when it differs from the LM's vocab_size
    # (Qwen2: 151,646 tokens, 151,936 rows). Only offline summaries need it.
    base_size: int | None = None
    pad_to_multiple_of: int = 64  # embedding rows, as llava-hf does (32,064 for Vicuna)


@dataclass
class LoraSpec:
    r: int = 128
    alpha: int = 256
    dropout: float = 0.05
    # Leaf names inside the language model; resolved to full module names (never the vision tower).
    targets: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class QuantSpec:
    quant_type: str = "nf4"
    double_quant: bool = True
    compute_dtype: str = "bfloat16"


@dataclass
class ModelRecipe:
    name: str
    vision: VisionSpec
    language: LanguageSpec
    projector: ProjectorSpec = field(default_factory=ProjectorSpec)
    tokenizer: TokenizerSpec = field(default_factory=TokenizerSpec)
    template: str = "vicuna_v1"
    tune: TunePolicy = field(default_factory=TunePolicy)
    lora: LoraSpec = field(default_factory=LoraSpec)
    qlora: QuantSpec = field(default_factory=QuantSpec)
    dtype: str = "float32"  # weights dtype when building: float32 | bfloat16 | float16
    image_aspect: str = "pad"  # how training and evaluation preprocess images: pad | resize
    # Attention kernel for both towers: sdpa (PyTorch's fused attention) | flash_attention_2 (needs the
    # flash-attn package and a CUDA GPU, bf16/fp16) | eager.
    attn_implementation: str = "sdpa"
    # A whole llava-hf style checkpoint to start from (weights, tokenizer, processor); the parts'
    # `config` blocks then only describe the architecture for offline summaries.
    checkpoint: str | None = None
    source: str = "<dict>"  # where the recipe was read from, for error messages

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("source")
        return data


_SECTIONS = {
    "vision": VisionSpec,
    "language": LanguageSpec,
    "projector": ProjectorSpec,
    "tokenizer": TokenizerSpec,
    "lora": LoraSpec,
    "qlora": QuantSpec,
}
_TOP_LEVEL = {"name", "template", "tune", "dtype", "image_aspect", "checkpoint", "attn_implementation", *_SECTIONS}
_REQUIRED = ("name", "vision", "language")


def resolve_recipe_path(path_or_name: str | Path) -> Path:
    """A path to a YAML file, or a bare name such as `tiny` looked up in `configs/models/`."""
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise RecipeError(f"model recipe {path} does not exist")
        return path
    candidate = MODELS_DIR / f"{path_or_name}.yaml"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in MODELS_DIR.glob("*.yaml")))
    raise RecipeError(f"unknown model recipe {path_or_name!r}: give a YAML path or one of: {known}")


def load_model_recipe(path_or_name: str | Path | dict) -> ModelRecipe:
    """Read and validate a recipe from a YAML path, a recipe name, or an already-parsed dict.

    A dict with a `recipe` key extends that recipe: `{recipe: llava-1.5-7b, tune: {language_model: lora}}`
    is LLaVA-1.5-7B with LoRA; nested mappings are merged key by key.
    """
    if isinstance(path_or_name, dict) and "recipe" in path_or_name:
        overrides = {k: v for k, v in path_or_name.items() if k != "recipe"}
        path = resolve_recipe_path(path_or_name["recipe"])
        base = _read_yaml(path)
        return recipe_from_dict(_deep_merge(base, overrides), source=f"{path} extended by the run config")
    if isinstance(path_or_name, dict):
        return recipe_from_dict(path_or_name, source="<dict>")
    path = resolve_recipe_path(path_or_name)
    return recipe_from_dict(_read_yaml(path), source=str(path))


def _read_yaml(path: Path) -> dict[str, Any]:
    with open(path) as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a model recipe must be a YAML mapping, got {type(data).__name__}")
    return data


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def recipe_from_dict(data: dict[str, Any], source: str) -> ModelRecipe:
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise RecipeError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(_TOP_LEVEL)}")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise RecipeError(f"{source}: missing required key(s) {missing}")
    sections = {key: _section(source, key, cls, data.get(key)) for key, cls in _SECTIONS.items()}
    recipe = ModelRecipe(
        name=str(data["name"]),
        template=str(data.get("template", "vicuna_v1")),
        tune=TunePolicy.from_dict(data.get("tune") or {}, source=source),
        dtype=str(data.get("dtype", "float32")),
        image_aspect=str(data.get("image_aspect", "pad")),
        checkpoint=data.get("checkpoint"),
        attn_implementation=str(data.get("attn_implementation", "sdpa")),
        source=source,
        **sections,
    )
    _check_choices(recipe)
    return recipe


def _section(source: str, key: str, cls: type, value: Any) -> Any:
    if value is None:
        return cls()
    if not isinstance(value, dict):
        raise RecipeError(f"{source}: `{key}` must be a mapping, got {type(value).__name__}")
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise RecipeError(f"{source}: unknown key(s) {[f'{key}.{u}' for u in unknown]}; allowed: {sorted(allowed)}")
    return cls(**value)


def _check_choices(recipe: ModelRecipe) -> None:
    choices = [
        ("vision.kind", recipe.vision.kind, VISION_KINDS),
        ("vision.select_strategy", recipe.vision.select_strategy, SELECT_STRATEGIES),
        ("language.kind", recipe.language.kind, LANGUAGE_KINDS),
        ("projector.type", recipe.projector.type, PROJECTOR_TYPES),
        ("dtype", recipe.dtype, ("float32", "bfloat16", "float16")),
        ("image_aspect", recipe.image_aspect, ("pad", "resize")),
        ("attn_implementation", recipe.attn_implementation, ATTENTION_KINDS),
    ]
    if recipe.tokenizer.train is not None:
        choices.append(("tokenizer.train", recipe.tokenizer.train, TOKENIZER_TRAINERS))
    for key, value, allowed in choices:
        if value not in allowed:
            raise RecipeError(f"{recipe.source}: `{key}` is {value!r}; choose one of {list(allowed)}")
    if recipe.checkpoint:
        recipe.tune.check_against(recipe.source)
        return
    if recipe.tokenizer.train is None and not (recipe.tokenizer.pretrained or recipe.language.pretrained):
        raise RecipeError(
            f"{recipe.source}: no tokenizer source: set `tokenizer.pretrained`, `language.pretrained`, "
            f"or `tokenizer.train` (one of {list(TOKENIZER_TRAINERS)}) to build one offline"
        )
    if recipe.vision.pretrained is None and not recipe.vision.config:
        raise RecipeError(f"{recipe.source}: `vision` needs `pretrained` weights or a full `config` for random init")
    if recipe.language.pretrained is None and not recipe.language.config:
        raise RecipeError(f"{recipe.source}: `language` needs `pretrained` weights or a full `config` for random init")
    recipe.tune.check_against(recipe.source)
