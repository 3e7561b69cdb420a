"""The SLURM scripts hand each node its machine rank and the first node's address (fake srun/scontrol)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FAKES = {
    # scontrol expands the node list; srun runs the task once per node with its SLURM_NODEID.
    "scontrol": "#!/bin/bash\nprintf 'gpu-node-01\\ngpu-node-02\\n'\n",
    "srun": "#!/bin/bash\nwhile [[ \"$1\" == --* ]]; do shift; done\nfor id in 0 1; do SLURM_NODEID=$id \"$@\"; done\n",
    "accelerate": "#!/bin/bash\necho \"accelerate $*\"\n",
}


def _run(tmp_path, script: str, *args: str) -> list[str]:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, body in FAKES.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SAFELLAVA_VENV": str(tmp_path / "venv"),
        "SLURM_JOB_NODELIST": "gpu-node-[01-02]",
        "SLURM_NNODES": "2",
        "SLURM_JOB_ID": "4242",
        "SLURM_SUBMIT_DIR": str(REPO),
    }
    output = subprocess.run(["bash", str(REPO / script), *args], env=env, capture_output=True, text=True, check=True)
    return [line for line in output.stdout.splitlines() if line.startswith("accelerate ")]


def test_finetune_job_launches_one_accelerate_per_node_with_rank_and_main_address(tmp_path):
    lines = _run(tmp_path, "scripts/slurm/finetune.sbatch", "training.max_steps=10")
    assert len(lines) == 2
    for rank, line in enumerate(lines):
        assert f"--machine_rank {rank} " in line
        assert "--main_process_ip gpu-node-01 --main_process_port 29500" in line
        assert "--num_machines 2 --num_processes 16" in line
        assert line.endswith("train/finetune.py --config configs/recipes/llava-1.5-7b-finetune.yaml training.max_steps=10")


def test_explicit_config_replaces_the_default_and_prism_job_runs_the_cli(tmp_path):
    lines = _run(tmp_path, "scripts/slurm/pretrain.sbatch", "--config", "my.yaml")
    assert lines[0].endswith("train/pretrain.py --config my.yaml")
    lines = _run(tmp_path / "p", "scripts/slurm/prism.sbatch", "--model", "m", "--out", "o")
    assert lines[0].endswith("-m safellava.cli prism run --model m --out o")
