"""What the machine can do: bf16 support, and the process group for CPU runs.

On CUDA, bf16 needs an Ampere-or-newer GPU. On CPU, bf16 autocast is only fast with AVX-512-BF16 or AMX;
elsewhere it emulates and runs slower than fp32, so `bf16: auto` turns it off there.
"""

from __future__ import annotations

import functools
import os

import torch


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


def resolve_bf16(value) -> bool:
    """`bf16: auto | true | false` → bool; `true` on hardware without bf16 is an error, not a silent fallback."""
    if value in ("auto", None):
        return bf16_available()
    return bool(value)


def init_cpu_process_group_for_deepspeed(uses_deepspeed: bool) -> bool:
    """DeepSpeed on CPU: set up accelerate's state with the gloo backend before TrainingArguments exists.

    Without this, accelerate and Trainer believe every rank is rank 0 of 1 under DeepSpeed on CPU and the
    first collective fails (`ProcessGroupGloo::allgather: invalid output tensor list`). Returns True when
    the state was configured here (Trainer must then be told to use it).
    """
    if not uses_deepspeed or torch.cuda.is_available():
        return False
    from accelerate import PartialState

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("LOCAL_RANK", "0")
    # With this flag accelerate starts DeepSpeed's communication layer (over gloo) and marks the state as
    # a DeepSpeed one, which TrainingArguments requires of a pre-configured state.
    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    PartialState(backend="gloo")
    return True


def end_process_group() -> None:
    """Leave the process group cleanly once a run is over: all ranks meet, then the group is destroyed.

    Left to interpreter exit, a DeepSpeed-on-CPU rank sometimes aborted after a finished run
    (`terminate called without an active exception`, SIGABRT) because its communication threads were
    still running when the process tore down; the launcher then reported the whole job as failed.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
