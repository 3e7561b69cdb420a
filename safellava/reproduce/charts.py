"""PNG charts of a reproduction: both runs side by side (paper layout) and PRISM after every epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from safellava.atomic import save_image
from safellava.prism.history_chart import draw_histories
from safellava.prism.report import figure_node

CURVES = (
    ("ref soft", "prism/refusal_soft/overall"),
    ("ref hard", "prism/refusal_hard/overall"),
    ("L_sent", "prism/protection_sentence"),
    ("macro", "prism/protection_macro"),
    ("benign acc", "prism/benign_accuracy"),
    ("over-refusal", "prism/over_refusal"),
)


_COLOURS = {"baseline": (200, 90, 70), "safe": (70, 130, 190), "patched": (90, 160, 90)}


def draw_comparison_chart(summaries: dict[str, dict], path: Path) -> None:
    """Grouped bars, paper layout (refusal, protection per attribute, macro, L_sent, benign), one bar per run,
    with 95 % interval whiskers."""
    from PIL import Image, ImageDraw, ImageFont

    from safellava.prism.report import paper_columns

    width, height, left, right, top, bottom = 1100, 440, 50, 20, 60, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=12)
    draw.text((left, 12), "PRISM on the synthetic world: baseline (raw data), safe (cleaned data), patched (baseline + patch), %, 95 % CI", fill="black", font=font)
    _legend(draw, font, list(summaries), width - 20 - 100 * len(summaries), 34)
    plot = height - top - bottom

    def y_of(percent: float) -> float:
        return top + plot * (1 - percent / 100)

    for tick in (0, 25, 50, 75, 100):
        draw.line([(left, y_of(tick)), (width - right, y_of(tick))], fill=(225, 225, 225))
        draw.text((left - 30, y_of(tick) - 7), f"{tick:>3}", fill="black", font=font)
    columns = paper_columns()
    slot = (width - left - right) / len(columns)
    bar = slot * 0.7 / len(summaries)
    for column, (title, keys) in enumerate(columns):
        x = left + column * slot + slot * 0.15
        for variant, summary in summaries.items():
            node = figure_node(summary, keys)
            if node is not None and node.get("value") is not None:
                draw.rectangle([x, y_of(node["value"]), x + bar - 2, y_of(0)], fill=_COLOURS.get(variant, (120, 120, 120)))
                low, high = node["ci"]
                middle = x + (bar - 2) / 2
                draw.line([(middle, y_of(low)), (middle, y_of(high))], fill="black", width=1)
            x += bar
        # Pillow's default font has no arrows: "over-refusal ↓" would end in a box.
        label = title.replace(" ↓", "").replace("↓", "")
        draw.text((left + column * slot + 4, height - bottom + 8), label, fill="black", font=font)
    save_image(image, path)


def _legend(draw, font, names: Sequence[str], x: int, y: int) -> None:
    for name in names:
        draw.rectangle([x, y, x + 12, y + 12], fill=_COLOURS.get(name, (120, 120, 120)))
        draw.text((x + 18, y - 1), name, fill="black", font=font)
        x += 100


def draw_curves(histories: dict[str, list[dict]], path: Path) -> None:
    """PRISM after every epoch, one row per run, in the layout of a training run's history chart
    (privacy | utility, epochs on the x-axis, bars dashed): how the runs evolved during training."""
    draw_histories(histories, path, "PRISM after every epoch (hook subset), %")
