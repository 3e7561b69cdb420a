"""`safellava model …`: inspect and build LLaVA models from recipes."""

from __future__ import annotations

import argparse
import json

SUMMARY_EXAMPLES = """examples:
  safellava model summary configs/models/llava-1.5-7b.yaml
  safellava model summary llava-1.5-7b --gpus 8 --tune language_model=lora
  safellava model summary tiny --json
"""
BUILD_EXAMPLES = """examples:
  safellava model build tiny --out runs/tiny-model
  safellava model build configs/models/llava-1.5-7b.yaml --out /ckpt/llava-init   # downloads weights
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="inspect and build LLaVA models from recipes")
    commands = parser.add_subparsers(dest="model_command", metavar="<model command>")
    commands.required = True

    summary = commands.add_parser(
        "summary",
        help="parameters per module, trainable parameters and GPU memory, offline",
        description="Print parameters per module, trainable parameters under the recipe's tune policy and an "
        "estimate of GPU memory per device (model states) for ZeRO-2 and ZeRO-3. Runs offline: the "
        "model is built on the meta device from the recipe's architecture, no weights are downloaded.",
        epilog=SUMMARY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    summary.add_argument("recipe", help="model recipe: a YAML path or a name in configs/models/ (e.g. tiny)")
    summary.add_argument("--gpus", type=int, default=8, help="GPUs the memory estimate assumes (default 8)")
    summary.add_argument(
        "--tune", action="append", default=[], metavar="MODULE=MODE", help="override the tune policy, repeatable"
    )
    summary.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    summary.set_defaults(func=run_summary)

    build = commands.add_parser(
        "build",
        help="build a model from a recipe and save it as a Hugging Face folder",
        epilog=BUILD_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("recipe", help="model recipe: a YAML path or a name in configs/models/")
    build.add_argument("--out", required=True, help="output folder")
    build.add_argument("--seed", type=int, default=0, help="seed of the random initialisation (default 0)")
    build.set_defaults(func=run_build)


def _recipe_with_overrides(name: str, overrides: list[str]):
    from safellava.config import ConfigProblem
    from safellava.model.recipe import RecipeError, load_model_recipe, resolve_recipe_path
    from safellava.model.tune_policy import TunePolicy

    recipe = load_model_recipe(name)
    if overrides:
        tune = {k: v for k, v in recipe.tune.modes().items()}
        tune.pop("lm_head") if recipe.tune.lm_head is None else None
        for item in overrides:
            if "=" not in item:
                raise RecipeError(ConfigProblem("command line", "--tune", item, "MODULE=MODE, e.g. language_model=lora"))
            key, value = item.split("=", 1)
            tune[key.strip()] = value.strip()
        recipe.tune = TunePolicy.from_dict(tune, source=f"{resolve_recipe_path(name)} with --tune")
        recipe.tune.check_against(recipe.source)
    return recipe


def run_summary(args: argparse.Namespace) -> int:
    from safellava.model.summary import memory_estimate, recipe_parameter_report

    if args.gpus < 1:
        raise SystemExit("--gpus must be at least 1")
    recipe = _recipe_with_overrides(args.recipe, args.tune)
    report = recipe_parameter_report(recipe)
    memory = memory_estimate(recipe, report, args.gpus)
    if args.json:
        print(json.dumps({"recipe": recipe.name, **report.to_dict(), "tune": recipe.tune.modes(), "memory": memory}))
        return 0
    print(f"recipe {recipe.name} ({recipe.source}); tune policy: {recipe.tune.describe()}")
    print(report.table())
    print(
        f"\nGPU memory per device for model states (bf16 weights, Adam; activations excluded) on {args.gpus} GPUs:\n"
        f"  ZeRO-2: {memory['zero2_gib_per_gpu']:.2f} GiB   ZeRO-3: {memory['zero3_gib_per_gpu']:.2f} GiB"
    )
    return 0


def run_build(args: argparse.Namespace) -> int:
    from safellava.model import build_llava, count_parameters, load_model_recipe, quantization_config, save_llava

    recipe = load_model_recipe(args.recipe)
    model, processor = build_llava(recipe, seed=args.seed, quantization_config=quantization_config(recipe))
    save_llava(model, processor, args.out)
    print(count_parameters(model).table())
    print(f"saved to {args.out} (loads with AutoModelForImageTextToText.from_pretrained)")
    return 0
