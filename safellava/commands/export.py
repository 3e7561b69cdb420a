"""`safellava export`: a run's output as a standalone Hugging Face model folder."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  safellava export runs/llava-lora --merge-lora --out runs/llava-lora-merged
  safellava export runs/llava-lora/checkpoint-2000 --merge-lora --out /models/llava-step2000
  safellava export runs/demo --out /models/demo-bf16 --dtype bfloat16
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's model (LoRA merged) as a plain Hugging Face folder",
        description="Export a training run's output or checkpoint as a folder that loads with "
        "AutoModelForImageTextToText.from_pretrained alone (no peft, no safellava).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", help="a run's output folder, or one of its checkpoint-<step> folders")
    parser.add_argument("--out", required=True, help="folder to write the model to")
    parser.add_argument("--merge-lora", action="store_true", help="fold a LoRA adapter into its base model")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], help="cast the weights")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from safellava.train.export import export_model

    out = export_model(args.run, args.out, merge_lora=args.merge_lora, dtype=args.dtype)
    print(f"exported to {out}")
    return 0
