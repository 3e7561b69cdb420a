"""Images for training and evaluation: load, optionally pad to a square, run the model's image processor.

`aspect="pad"` is LLaVA-1.5's `image_aspect_ratio=pad`: the image is centred on a square canvas filled
with the image processor's mean colour (so padding normalises to ~0), then processed. `aspect="resize"`
hands the image to the processor as is (its own resize / centre crop; LLaVA's stage-1 choice). The same
`ImagePreprocessor` must serve training and PRISM evaluation so a model sees images as it was trained.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

IMAGE_ASPECTS = ("pad", "resize")

# Pillow's own decompression-bomb limit (its Image.MAX_IMAGE_PIXELS): a header that declares more pixels is
# refused before any pixel is decoded, as a counted `image_too_large` problem rather than a crash.
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
_limit = {"pixels": int(os.environ.get("SAFELLAVA_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS)) or None}


class ImageLoadError(OSError):
    """An image could not be opened or decoded; `kind` is a validation problem kind."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def set_max_image_pixels(pixels: int | None) -> None:
    """Refuse images whose header declares more than `pixels` pixels (None or 0: no limit).

    Set by `data.max_image_pixels` in a run config, `--max-image-pixels` on the CLI, or the environment
    variable SAFELLAVA_MAX_IMAGE_PIXELS; the default is Pillow's."""
    from PIL import Image

    if pixels is not None and pixels < 0:
        raise ValueError(f"max_image_pixels must be a positive number of pixels (or 0 for no limit), got {pixels}")
    _limit["pixels"] = pixels or None
    Image.MAX_IMAGE_PIXELS = _limit["pixels"]  # Pillow's own check then fires only past twice our limit


def max_image_pixels() -> int | None:
    return _limit["pixels"]


@contextmanager
def opened_image(path: str | Path) -> Iterator[Any]:
    """The Pillow image at `path` (header read, size checked); every failure, inside the block too (e.g.
    while decoding), becomes an ImageLoadError with the problem kind and the file named."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(image, path)
                yield image
    except ImageLoadError:
        raise
    except FileNotFoundError:
        raise ImageLoadError("missing_image", f"{path} does not exist") from None
    except PermissionError as error:
        raise ImageLoadError("unreadable_image", f"{path}: {error}") from None
    except Image.DecompressionBombError as error:
        raise ImageLoadError("image_too_large", f"{path}: {error}{_LIMIT_HINT}") from None
    except (UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise ImageLoadError("corrupt_image", f"{path} is not a decodable image: {error}") from None
    except OSError as error:
        # Pillow raises OSError both for I/O failures and for truncated image data.
        text = str(error).lower()
        kind = "corrupt_image" if "truncated" in text or "image file" in text else "unreadable_image"
        raise ImageLoadError(kind, f"{path}: {error}") from None


_LIMIT_HINT = (
    "; if the image is genuine, raise the limit (data.max_image_pixels, --max-image-pixels or "
    "SAFELLAVA_MAX_IMAGE_PIXELS; 0 = no limit)"
)


def _check_size(image: Any, path: str | Path) -> None:
    limit = _limit["pixels"]
    width, height = image.size
    if limit is not None and width * height > limit:
        raise ImageLoadError(
            "image_too_large",
            f"{path} declares {width}×{height} = {width * height:,} pixels, more than the limit of {limit:,} "
            f"(a decompression bomb?){_LIMIT_HINT}",
        )


def load_image(path: str | Path):
    """The image at `path` as RGB, fully decoded; raises ImageLoadError naming the file."""
    with opened_image(path) as image:
        return image.convert("RGB")


def check_image(path: str | Path, *, decode: bool) -> None:
    """Raise ImageLoadError if the image's header (and, with `decode`, every pixel) cannot be read."""
    with opened_image(path) as image:
        if decode:
            image.load()


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
