#!/usr/bin/env bash
# Runs inside a SLURM allocation (one task per node): every node starts `accelerate launch` with its
# machine rank and the first node as the main address, all taken from SLURM's environment.
#   bash scripts/slurm/launch.sh <script.py or -m module> [arguments...]
# Environment: GPUS_PER_NODE (default: SLURM_GPUS_ON_NODE or 8), MAIN_PORT (default 29500),
# ACCELERATE_CONFIG (default configs/accelerate/multi_node.yaml), SAFELLAVA_VENV (default .venv).
set -euo pipefail
: "${SLURM_JOB_NODELIST:?run this inside a SLURM job (sbatch scripts/slurm/<job>.sbatch)}"
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
venv=${SAFELLAVA_VENV:-$repo_root/.venv}
export MAIN_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MAIN_PORT=${MAIN_PORT:-29500}
export GPUS_PER_NODE=${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-8}}
export NUM_NODES=${SLURM_NNODES:-1}
export ACCELERATE_CONFIG=${ACCELERATE_CONFIG:-configs/accelerate/multi_node.yaml}
export PATH="$venv/bin:$PATH"
echo "[safellava] $NUM_NODES node(s) × $GPUS_PER_NODE GPU(s); main $MAIN_ADDR:$MAIN_PORT; job $SLURM_JOB_ID"
# Single quotes: SLURM_NODEID is each task's own, expanded on its node.
srun --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c '
  exec accelerate launch --config_file "$ACCELERATE_CONFIG" \
    --num_machines "$NUM_NODES" --num_processes $((NUM_NODES * GPUS_PER_NODE)) \
    --machine_rank "$SLURM_NODEID" --main_process_ip "$MAIN_ADDR" --main_process_port "$MAIN_PORT" \
    "$@"' safellava-launch "$@"
