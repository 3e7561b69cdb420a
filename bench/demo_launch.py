"""The main command as a user's first try writes it against the project's demo script, timed in one run.

`accelerate launch train/finetune.py` with no arguments and `bash scripts/demo.sh` run the same demo; on a
CPU machine accelerate's launcher gives the script one thread unless told otherwise, so the bare command
used to take far longer. Both are run here, one after the other, each from scratch in its own temporary
folder (synthetic world, tokenizer cache and outputs), and one JSON line is printed: the wall seconds of
each, their ratio (the goal is within 10 %), the threads each run's torch used, and the load average
around each run (this machine may be shared).

    python bench/demo_launch.py [--order bare,script] [key=value overrides for both runs ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--order", default="bare,script", help="which run goes first (default: bare,script)")
    parser.add_argument("overrides", nargs="*", help="e.g. training.num_train_epochs=1 for a shorter bench")
    args = parser.parse_args()

    results = {}
    for kind in args.order.split(","):
        results[kind] = _timed(kind, args.overrides)
    bare, script = results["bare"], results["script"]
    print(json.dumps({
        "bench": "demo_launch",
        "what": "accelerate launch train/finetune.py (no arguments) vs bash scripts/demo.sh, same demo, one run each",
        "order": args.order,
        "overrides": args.overrides,
        "bare_seconds": bare["seconds"],
        "script_seconds": script["seconds"],
        "bare_to_script_ratio": round(bare["seconds"] / script["seconds"], 3),
        "bare_threads": bare["threads"],
        "script_threads": script["threads"],
        "cores": len(os.sched_getaffinity(0)),
        "load_average_before_after": {kind: result["load"] for kind, result in results.items()},
    }))


def _timed(kind: str, overrides: list[str]) -> dict:
    """One demo run from an empty folder; the demo's relative paths (runs/demo/...) land inside it."""
    work = Path(tempfile.mkdtemp(prefix=f"demo-launch-{kind}-"))
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    env.update(
        SAFELLAVA_CACHE=str(work / "cache"), SAFELLAVA_VENV=sys.prefix, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
        WANDB_MODE="offline", TOKENIZERS_PARALLELISM="false", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    if kind == "bare":
        command = ["accelerate", "launch", str(REPO / "train" / "finetune.py"), *overrides]
    else:
        # scripts/demo.sh runs from the repository root: point the demo's folders into the work folder.
        data = work / "runs" / "demo" / "data"
        command = ["bash", str(REPO / "scripts" / "demo.sh"), f"training.output_dir={work / 'runs' / 'demo'}",
                   f"data.synth.out={data}", f"data.files=[{data / 'finetune.safe.json'}]",
                   f"data.image_folder={data / 'images'}", f"prism.tasks=[{data / 'prism'}]",
                   f"prism.images={data / 'images' / 'eval'}", *overrides]
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    process = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        sys.exit(f"{kind} run failed ({process.returncode}):\n{process.stderr[-3000:]}")
    found = re.search(r"using all (\d+) cores", process.stderr)
    return {
        "seconds": round(seconds, 1),
        "threads": int(found.group(1)) if found else "as the launcher set",
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


if __name__ == "__main__":
    main()
