"""The cumulative PRISM chart of a training run: one small panel per figure, one point per evaluation.

Drawn with Pillow (no plotting dependency). Every figure is a percentage, so every panel shares the 0–100
y-axis and the panels can be compared at a glance; counts (judge errors, seconds…) are left out.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

from safellava.atomic import save_image

PANEL_W, PANEL_H, MARGIN = 220, 130, 28
_NOT_PERCENT = {"prism/judge_errors", "prism/missing", "prism/judged", "prism/failures", "prism/seconds"}
_LINE = (31, 119, 180)
_GRID = (225, 225, 225)
_TEXT = (40, 40, 40)


def percent_figures(history: Sequence[dict[str, Any]]) -> list[str]:
    """The `prism/…` percentage figures present in the history, in first-seen order."""
    names: list[str] = []
    for record in history:
        for key in record:
            if key.startswith("prism/") and key not in _NOT_PERCENT and key not in names:
                names.append(key)
    return names


def draw_history(history: Sequence[dict[str, Any]], path: str | os.PathLike) -> None:
    """Write the chart for `history` (records with `epoch`/`global_step` and `prism/…` figures) to `path`."""
    from PIL import Image, ImageDraw, ImageFont

    names = percent_figures(history)
    columns = max(1, min(4, len(names)))
    rows = max(1, math.ceil(len(names) / columns))
    image = Image.new("RGB", (columns * PANEL_W, rows * PANEL_H), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=11)
    if not names:
        draw.text((10, 10), "no PRISM figures yet", fill=_TEXT, font=font)
    xs = [_x_value(record) for record in history]
    for index, name in enumerate(names):
        left, top = (index % columns) * PANEL_W, (index // columns) * PANEL_H
        _panel(draw, font, name.removeprefix("prism/"), left, top, xs, [record.get(name) for record in history])
    save_image(image, path)


def _x_value(record: dict[str, Any]) -> float:
    epoch = record.get("epoch")
    return float(epoch) if epoch is not None else float(record.get("global_step", 0))


def _panel(draw, font, title: str, left: int, top: int, xs: list[float], ys: list[float | None]) -> None:
    x0, y0, x1, y1 = left + MARGIN, top + 26, left + PANEL_W - 10, top + PANEL_H - 18
    draw.text((left + 6, top + 3), title, fill=_TEXT, font=font)
    for percent in (0, 50, 100):
        y = y1 - (y1 - y0) * percent / 100
        draw.line([(x0, y), (x1, y)], fill=_GRID)
        draw.text((left + 4, y - 6), f"{percent}", fill=_TEXT, font=font)
    points = [(x, y) for x, y in zip(xs, ys) if y is not None]
    if not points:
        return
    low, high = min(x for x, _ in points), max(x for x, _ in points)
    span = (high - low) or 1.0

    def place(x: float, y: float) -> tuple[float, float]:
        return x0 + (x1 - x0) * (x - low) / span, y1 - (y1 - y0) * max(0.0, min(100.0, y)) / 100

    placed = [place(x, y) for x, y in points]
    if len(placed) > 1:
        draw.line(placed, fill=_LINE, width=2)
    for px, py in placed:
        draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=_LINE)
    draw.text((x1 - 38, y1 + 3), f"{points[-1][1]:.1f}", fill=_TEXT, font=font)
