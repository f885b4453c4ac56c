"""One image to what every surface model takes: 64x64 grayscale in [0, 1].

An image is checked before it is decoded: its size in bytes, its format and its pixel count (read from the
header), so that a huge or hostile file is refused without being expanded in memory. Every refusal is a
``DataError`` naming the image.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from shopfloor.errors import DataError

SIZE = 64  # Russell and Wang resize to 64x64
MAX_BYTES = 20 * 2**20  # a photograph of a part is a few MB at most
MAX_PIXELS = 40_000_000  # about 6,300 x 6,300; a 20,000 x 20,000 image is refused from its header
FORMATS = ("PNG", "JPEG", "BMP", "TIFF")


def decode(data: bytes, where: str) -> np.ndarray:
    """``data`` (the bytes of a PNG, JPEG, BMP or TIFF file) as a [SIZE, SIZE] float32 array in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise DataError(where, "is empty: no image", "empty_image")
    if len(data) > MAX_BYTES:
        raise DataError(
            where,
            f"is {len(data) / 2**20:.1f} MB, more than the {MAX_BYTES // 2**20} MB an image may be",
            "image_too_large",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise DataError(where, f"is a {image.format} image; give one of {', '.join(FORMATS)}", "not_an_image")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DataError(
                    where,
                    f"is {width} x {height}: more than the {MAX_PIXELS:,} pixels an image may have",
                    "image_too_large",
                )
            image.load()  # a truncated file fails here
            gray = image.convert("L").resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # PIL's own limit, from the header
        raise DataError(
            where, f"has more than the {MAX_PIXELS:,} pixels an image may have ({exc})", "image_too_large"
        ) from None
    except UnidentifiedImageError as exc:
        raise DataError(where, f"is not a readable image ({exc})", "not_an_image") from None
    except (OSError, ValueError, SyntaxError) as exc:  # PIL's errors for truncated or corrupt files
        raise DataError(where, f"is a truncated or corrupt image ({exc})", "not_an_image") from None
    return np.asarray(gray, dtype=np.float32) / 255.0


def encode_png(image: np.ndarray) -> bytes:
    """A [h, w] array in [0, 1] as PNG bytes (what a camera would send)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
