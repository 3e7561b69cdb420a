"""Projector-only weight files: what stage 1 hands to stage 2.

We write `projector.safetensors` with the projector's own keys (`linear_1.weight`, …). We also read the
original LLaVA release's `mm_projector.bin`, whose keys are `model.mm_projector.0.*` / `.2.*` for the two
Linear layers of `mlp2x_gelu`: the same weights under other names, which `read_projector_file` renames
to ours (`0` → `linear_1`, `2` → `linear_2`).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from safellava.errors import UserError
from safellava.model.module_map import MODULE_KEYS, get_part

PROJECTOR_FILE = "projector.safetensors"
_ORIGINAL_KEY = re.compile(r"(?:^|\.)mm_projector\.(\d+)\.(weight|bias)$")
_ORIGINAL_INDEX = {"0": "linear_1", "2": "linear_2"}


def save_projector_from_folder(folder: str | Path) -> Path:
    """Extract the projector of a saved LLaVA folder into `projector.safetensors` beside it.

    Reading the saved weights (rather than the live model) works the same under ZeRO-3, where the live
    parameters are partitioned across ranks.
    """
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    # transformers writes the checkpoint layout llava-hf uses on the hub (`multi_modal_projector.*` at top
    # level), which differs from the in-memory module path (`model.multi_modal_projector`): accept both.
    marker = MODULE_KEYS["projector"].rsplit(".", 1)[-1] + "."
    state = {}
    for shard in shards:
        with safe_open(str(folder / shard), framework="pt") as handle:
            for key in handle.keys():
                if marker in key:
                    state[key.split(marker, 1)[1]] = handle.get_tensor(key)
    if not state:
        raise UserError(f"{folder}: no {marker}* weights found; is this a LLaVA model folder?")
    path = folder / PROJECTOR_FILE
    save_file(state, str(path))
    return path


def read_projector_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Projector weights from our `.safetensors` or LLaVA's `mm_projector.bin`, keyed like our projector."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"projector file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    return {_our_key(path, key): value for key, value in state.items()}


def _our_key(path: Path, key: str) -> str:
    if key.startswith(("linear_1.", "linear_2.")):
        return key
    match = _ORIGINAL_KEY.search(key)
    if match and match.group(1) in _ORIGINAL_INDEX:
        return f"{_ORIGINAL_INDEX[match.group(1)]}.{match.group(2)}"
    raise UserError(f"{path}: unexpected key {key!r}; expected linear_1/linear_2 or LLaVA's mm_projector.0/2 keys")


def load_projector(model: nn.Module, path: str | Path) -> None:
    """Copy a projector file into the model; shapes must match the recipe's projector exactly."""
    projector = get_part(model, "projector")
    state = read_projector_file(path)
    expected = projector.state_dict()
    if set(state) != set(expected):
        raise UserError(f"{path}: projector keys {sorted(state)} do not match the model's {sorted(expected)}")
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise UserError(
                f"{path}: {key} has shape {tuple(value.shape)} but the recipe's projector needs "
                f"{tuple(expected[key].shape)}; was stage 1 run with another vision tower or LLM?"
            )
    projector.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
