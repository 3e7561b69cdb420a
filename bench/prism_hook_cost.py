"""What the PRISM epoch hook costs on the demo: hook seconds per epoch against training seconds per epoch.

Runs the demo recipe (configs/recipes/demo.yaml, its default hook settings) in a temporary folder and prints
one JSON line: seconds of training per epoch (hook excluded), seconds of the hook per evaluation, their
ratio (the goal is ≤ 0.10), and the figures of the last evaluation.

    python bench/prism_hook_cost.py [--epochs 2] [key=value overrides of the demo config ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    from safellava.train.config import load_run_config
    from safellava.train.run import run

    workdir = Path(tempfile.mkdtemp(prefix="prism-hook-cost-"))
    os.chdir(workdir)  # the demo's paths are relative: runs/demo/...
    config = load_run_config(
        "demo", [f"training.num_train_epochs={args.epochs}", "training.report_to=none", *args.overrides]
    )
    result = run("finetune", config)
    hooks = [entry for entry in result.log_history if "prism/seconds" in entry]
    # Step logs carry a running `train_runtime` too (the tokens/s figure); the whole run's is in Trainer's
    # closing summary, the entry with `train_loss`.
    runtime = next(entry["train_runtime"] for entry in result.log_history if "train_loss" in entry)
    hook_total = sum(entry["prism/seconds"] for entry in hooks)
    epoch_seconds = (runtime - hook_total) / args.epochs
    hook_seconds = hook_total / max(1, len(hooks))
    last = hooks[-1] if hooks else {}
    print(
        json.dumps(
            {
                "bench": "prism_hook_cost",
                "what": "demo recipe, default hook settings; hook seconds per evaluation / training seconds per epoch",
                "epochs": args.epochs,
                "evaluations": len(hooks),
                "train_seconds_per_epoch": round(epoch_seconds, 1),
                "hook_seconds_per_evaluation": round(hook_seconds, 2),
                "hook_to_epoch_ratio": round(hook_seconds / epoch_seconds, 4) if epoch_seconds > 0 else None,
                "questions_per_evaluation": int(last.get("prism/judged", 0) + last.get("prism/missing", 0)),
                "last_protection_sentence": last.get("prism/protection_sentence"),
                "last_refusal_soft": last.get("prism/refusal_soft/overall"),
                "loss_first_last": [
                    next(e["loss"] for e in result.log_history if "loss" in e),
                    [e["loss"] for e in result.log_history if "loss" in e][-1],
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
