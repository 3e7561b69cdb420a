"""The dtype names recipes and checkpoints use, and the torch dtype of each: the one table of them."""

from __future__ import annotations

import torch

DTYPE_NAMES = ("float32", "bfloat16", "float16")
TORCH_DTYPES: dict[str, torch.dtype] = {name: getattr(torch, name) for name in DTYPE_NAMES}
