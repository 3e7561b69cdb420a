"""LLaVA finetune stage — launch with `accelerate launch train/finetune.py [--config CONFIG] [key=value ...]`.

Plain `python train/finetune.py …` runs one process. `--help` lists examples; the logic lives in
`safellava.train.run`.
"""

from safellava.distributed import exit_process
from safellava.train.entry import main

if __name__ == "__main__":
    exit_process(main("finetune"))
