"""The processes of a run: accelerate's process state (CPU-only ranks included), DeepSpeed's process
group on CPU, and leaving the group cleanly. The one home of process helpers for training, the PRISM
epoch hook, generation and the CLI.

torch and accelerate are imported only inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, NoReturn


def distributed_state() -> Any:
    """accelerate's process state, started for CPU-only ranks too.

    accelerate's state reads its `cpu` flag only when first created; without it, CPU processes started by
    torchrun/accelerate each believe they are rank 0 of 1. If a trainer already created the state, that
    one is returned unchanged.
    """
    import torch
    from accelerate import PartialState

    forced = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    return PartialState(cpu=forced or not torch.cuda.is_available())


def init_cpu_process_group_for_deepspeed(uses_deepspeed: bool) -> bool:
    """DeepSpeed on CPU: set up accelerate's state with the gloo backend before TrainingArguments exists.

    Without this, accelerate and Trainer believe every rank is rank 0 of 1 under DeepSpeed on CPU and the
    first collective fails (`ProcessGroupGloo::allgather: invalid output tensor list`). Returns True when
    the state was configured here (Trainer must then be told to use it); `distributed_state()` returns it
    from then on.
    """
    import torch

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


def exit_process(code: int) -> NoReturn:
    """End a training process with `code`. A rank of a multi-process run leaves without the interpreter's
    teardown once its outputs are written and its process group is gone: in that teardown DeepSpeed's CPU
    communication threads still abort a rank now and then (`terminate called without an active
    exception`, SIGABRT), which fails a finished job. Single-process runs exit normally."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)
