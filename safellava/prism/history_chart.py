"""PRISM across a training run, drawn for a person: "is it safe, and does it still answer?" at a glance.

`history.png` has one row per run and two panels per row, epochs on the x-axis:
- privacy — refusal of biometric questions (soft and hard prompts) and descriptions that name no
  attribute (sentence-level and per-attribute mean), with the bar they must clear dashed;
- utility — benign questions answered right, against the rate of a model blind to the image (dashed),
  and benign questions refused, with its ceiling dashed.
A verdict line above each row says yes or no for the last evaluation (bars in `safellava.prism.targets`).
`history_attributes.png` has the per-attribute detail: one panel per attribute.

Drawn with Pillow (no plotting dependency). Every figure is a percentage on a 0–100 axis.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, NamedTuple, Sequence

from safellava.atomic import save_image
from safellava.prism.targets import OVER_REFUSAL_AT_MOST, REFUSAL_AT_LEAST, Verdict


class Line(NamedTuple):
    label: str
    key: str
    colour: tuple[int, int, int]
    dashed: bool = False


PRIVACY_LINES = (
    Line("refusal, soft prompt", "prism/refusal_soft/overall", (31, 119, 180)),
    Line("refusal, hard prompt", "prism/refusal_hard/overall", (23, 190, 207)),
    Line("descriptions naming no attribute", "prism/protection_sentence", (44, 160, 44)),
    Line("attributes kept out (mean)", "prism/protection_macro", (148, 103, 189)),
)
UTILITY_LINES = (
    Line("benign questions answered right", "prism/benign_accuracy", (255, 127, 14)),
    Line("a model blind to the image", "prism/benign_blind_rate", (150, 150, 150), dashed=True),
    Line("benign questions refused", "prism/over_refusal", (214, 39, 40)),
)
ATTRIBUTE_LINES = (
    ("refusal, soft", "prism/refusal_soft/{}", (31, 119, 180)),
    ("refusal, hard", "prism/refusal_hard/{}", (23, 190, 207)),
    ("kept out of descriptions", "prism/protection/{}", (44, 160, 44)),
)

PANEL_W, PANEL_H = 470, 250  # one panel's plot area and labels
LEGEND_H = 66
ROW_TITLE_H = 40
_GRID, _TEXT, _TARGET = (228, 228, 228), (30, 30, 30), (90, 90, 90)
_YES, _NO = (30, 140, 60), (200, 40, 40)


def draw_history(history: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = "PRISM during training") -> None:
    """Write `history.png` for one run (records with `epoch`/`global_step` and `prism/…` figures)."""
    draw_histories({"": history}, path, title)


def draw_histories(histories: Mapping[str, Sequence[dict[str, Any]]], path: str | os.PathLike, title: str) -> None:
    """One row (privacy | utility) per run, in the order given; rows share the x-axis range."""
    from PIL import Image, ImageDraw

    fonts = _fonts()
    xs = [x for history in histories.values() for x in _xs(history)]
    x_range = _x_range(xs)
    row_h = ROW_TITLE_H + PANEL_H + LEGEND_H
    image = Image.new("RGB", (2 * PANEL_W + 30, 44 + row_h * max(1, len(histories))), "white")
    draw = ImageDraw.Draw(image)
    draw.text((14, 10), title, fill=_TEXT, font=fonts["title"])
    for row, (name, history) in enumerate(histories.items()):
        top = 44 + row * row_h
        _verdict_line(draw, fonts, name, history, 14, top + 4)
        panels = (
            ("Privacy: higher is safer", PRIVACY_LINES, [(REFUSAL_AT_LEAST, f"bar: {REFUSAL_AT_LEAST:g}")]),
            ("Utility: does it still answer?", UTILITY_LINES, [(OVER_REFUSAL_AT_MOST, f"refused at most {OVER_REFUSAL_AT_MOST:g}")]),
        )
        for column, (heading, lines, targets) in enumerate(panels):
            left = 10 + column * (PANEL_W + 10)
            series = [(line, series_of(history, line.key)) for line in lines]
            _panel(draw, fonts, heading, left, top + ROW_TITLE_H, x_range, series, targets, _x_label(history))
    save_image(image, path)


def draw_attribute_history(history: Sequence[dict[str, Any]], path: str | os.PathLike) -> None:
    """Write `history_attributes.png`: per attribute, refusal (soft, hard) and protection in descriptions."""
    from PIL import Image, ImageDraw

    attributes = _attributes_in(history)
    fonts = _fonts()
    columns = max(1, min(3, len(attributes)))
    rows = max(1, math.ceil(len(attributes) / columns))
    image = Image.new("RGB", (columns * (PANEL_W + 10) + 10, 44 + rows * (PANEL_H + LEGEND_H)), "white")
    draw = ImageDraw.Draw(image)
    draw.text((14, 10), "PRISM per attribute: refusal and protection in descriptions", fill=_TEXT, font=fonts["title"])
    if not attributes:
        draw.text((14, 50), "no per-attribute figures yet", fill=_TEXT, font=fonts["text"])
    x_range = _x_range(_xs(history))
    for index, attribute in enumerate(attributes):
        left = 10 + (index % columns) * (PANEL_W + 10)
        top = 44 + (index // columns) * (PANEL_H + LEGEND_H)
        series = [
            (Line(label, key.format(attribute), colour), series_of(history, key.format(attribute)))
            for label, key, colour in ATTRIBUTE_LINES
        ]
        _panel(draw, fonts, attribute.replace("_", " "), left, top, x_range, series,
               [(REFUSAL_AT_LEAST, f"bar: {REFUSAL_AT_LEAST:g}")], _x_label(history))
    save_image(image, path)


def _fonts() -> dict[str, Any]:
    from PIL import ImageFont

    return {"title": ImageFont.load_default(size=16), "text": ImageFont.load_default(size=12),
            "small": ImageFont.load_default(size=11)}


def _attributes_in(history: Sequence[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for record in history:
        for key in record:
            for prefix in ("prism/refusal_soft/", "prism/refusal_hard/", "prism/protection/"):
                name = key.removeprefix(prefix)
                if key.startswith(prefix) and name != "overall" and name not in found:
                    found.append(name)
    return found


def _xs(history: Sequence[dict[str, Any]]) -> list[float]:
    return [_x_value(record) for record in history]


def _x_value(record: dict[str, Any]) -> float:
    epoch = record.get("epoch")
    return float(epoch) if epoch is not None else float(record.get("global_step", 0))


def _x_label(history: Sequence[dict[str, Any]]) -> str:
    return "epoch" if all(record.get("epoch") is not None for record in history) else "step"


def _x_range(xs: Sequence[float]) -> tuple[float, float]:
    """From 0 (the untrained model) to the last evaluation."""
    return 0.0, max([*xs, 1.0])


def series_of(history: Sequence[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    return [(_x_value(record), float(record[key])) for record in history if record.get(key) is not None]


def _verdict_line(draw, fonts, name: str, history: Sequence[dict[str, Any]], x: int, y: int) -> None:
    """"Safe? YES  Still answers? NO" for the last evaluation, and the figures behind it underneath."""
    if name:
        draw.text((x, y), name, fill=_TEXT, font=fonts["title"])
        x += int(draw.textlength(name, font=fonts["title"])) + 16
    if not history:
        draw.text((x, y), "no PRISM evaluation yet", fill=_TEXT, font=fonts["text"])
        return
    last = history[-1]
    verdict = Verdict.of(last)
    details_x = x
    for question, answer in (("Safe?", verdict.safe), ("Still answers?", verdict.answers)):
        word = "n/a" if answer is None else ("YES" if answer else "NO")
        draw.text((x, y + 2), question, fill=_TEXT, font=fonts["text"])
        x += int(draw.textlength(question, font=fonts["text"])) + 5
        draw.text((x, y), word, fill=_TEXT if answer is None else (_YES if answer else _NO), font=fonts["title"])
        x += int(draw.textlength(word, font=fonts["title"])) + 24
    details = (
        f"last evaluation: refusal {_figure(last, 'prism/refusal_soft/overall')} / "
        f"{_figure(last, 'prism/refusal_hard/overall')} % and descriptions {_figure(last, 'prism/protection_sentence')} % "
        f"(bar {REFUSAL_AT_LEAST:g}); benign right {_figure(last, 'prism/benign_accuracy')} % vs "
        f"{_figure(last, 'prism/benign_blind_rate')} % blind to the image, refused {_figure(last, 'prism/over_refusal')} % "
        f"(at most {OVER_REFUSAL_AT_MOST:g})"
    )
    draw.text((details_x, y + 20), details, fill=_TARGET, font=fonts["small"])


def _figure(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return "n/a" if value is None else f"{value:.0f}"


def _panel(draw, fonts, heading: str, left: int, top: int, x_range: tuple[float, float],
           series: Sequence[tuple[Line, list[tuple[float, float]]]], targets: Sequence[tuple[float, str]], x_label: str) -> None:
    x0, y0, x1, y1 = left + 36, top + 22, left + PANEL_W - 14, top + PANEL_H - 30
    draw.text((left + 4, top + 2), heading, fill=_TEXT, font=fonts["text"])
    low, high = x_range

    def place(x: float, y: float) -> tuple[float, float]:
        return x0 + (x1 - x0) * (x - low) / ((high - low) or 1.0), y1 - (y1 - y0) * max(0.0, min(100.0, y)) / 100

    for percent in (0, 25, 50, 75, 100):
        y = place(low, percent)[1]
        draw.line([(x0, y), (x1, y)], fill=_GRID)
        draw.text((left + 6, y - 7), f"{percent:>3}", fill=_TEXT, font=fonts["small"])
    for tick in _ticks(low, high):
        x = place(tick, 0)[0]
        draw.line([(x, y1), (x, y1 + 4)], fill=_TEXT)
        draw.text((x - 8, y1 + 6), f"{tick:g}", fill=_TEXT, font=fonts["small"])
    draw.text((x1 - 30, y1 + 16), x_label, fill=_TEXT, font=fonts["small"])
    for value, label in targets:
        y = place(low, value)[1]
        _dashed(draw, [(x0, y), (x1, y)], _TARGET)
        draw.text((x1 - draw.textlength(label, font=fonts["small"]), y + (3 if value > 50 else -15)), label, fill=_TARGET, font=fonts["small"])
    # Earlier lines are drawn wider, so lines that coincide (every privacy figure at 100) stay visible as
    # stripes of their colours instead of the last one hiding the others.
    for index, (line, points) in enumerate(series):
        width = 2 + 2 * (len(series) - 1 - index)
        placed = [place(x, y) for x, y in points]
        if len(placed) > 1:
            (_dashed if line.dashed else _solid)(draw, placed, line.colour, width)
        radius = 2 + width / 2
        for px, py in placed:
            draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=line.colour)
    _legend(draw, fonts, left + 10, top + PANEL_H - 2, series)


def _legend(draw, fonts, x: int, y: int, series) -> None:
    """Two entries per row: a line sample, the label and the last value."""
    for index, (line, points) in enumerate(series):
        ex, ey = x + (index % 2) * (PANEL_W // 2), y + (index // 2) * 18
        (_dashed if line.dashed else _solid)(draw, [(ex, ey + 7), (ex + 22, ey + 7)], line.colour)
        last = f"  {points[-1][1]:.0f}" if points else "  n/a"
        draw.text((ex + 28, ey), line.label + last, fill=_TEXT, font=fonts["small"])


def _ticks(low: float, high: float) -> list[float]:
    """At most six round ticks between low and high (epochs: 0, 1, 2… or 0, 0.25, 0.5…)."""
    span = (high - low) or 1.0
    for step in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if span / step <= 5:
            break
    first = math.ceil(low / step)
    return [round(k * step, 6) for k in range(first, int(math.floor(high / step + 1e-9)) + 1)]


def _solid(draw, points, colour, width: int = 2) -> None:
    draw.line(points, fill=colour, width=width)


def _dashed(draw, points, colour, width: int = 2, dash: float = 6.0) -> None:
    """Pillow has no dash pattern: draw every other `dash`-pixel piece of each segment."""
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        length = math.hypot(bx - ax, by - ay)
        pieces = max(1, int(length // dash))
        for piece in range(0, pieces, 2):
            start, end = piece / pieces, min(1.0, (piece + 1) / pieces)
            draw.line([(ax + (bx - ax) * start, ay + (by - ay) * start), (ax + (bx - ax) * end, ay + (by - ay) * end)],
                      fill=colour, width=width)
