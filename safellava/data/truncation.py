"""Cutting a rendered sample to `model_max_length` tokens without ever splitting an image.

The limit counts the expanded image tokens. If the cut would fall inside an image's run of image tokens,
the cut moves back to where that image starts, and the image is dropped with its tokens (the vision
features and the image tokens must match one to one, or the model raises "Image features and image
tokens do not match"). The caller drops a sample left with no supervised token and counts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from safellava.data.templates import IGNORE_INDEX, RenderedSample


@dataclass
class Truncated:
    """The cut sample, how many of its images survive (the first `images_kept`), and whether it was cut."""

    sample: RenderedSample
    images_kept: int
    was_cut: bool

    @property
    def has_targets(self) -> bool:
        return any(label != IGNORE_INDEX for label in self.sample.labels)


def truncate(sample: RenderedSample, max_length: int, image_token_count: int) -> Truncated:
    """`sample` cut to at most `max_length` tokens, at a point outside every image."""
    if max_length <= 0:
        raise ValueError(f"model_max_length must be positive, got {max_length}")
    if len(sample) <= max_length:
        return Truncated(sample, len(sample.image_starts), False)
    cut = max_length
    for start in sample.image_starts:
        if start < cut < start + image_token_count:
            cut = start
    kept_starts = [start for start in sample.image_starts if start + image_token_count <= cut]
    cut_sample = RenderedSample(sample.input_ids[:cut], sample.labels[:cut], kept_starts)
    return Truncated(cut_sample, len(kept_starts), True)
