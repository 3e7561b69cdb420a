"""`DataCollator`: samples → a right-padded training batch for `LlavaForConditionalGeneration`.

Text-only batches and distributed training. transformers 5's `LlavaModel.forward` runs the vision tower
only when `pixel_values` is given, and then requires exactly as many `<image>` tokens as features
("Image features and image tokens do not match" otherwise). A rank whose batch is text-only would skip
the vision tower and projector while the other ranks run them: DDP's gradient all-reduce and ZeRO-3's
parameter gathers then wait forever. So, when a batch has no image (and `blank_pixel_values` is set), the
collator adds one blank image and its `image_token_count` image tokens **inside the padding** of the
shortest row: `attention_mask` 0 and labels -100 there. The model runs the vision tower and projector
as usual and scatters their output into those padding positions; with right padding and a causal mask no
real token attends to them and no label reads them, so the loss is exactly that of the text and the
vision/projector gradients are exact zeros, yet every parameter takes part in forward and backward on
every rank. Stock transformers code, no model patch. Mixed batches need nothing: their real images keep
the tower busy, and text-only samples in them simply have no image tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from safellava.data.templates import IGNORE_INDEX


class DataCollator:
    """Pads `input_ids` with `pad_token_id` (right), `labels` with -100, builds `attention_mask`, and
    concatenates the samples' `pixel_values` in order ([total images, 3, H, W]).

    `blank_pixel_values` ([1, 3, H, W]) keeps the vision tower busy on image-less batches (see the module
    docstring); pass None for single-process runs that prefer to skip it.
    """

    def __init__(
        self,
        pad_token_id: int,
        image_token_id: int,
        image_token_count: int,
        blank_pixel_values: torch.Tensor | None = None,
        pad_to_multiple_of: int | None = None,
    ):
        if pad_token_id is None:
            raise ValueError("pad_token_id is None: give the tokenizer a pad token before batching")
        self.pad_token_id = pad_token_id
        self.image_token_id = image_token_id
        self.image_token_count = image_token_count
        self.blank_pixel_values = blank_pixel_values
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not samples:
            raise ValueError("cannot collate an empty batch")
        lengths = [len(sample["input_ids"]) for sample in samples]
        images = [sample["pixel_values"] for sample in samples if sample.get("pixel_values") is not None]
        use_blank = not images and self.blank_pixel_values is not None
        shortest = min(range(len(samples)), key=lengths.__getitem__)
        width = max(max(lengths), lengths[shortest] + self.image_token_count if use_blank else 0)
        width = self._round_up(width)

        input_ids = torch.full((len(samples), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(samples), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(samples), width), dtype=torch.long)
        for row, (sample, length) in enumerate(zip(samples, lengths)):
            input_ids[row, :length] = torch.as_tensor(sample["input_ids"])
            labels[row, :length] = torch.as_tensor(sample["labels"])
            attention_mask[row, :length] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        if images:
            batch["pixel_values"] = torch.cat(images, dim=0)
        elif use_blank:
            start = lengths[shortest]
            input_ids[shortest, start : start + self.image_token_count] = self.image_token_id
            batch["pixel_values"] = self.blank_pixel_values.clone()
        return batch

    def _round_up(self, width: int) -> int:
        multiple = self.pad_to_multiple_of
        return width if not multiple else -(-width // multiple) * multiple
