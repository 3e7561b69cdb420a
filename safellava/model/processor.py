"""The LlavaProcessor that matches a model: image preprocessing and the image-token count.

transformers expands each `<image>` into as many tokens as the vision tower yields features; the count must
agree exactly with the model (for CLIP with strategy "default" the CLS token is counted, then dropped,
hence `num_additional_image_tokens=1`). The data pipeline inserts these tokens itself, by construction,
using `image_token_count`.
"""

from __future__ import annotations

from transformers import LlavaProcessor, PreTrainedTokenizerBase

from safellava.records import IMAGE_TOKEN

# CLIP (OpenAI) and SigLIP normalisation constants: the "mean colour" LLaVA pads images with.
_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
_SIGLIP_MEAN = [0.5, 0.5, 0.5]
_SIGLIP_STD = [0.5, 0.5, 0.5]


def build_image_processor(vision_kind: str, image_size: int):
    """A Pillow-backed image processor (no torchvision needed) for a square `image_size` input."""
    if vision_kind == "clip":
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

        return CLIPImageProcessorPil(
            size={"shortest_edge": image_size},
            crop_size={"height": image_size, "width": image_size},
            image_mean=_CLIP_MEAN,
            image_std=_CLIP_STD,
        )
    if vision_kind == "siglip":
        from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

        return SiglipImageProcessorPil(
            size={"height": image_size, "width": image_size}, image_mean=_SIGLIP_MEAN, image_std=_SIGLIP_STD
        )
    raise ValueError(f"unknown vision kind {vision_kind!r}; expected 'clip' or 'siglip'")


def build_processor(
    tokenizer: PreTrainedTokenizerBase,
    image_processor,
    patch_size: int,
    select_strategy: str,
    has_cls_token: bool,
) -> LlavaProcessor:
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy=select_strategy,
        num_additional_image_tokens=1 if has_cls_token else 0,
        image_token=IMAGE_TOKEN,
    )


def processed_image_size(image_processor) -> tuple[int, int]:
    """(height, width) in pixels of the images the processor hands to the vision tower."""
    size = image_processor.crop_size if getattr(image_processor, "do_center_crop", False) else image_processor.size
    if "height" in size:
        return int(size["height"]), int(size["width"])
    edge = int(size["shortest_edge"])
    return edge, edge


def image_token_count(processor: LlavaProcessor) -> int:
    """Number of `<image>` tokens one image expands to — the same rule as LlavaProcessor applies."""
    height, width = processed_image_size(processor.image_processor)
    count = (height // processor.patch_size) * (width // processor.patch_size)
    count += processor.num_additional_image_tokens
    if processor.vision_feature_select_strategy == "default":
        count -= 1
    return count
