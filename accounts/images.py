"""Uploaded images: checked, oriented, stripped of metadata and re-encoded.

Shared by every app that takes pictures (avatars here, product images in shops). Only the
re-encoded pixels are ever stored, so EXIF (GPS, camera serials) and any payload hidden
after the image data never reach storage.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidImage

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    content: ContentFile


def image_renditions(
    *, upload, widths: tuple[int, ...], max_bytes: int, max_pixels: int, square: bool = False
) -> list[Rendition]:
    """Validate an uploaded file and return WebP renditions at the given widths (never
    upscaled). Raises InvalidImage with a message fit for the user. Holds no locks and
    does no I/O beyond reading the upload."""
    size = getattr(upload, "size", None)
    if size is None or size > max_bytes:
        raise InvalidImage(f"Images can be at most {max_bytes // (1024 * 1024)} MB.")
    upload.seek(0)
    too_big = InvalidImage(f"Images can have at most {max_pixels // 1_000_000} megapixels.")
    try:
        # open() reads the header only: the pixel count is known before any decoding,
        # so a decompression bomb is refused before it can take the memory.
        with Image.open(upload) as probe:
            if probe.format not in ALLOWED_FORMATS:
                raise InvalidImage("Use a JPEG, PNG, WebP or GIF image.")
            if probe.width * probe.height > max_pixels:
                raise too_big
            probe.verify()
        upload.seek(0)
        with Image.open(upload) as img:
            img.seek(0)  # first frame of an animated GIF or WebP
            img.load()
            img = ImageOps.exif_transpose(img)
            has_alpha = img.mode in ("RGBA", "LA") or "transparency" in img.info
            img = img.convert("RGBA" if has_alpha else "RGB")
    except InvalidImage:
        raise
    except Image.DecompressionBombError:
        # Pillow's own guard fires in open() for headers far past ours (100,000 × 100,000).
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidImage() from None
    finally:
        upload.seek(0)

    if square:
        side = min(img.size)
        img = ImageOps.fit(img, (side, side))
    renditions = []
    for width in widths:
        target = min(width, img.width)
        height = max(1, round(img.height * target / img.width))
        frame = img if target == img.width else img.resize((target, height), Image.LANCZOS)
        buffer = io.BytesIO()
        frame.save(buffer, format="WEBP", quality=82, method=4)
        renditions.append(Rendition(target, height, ContentFile(buffer.getvalue())))
    return renditions
