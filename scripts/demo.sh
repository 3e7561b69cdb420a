#!/usr/bin/env bash
# The main job on its embedded default: `accelerate launch train/finetune.py` with no arguments trains the
# demo model on the synthetic Safe-LLaVA-style world (≈5 minutes on 2 CPU cores), writing under runs/demo/.
# Extra arguments go to train/finetune.py, e.g. `bash scripts/demo.sh training.num_train_epochs=3`.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$repo_root"
exec accelerate launch --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no \
    train/finetune.py "$@"
