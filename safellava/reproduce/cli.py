"""`scripts/reproduce.sh` / `python -m safellava.reproduce`: options, the run, the closing JSON line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from safellava.errors import UserError
from safellava.reproduce.pipeline import reproduce
from safellava.reproduce.plan import FAST, FULL, Layout
from safellava.reproduce.report import targets_for
from safellava.reproduce.targets import targets_markdown


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/reproduce.sh",
        description="Reproduce the Safe-LLaVA finding offline: train one recipe on the raw synthetic data "
        "(baseline) and on its cleaned Safe version (safe), patch the baseline with the patch stage on the raw "
        "data cleaned on the fly (patched), evaluate all three with PRISM, compare. Ends by printing one JSON line "
        '{"baseline": <summary.json>, "safe": <summary.json>, "patched": <summary.json>, '
        '"steps": {"safe_finetune": n, "patch": m}, "seconds": <wall s>}.',
        epilog="examples:\n"
        "  bash scripts/reproduce.sh                        # the full run (about 15 minutes on 2 CPU cores)\n"
        "  bash scripts/reproduce.sh --out /tmp/repro --fast # tiny model, a few steps: checks the plumbing\n"
        "  bash scripts/reproduce.sh --force                 # retrain and re-evaluate even if nothing changed\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="runs/reproduce", help="output folder (default runs/reproduce)")
    parser.add_argument("--fast", action="store_true", help="tiny model, tiny world, a few steps (CI)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic world (default 0)")
    parser.add_argument("--force", action="store_true", help="redo finished training and evaluation steps")
    parser.add_argument("--verbose", action="store_true", help="show every step's output (always in OUT/logs/)")
    parser.add_argument("--require-targets", action="store_true", help="exit with status 3 if a target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = FAST if args.fast else FULL
    try:
        result = reproduce(Path(args.out), plan, seed=args.seed, force=args.force, verbose=args.verbose)
    except UserError as error:
        print(f"reproduce: error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    print(out.joinpath("comparison.md").read_text(encoding="utf-8"), file=sys.stderr)
    rows = targets_for(Layout(out), result)
    print(targets_markdown(rows), file=sys.stderr)
    print(f"[reproduce] report: {out / 'report.md'}; charts: {out / 'comparison.png'}, {out / 'curves.png'}", file=sys.stderr)
    print(json.dumps(result), flush=True)
    if args.require_targets and not all(met for _, _, met in rows):
        return 3
    return 0

