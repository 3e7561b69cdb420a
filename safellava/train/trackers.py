"""Experiment trackers through Trainer's `report_to`, with an honest offline fallback for wandb.

Without wandb credentials a run must neither hang on a login prompt nor fail: it logs offline into the
run folder and says where that is and how to upload it later.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from safellava.errors import UserError


def wandb_has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    return netrc.exists() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def prepare_trackers(report_to, output_dir: str) -> list[str]:
    """Normalise `report_to` and prepare wandb; returns the list of trackers and notes for the user."""
    if report_to in (None, "none", []):
        return []
    trackers = [report_to] if isinstance(report_to, str) else list(report_to)
    if "tensorboard" in trackers and importlib.util.find_spec("tensorboard") is None:
        raise UserError("report_to includes tensorboard but it is not installed: pip install 'safellava[tensorboard]'")
    if "wandb" in trackers:
        os.environ.setdefault("WANDB_DIR", str(Path(output_dir).resolve()))
        Path(os.environ["WANDB_DIR"]).mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("WANDB_PROJECT", "safellava")
        if os.environ.get("WANDB_MODE") is None and not wandb_has_credentials():
            os.environ["WANDB_MODE"] = "offline"
    return trackers


def wandb_note() -> str | None:
    """Where the wandb run is, after training; None when wandb was not used or logged online."""
    if os.environ.get("WANDB_MODE") not in ("offline", "dryrun"):
        return None
    folder = Path(os.environ.get("WANDB_DIR", ".")) / "wandb"
    runs = sorted(folder.glob("offline-run-*"), key=lambda p: p.stat().st_mtime)
    where = runs[-1] if runs else folder
    return f"wandb logged offline (no credentials or WANDB_MODE=offline) to {where}; upload it with: wandb sync {where}"
