"""The `safellava` command: parses arguments and hands them to the library.

Each group of subcommands lives in `safellava/commands/<group>.py` and exposes `register(subparsers)`,
which adds its parser and sets `func`. Heavy imports (torch, transformers) happen inside those functions,
so `safellava --help` and the privacy tools start instantly.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from safellava.atomic import terminate_as_interrupt
from safellava.errors import UserError

# Order is the order shown in --help.
COMMAND_GROUPS = ("model", "data", "synth", "prism", "export", "privacy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safellava",
        description="Train privacy-aware LLaVA models and measure biometric leakage (PRISM).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  safellava model summary configs/models/llava-1.5-7b.yaml --gpus 8\n"
        "  safellava data check data.json --image-folder images/\n"
        "  safellava audit llava_v1_5_mix665k.json --json audit.json\n"
        "  safellava clean llava_v1_5_mix665k.json safe_mix665k.json --changes changes.jsonl\n"
        "  safellava prism run --model runs/demo --tasks runs/demo/data/prism --images runs/demo/data/images/eval --out runs/prism/demo\n"
        "  safellava export runs/llava-lora --merge-lora --out runs/llava-merged\n"
        "training: accelerate launch train/pretrain.py | train/finetune.py --help\n",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    subparsers.required = True
    for group in COMMAND_GROUPS:
        importlib.import_module(f"safellava.commands.{group}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    terminate_as_interrupt()  # a scheduler's SIGTERM cleans up like Ctrl-C: no half-written outputs
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError) as error:
        print(f"safellava {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"safellava {args.command}: interrupted; outputs not finished were removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
