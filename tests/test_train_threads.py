"""A single-process CPU run under `accelerate launch` uses the machine's cores unless the user chose a count."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from safellava.train.hardware import cpu_threads_to_use

LAUNCHED = {"ACCELERATE_DYNAMO_BACKEND": "NO", "ACCELERATE_USE_CPU": "False", "OMP_NUM_THREADS": "1"}


def test_accelerates_default_of_one_thread_becomes_every_core():
    assert cpu_threads_to_use(LAUNCHED, {"PATH": "/usr/bin"}, cuda=False, cores=8) == 8


@pytest.mark.parametrize(
    "environ, launcher, cuda, cores",
    [
        (LAUNCHED, {"OMP_NUM_THREADS": "1"}, False, 8),  # the user asked for one thread
        ({**LAUNCHED, "OMP_NUM_THREADS": "4"}, {}, False, 8),  # accelerate chose a count itself (--cpu)
        ({**LAUNCHED, "WORLD_SIZE": "2"}, {}, False, 8),  # two processes share the cores
        (LAUNCHED, {}, True, 8),  # a GPU run
        ({"OMP_NUM_THREADS": "1"}, {}, False, 8),  # not launched by accelerate: its own business
        (LAUNCHED, None, False, 8),  # the launcher's environment cannot be read: change nothing
        (LAUNCHED, {}, False, 1),  # one core: nothing to gain
    ],
)
def test_the_thread_count_is_left_alone(environ, launcher, cuda, cores):
    assert cpu_threads_to_use(environ, launcher, cuda=cuda, cores=cores) is None


SCRIPT = textwrap.dedent(
    """
    import torch
    from safellava.train.hardware import use_idle_cpu_cores
    use_idle_cpu_cores()
    print("threads", torch.get_num_threads())
    """
)


def _threads_under_accelerate(tmp_path, **environ) -> int:
    script = tmp_path / "threads.py"
    script.write_text(SCRIPT)
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"} | environ
    process = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", str(script)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    return int(process.stdout.split("threads")[-1])


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or torch.cuda.is_available(), reason="a CPU machine with 2+ cores")
def test_accelerate_launch_on_cpu_uses_every_core_unless_the_user_set_omp_num_threads(tmp_path):
    assert _threads_under_accelerate(tmp_path) == len(os.sched_getaffinity(0))
    assert _threads_under_accelerate(tmp_path, OMP_NUM_THREADS="1") == 1
