import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.errors import InvalidImage
from accounts.images import image_renditions

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def _jpeg_with_orientation(width, height, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x8825] = {2: (48.0, 51.0, 0.0)}  # GPS: must not survive
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "#336699").save(buffer, format="JPEG", exif=exif.tobytes())
    return SimpleUploadedFile("photo.jpg", buffer.getvalue(), content_type="image/jpeg")


def test_orientation_is_applied_and_metadata_dropped():
    # Stored 400×200 but tagged "rotate 90°": people see it 200×400.
    (rendition,) = image_renditions(
        upload=_jpeg_with_orientation(400, 200, 6), widths=(1080,), **LIMITS
    )
    assert (rendition.width, rendition.height) == (200, 400)
    with Image.open(io.BytesIO(rendition.content.read())) as img:
        assert img.format == "WEBP" and img.size == (200, 400)
        assert not img.getexif()


def test_three_sizes_never_upscaled():
    buffer = io.BytesIO()
    Image.new("RGB", (2160, 1440)).save(buffer, format="PNG")
    upload = SimpleUploadedFile("a.png", buffer.getvalue())
    sizes = [
        (r.width, r.height)
        for r in image_renditions(upload=upload, widths=(1080, 480, 160), **LIMITS)
    ]
    assert sizes == [(1080, 720), (480, 320), (160, 107)]
    small = SimpleUploadedFile("b.png", _png(100, 50))
    assert [r.width for r in image_renditions(upload=small, widths=(1080, 160), **LIMITS)] == [
        100,
        100,
    ]


def _png(w, h):
    buffer = io.BytesIO()
    Image.new("RGB", (w, h)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_animated_gif_keeps_its_first_frame():
    frames = [Image.new("RGB", (60, 40), c) for c in ("#ff0000", "#00ff00")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    (rendition,) = image_renditions(
        upload=SimpleUploadedFile("a.gif", buffer.getvalue()), widths=(60,), **LIMITS
    )
    with Image.open(io.BytesIO(rendition.content.read())) as img:
        r, g, _ = img.convert("RGB").getpixel((30, 20))
        assert r > 200 and g < 50


@pytest.mark.parametrize(
    "content",
    [b"", b"GIF89a but not really", _png(10, 10)[:40], b"%PDF-1.4 a document"],
)
def test_broken_or_foreign_files_are_refused(content):
    with pytest.raises(InvalidImage):
        image_renditions(upload=SimpleUploadedFile("x.png", content), widths=(160,), **LIMITS)


def test_other_image_formats_are_refused():
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="BMP")
    with pytest.raises(InvalidImage) as error:
        image_renditions(
            upload=SimpleUploadedFile("x.bmp", buffer.getvalue()), widths=(160,), **LIMITS
        )
    assert "JPEG, PNG, WebP or GIF" in error.value.message
