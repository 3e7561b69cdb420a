"""LLaVA privacy patch — launch with `accelerate launch train/patch.py --config CONFIG [key=value ...]`.

Starts from a trained LLaVA (`init_from`) and trains it, LoRA by default, on the Safe version of the
records that touch people plus a replay share of the others (docs/patch.md). Plain `python train/patch.py …`
runs one process; `--help` lists examples; the logic lives in `safellava.train.run`.
"""

from safellava.distributed import exit_process
from safellava.train.entry import main

if __name__ == "__main__":
    exit_process(main("patch"))
