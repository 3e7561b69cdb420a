"""Experiment trackers through Trainer's `report_to`, with an honest offline fallback for wandb.

Without wandb credentials a run must neither hang on a login prompt nor fail: it logs offline into the
run folder and says where that is and how to upload it later.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

from safellava.errors import UserError


def wandb_has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    return netrc.exists() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def normalise_report_to(report_to) -> list[str]:
    """`report_to` as a list (none → []); a tracker whose package is missing is an error, not a silent skip."""
    if report_to in (None, "none", []):
        return []
    trackers = [report_to] if isinstance(report_to, str) else list(report_to)
    if "tensorboard" in trackers and importlib.util.find_spec("tensorboard") is None:
        raise UserError("report_to includes tensorboard but it is not installed: pip install 'safellava[tensorboard]'")
    return trackers


@contextlib.contextmanager
def tracker_environment(trackers: list[str], output_dir: str):
    """wandb's settings for one run: its files under the run's output folder, project `safellava`, and
    offline mode when there are no credentials. Values the user set are kept; ours are undone afterwards,
    so a second run in the same process gets its own folder."""
    ours: dict[str, str] = {}
    if "wandb" in trackers:
        ours["WANDB_DIR"] = str(Path(output_dir).resolve())
        ours["WANDB_PROJECT"] = "safellava"
        if os.environ.get("WANDB_MODE") is None and not wandb_has_credentials():
            ours["WANDB_MODE"] = "offline"
    added = {key: value for key, value in ours.items() if key not in os.environ}
    os.environ.update(added)
    if "WANDB_DIR" in os.environ and "wandb" in trackers:
        Path(os.environ["WANDB_DIR"]).mkdir(parents=True, exist_ok=True)
    try:
        yield
    finally:
        if "wandb" in trackers:
            _close_wandb()
        for key in added:
            os.environ.pop(key, None)


def _close_wandb() -> None:
    """Trainer leaves the wandb run open and wandb keeps process-wide settings: finish the run and reset
    wandb, so that a next run in this process starts its own wandb run in its own folder."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is None:
        return
    if wandb.run is not None:
        wandb.finish()
    wandb.teardown()


def wandb_note() -> str | None:
    """Where the wandb run is, after training; None when wandb was not used or logged online."""
    if os.environ.get("WANDB_MODE") not in ("offline", "dryrun"):
        return None
    folder = Path(os.environ.get("WANDB_DIR", ".")) / "wandb"
    runs = sorted(folder.glob("offline-run-*"), key=lambda p: p.stat().st_mtime)
    where = runs[-1] if runs else folder
    return f"wandb logged offline (no credentials or WANDB_MODE=offline) to {where}; upload it with: wandb sync {where}"
