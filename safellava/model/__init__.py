"""The LLaVA model package: recipes, offline tokenizers, build/load/save, module map, tune policy, summaries."""

from safellava.model.build import build_llava, load_llava, read_metadata, save_llava
from safellava.model.processor import image_token_count
from safellava.model.recipe import ModelRecipe, RecipeError, load_model_recipe
from safellava.model.summary import count_parameters
from safellava.model.tune_policy import TunePolicy, TunePolicyError
from safellava.model.freeze_and_adapt import apply_tune_policy, enable_gradient_checkpointing, quantization_config

__all__ = [
    "ModelRecipe",
    "RecipeError",
    "TunePolicy",
    "TunePolicyError",
    "apply_tune_policy",
    "build_llava",
    "count_parameters",
    "enable_gradient_checkpointing",
    "image_token_count",
    "load_llava",
    "load_model_recipe",
    "quantization_config",
    "read_metadata",
    "save_llava",
]
