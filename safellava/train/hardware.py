"""What the machine can do: bf16 support (process helpers are in `safellava.distributed`).

On CUDA, bf16 needs an Ampere-or-newer GPU. On CPU, bf16 autocast is only fast with AVX-512-BF16 or AMX;
elsewhere it emulates and runs slower than fp32, so `bf16: auto` turns it off there.
"""

from __future__ import annotations

import functools

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
