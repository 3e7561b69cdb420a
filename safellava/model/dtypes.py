"""The dtype names recipes and checkpoints use, and the torch dtype of each: the one table of them."""

from __future__ import annotations

import torch

TORCH_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
