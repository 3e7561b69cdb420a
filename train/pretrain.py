"""LLaVA pretrain stage — launch with `accelerate launch train/pretrain.py [--config CONFIG] [key=value ...]`.

Plain `python train/pretrain.py …` runs one process. `--help` lists examples; the logic lives in
`safellava.train.run`.
"""

from safellava.distributed import exit_process
from safellava.train.entry import main

if __name__ == "__main__":
    exit_process(main("pretrain"))
