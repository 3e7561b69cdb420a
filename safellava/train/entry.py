"""Command-line front of `run()`, shared by `train/pretrain.py`, `train/finetune.py` and `train/patch.py`."""

from __future__ import annotations

import argparse
import logging
import sys

from safellava.errors import UserError

DEFAULT_CONFIGS = {"pretrain": "demo-pretrain", "finetune": "demo"}

EXAMPLES = """examples:
  accelerate launch train/{stage}.py                                   # the demo (configs/recipes/{default}.yaml)
  accelerate launch train/{stage}.py --config configs/recipes/llava-1.5-7b-{stage}.yaml
  accelerate launch --config_file configs/accelerate/single_node.yaml train/{stage}.py \\
      --config configs/recipes/llava-1.5-7b-{stage}.yaml training.deepspeed=configs/deepspeed/zero3.json
  python train/{stage}.py --config demo training.num_train_epochs=1 training.output_dir=runs/quick
  python train/{stage}.py --config demo resume_from_checkpoint=auto
"""

# The patch stage has no demo default: it needs a trained model to patch.
PATCH_EXAMPLES = """examples:
  accelerate launch train/patch.py --config configs/recipes/llava-1.5-7b-patch.yaml
  accelerate launch train/patch.py --config configs/recipes/llava-1.5-7b-patch.yaml \\
      init_from=runs/my-llava training.max_steps=500 patch.replay_ratio=0.5
  python train/patch.py --config my-patch.yaml patch.output=merged prism.stop_when.refusal_min=95
"""


def parse_args(stage: str, argv: list[str]) -> argparse.Namespace:
    default = DEFAULT_CONFIGS.get(stage)
    parser = argparse.ArgumentParser(
        prog=f"train/{stage}.py",
        description=f"LLaVA {stage} stage: a run config (YAML) plus key=value overrides of any field.",
        epilog=EXAMPLES.format(stage=stage, default=default) if default else PATCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        default=default,
        required=default is None,
        help="run config: a YAML path or a name in configs/recipes/" + (f" (default: {default})" if default else ""),
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. training.learning_rate=2e-5")
    return parser.parse_args(argv)


def main(stage: str, argv: list[str] | None = None) -> int:
    args = parse_args(stage, sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from safellava.distributed import end_process_group
    from safellava.train.config import load_run_config
    from safellava.train.hardware import use_idle_cpu_cores
    from safellava.train.run import run

    use_idle_cpu_cores()
    try:
        # Problems of the file itself are reported together with the preflight's, all in one message.
        run(stage, load_run_config(args.config, args.overrides, defer_problems=True))
    except (UserError, FileNotFoundError) as error:
        print(f"train/{stage}.py: error: {error}", file=sys.stderr)
        return 2
    end_process_group()
    return 0
