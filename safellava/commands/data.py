"""`safellava data …`: check LLaVA conversation data before training."""

from __future__ import annotations

import argparse
import json
import sys

CHECK_EXAMPLES = """examples:
  safellava data check Safe_llava_v1_5_mix665k.json --image-folder /data/llava/images
  safellava data check data.jsonl --image-folder images/ --model-recipe llava-1.5-7b --model-max-length 2048
  safellava data check data.json --image-folder images/ --tokenizer ./tok --template qwen_1_5 \\
      --image-token-count 729 --model-max-length 2048 --json problems.json

exit status: 0 = no problem, 1 = problems found (listed on stdout, counted at the end), 2 = unusable input
(a file that cannot be read, or holds no record)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="check LLaVA conversation data")
    commands = parser.add_subparsers(dest="data_command", metavar="<data command>")
    commands.required = True

    check = commands.add_parser(
        "check",
        help="list every problem of every record (JSON, roles, <image> count, image files, length)",
        description="Read LLaVA JSON/JSONL records and report every problem by record id, line and kind: "
        "invalid JSON, missing/empty conversations, unknown roles, roles not alternating, empty answers, "
        "<image> count different from the number of images, missing/unreadable/corrupt images, image paths "
        "outside --image-folder, and (with a tokenizer or model recipe) samples longer than "
        "--model-max-length with image tokens counted. Ends with the counts per kind.",
        epilog=CHECK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("data", help="LLaVA .json/.jsonl file, datasets folder, hf://datasets/... file or Hub id")
    check.add_argument("--image-folder", help="folder the records' image paths are relative to")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--model-recipe", help="take tokenizer, template and image-token count from a model recipe")
    source.add_argument("--tokenizer", help="a tokenizer folder (with <image> as a token) to measure lengths")
    check.add_argument("--template", help="conversation template (default: the recipe's; required with --tokenizer)")
    check.add_argument("--image-token-count", type=int, help="image tokens per image (with --tokenizer)")
    check.add_argument("--model-max-length", type=int, help="token limit, image tokens included")
    check.add_argument(
        "--image-check",
        choices=("decode", "header", "exists", "none"),
        default="decode",
        help="how deep to check images: decode all pixels (default), read the header, exist, or paths only",
    )
    check.add_argument(
        "--max-image-pixels",
        type=int,
        help="refuse images whose header declares more pixels (default: Pillow's 89,478,485; 0 = no limit)",
    )
    check.add_argument("--workers", type=int, default=8, help="threads checking images (default 8)")
    check.add_argument("--cache-dir", help="where the record index is cached (default $SAFELLAVA_CACHE/records)")
    check.add_argument("--json", metavar="PATH", help="also write {problems: [{id, line, kind, detail}], counts} here")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from safellava.data.check import check_records
    from safellava.data.record_index import RecordFormatError

    try:
        if args.max_image_pixels is not None:
            from safellava.data.images import set_max_image_pixels

            set_max_image_pixels(args.max_image_pixels)
        tokenizer, template, image_token_count = _length_setup(args)
        report = check_records(
            args.data,
            args.image_folder,
            tokenizer=tokenizer,
            template=template,
            image_token_count=image_token_count,
            model_max_length=args.model_max_length,
            image_check=args.image_check,
            workers=args.workers,
            cache_dir=args.cache_dir,
            progress=sys.stderr.isatty(),
        )
    except (RecordFormatError, ValueError, FileNotFoundError) as error:
        print(f"safellava data check: {error}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(problem.describe())
    print(report.summary())
    if report.records_seen == 0:
        print(f"safellava data check: {args.data} holds no record: nothing to train on", file=sys.stderr)
        return 2
    if args.json:
        from safellava.atomic import atomic_write

        with atomic_write(args.json) as handle:
            json.dump(report.to_dict(), handle, indent=1)
    return 1 if report.problems else 0


def _length_setup(args: argparse.Namespace):
    """(tokenizer, template, image_token_count) for length checks, or Nones without a tokenizer."""
    if args.model_recipe:
        return _from_recipe(args)
    if args.tokenizer:
        from transformers import AutoTokenizer

        if not args.template or not args.image_token_count or not args.model_max_length:
            raise ValueError("--tokenizer needs --template, --image-token-count and --model-max-length")
        return AutoTokenizer.from_pretrained(args.tokenizer), args.template, args.image_token_count
    if args.model_max_length:
        raise ValueError("--model-max-length needs --tokenizer or --model-recipe to count tokens")
    return None, None, None


def _from_recipe(args: argparse.Namespace):
    from safellava.model.build import vision_config_from_recipe
    from safellava.model.processor import build_image_processor, build_processor, image_token_count
    from safellava.model.recipe import load_model_recipe
    from safellava.model.tokenizer_source import load_tokenizer

    if not args.model_max_length:
        raise ValueError("--model-recipe needs --model-max-length (the recipes' default is 2048)")
    recipe = load_model_recipe(args.model_recipe)
    tokenizer = load_tokenizer(recipe)
    if recipe.vision.pretrained:
        from transformers import AutoConfig

        vision = AutoConfig.from_pretrained(recipe.vision.pretrained)
        vision = getattr(vision, "vision_config", vision)
    else:
        vision = vision_config_from_recipe(recipe)
    processor = build_processor(
        tokenizer,
        build_image_processor(recipe.vision.kind, vision.image_size),
        patch_size=vision.patch_size,
        select_strategy=recipe.vision.select_strategy,
        has_cls_token=recipe.vision.kind == "clip",
    )
    return tokenizer, args.template or recipe.template, image_token_count(processor)
