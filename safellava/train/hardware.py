"""What the machine can do: bf16 support and CPU threads (process helpers are in `safellava.distributed`).

On CUDA, bf16 needs an Ampere-or-newer GPU. On CPU, bf16 autocast is only fast with AVX-512-BF16 or AMX;
elsewhere it emulates and runs slower than fp32, so `bf16: auto` turns it off there.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bf16_available() -> bool:
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_fast_bf16()


def resolve_bf16(value, *, deepspeed: bool = False) -> bool:
    """`bf16: auto | true | false` → bool; `true` on hardware without bf16 is an error, not a silent fallback."""
    if value in ("auto", None):
        # TrainingArguments takes bf16 on a CPU only together with `use_cpu`, which a DeepSpeed run cannot set.
        return bf16_available() and not (deepspeed and not torch.cuda.is_available())
    return bool(value)


def cpu_threads_to_use(
    environ: Mapping[str, str], launcher_environ: Mapping[str, str] | None, *, cuda: bool, cores: int
) -> int | None:
    """How many threads torch should use in this process, or None to leave its setting alone.

    `accelerate launch` exports OMP_NUM_THREADS to the script, set to the launching shell's value or, when
    that had none, to 1 (its default for a CPU launch unless `--cpu` is given). With one process that
    leaves all but one core idle, so a single-process CPU run that the launcher gave 1 thread, although
    its user set nothing, gets every core. `launcher_environ` is the launcher's own environment, i.e.
    what the user set (None when it cannot be read: then nothing is changed).
    """
    launched_by_accelerate = "ACCELERATE_DYNAMO_BACKEND" in environ
    single_process = int(environ.get("WORLD_SIZE", "1") or 1) == 1
    if cuda or not launched_by_accelerate or not single_process or launcher_environ is None:
        return None
    if "OMP_NUM_THREADS" in launcher_environ or environ.get("OMP_NUM_THREADS") != "1":
        return None  # the user's choice, or a count accelerate chose for the cores
    return cores if cores > 1 else None


def use_idle_cpu_cores() -> int | None:
    """Apply `cpu_threads_to_use` to this process; returns the thread count set, or None."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = cpu_threads_to_use(os.environ, _launcher_environment(), cuda=torch.cuda.is_available(), cores=cores)
    if threads is not None:
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)  # so that anything started from here agrees
        logger.info("CPU run launched by accelerate with its default of 1 thread: using all %d cores "
                    "(set OMP_NUM_THREADS to choose)", threads)
    return threads


def _launcher_environment() -> dict[str, str] | None:
    """The environment the parent process (the launcher) started with, on Linux; None elsewhere."""
    try:
        raw = Path(f"/proc/{os.getppid()}/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}

