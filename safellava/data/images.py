"""Images for training and evaluation: load, optionally pad to a square, run the model's image processor.

`aspect="pad"` is LLaVA-1.5's `image_aspect_ratio=pad`: the image is centred on a square canvas filled
with the image processor's mean colour (so padding normalises to ~0), then processed. `aspect="resize"`
hands the image to the processor as is (its own resize / centre crop; LLaVA's stage-1 choice). The same
`ImagePreprocessor` must serve training and PRISM evaluation so a model sees images as it was trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

IMAGE_ASPECTS = ("pad", "resize")


class ImageLoadError(OSError):
    """An image could not be opened or decoded; `kind` is a validation problem kind."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def load_image(path: str | Path):
    """The image at `path` as RGB, fully decoded; raises ImageLoadError naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise ImageLoadError("missing_image", f"{path} does not exist") from None
    except PermissionError as error:
        raise ImageLoadError("unreadable_image", f"{path}: {error}") from None
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError) as error:
        raise ImageLoadError("corrupt_image", f"{path} is not a decodable image: {error}") from None


def mean_fill_color(image_processor: Any) -> tuple[int, int, int]:
    """The processor's normalisation mean as an 8-bit RGB colour (LLaVA's padding colour)."""
    mean = getattr(image_processor, "image_mean", None) or (0.5, 0.5, 0.5)
    return tuple(int(round(channel * 255)) for channel in mean)  # type: ignore[return-value]


def expand_to_square(image, fill: tuple[int, int, int]):
    """`image` centred on a square canvas of side max(width, height) filled with `fill`."""
    from PIL import Image

    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new(image.mode, (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


class ImagePreprocessor:
    """PIL images → `pixel_values` float tensor [n, 3, H, W], the same way for training and evaluation."""

    def __init__(self, image_processor: Any, aspect: str = "pad"):
        if aspect not in IMAGE_ASPECTS:
            raise ValueError(f"image_aspect {aspect!r}; choose one of {IMAGE_ASPECTS}")
        self.image_processor = image_processor
        self.aspect = aspect
        self.fill = mean_fill_color(image_processor)
        self._blank = None

    def __call__(self, images: Sequence[Any]):
        if self.aspect == "pad":
            images = [expand_to_square(image, self.fill) for image in images]
        return self.image_processor(images=list(images), return_tensors="pt")["pixel_values"]

    def blank(self):
        """One mean-colour image, processed: [1, 3, H, W]. Used where a batch has no real image (see collate)."""
        if self._blank is None:
            from PIL import Image

            self._blank = self(([Image.new("RGB", (8, 8), self.fill)]))
        return self._blank
