"""facesafe._io: reading every format into upright sRGB pixels, and pixel-only atomic writes."""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

import facesafe
from facesafe import (
    CorruptImageError,
    ImageTooLargeError,
    MetadataWarning,
    MultiFrameImageError,
    OutputError,
    OutputExistsError,
    Picture,
    UnsupportedImageError,
    encode_image,
    load_image,
    read_image,
    write_image,
)
from facesafe._io import output_format, sniff_format, suffix_for

FORMATS = ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF"]
LOSSLESS = {"PNG", "TIFF", "BMP"}


def _pixels(height: int = 40, width: int = 56) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 6 % 256, (x * y) % 256], -1).astype(np.uint8)


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    if fmt == "HEIF":  # pillow-heif's Pillow save hook, without registering it globally
        from pillow_heif.as_plugin import _save_heif

        image = image.copy()
        image.encoderinfo = options
        _save_heif(image, buf, "")
    else:
        image.save(buf, fmt, **options)
    return buf.getvalue()


def _png(width: int, height: int, depth: int, colour_type: int, raw_rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw_rows)) + chunk(b"IEND", b"")


def _tiff_rgb16(pixels: np.ndarray) -> bytes:
    """An uncompressed little-endian 16-bit RGB TIFF (Pillow cannot write one)."""
    height, width, _ = pixels.shape
    data = pixels.astype("<u2").tobytes()
    bps_offset = 8 + 2 + 12 * 10 + 4
    entries = [(256, 3, width), (257, 3, height), (258, 3, bps_offset), (259, 3, 1), (262, 3, 2),
               (273, 4, bps_offset + 6), (277, 3, 3), (278, 3, height), (279, 4, len(data)), (284, 3, 1)]  # fmt: skip
    out = b"II*\x00" + struct.pack("<IH", 8, len(entries))
    for tag, kind, value in entries:
        count = 3 if tag == 258 else 1
        field = struct.pack("<I", value) if kind == 4 or count > 1 else struct.pack("<HH", value, 0)
        out += struct.pack("<HHI", tag, kind, count) + field
    return out + struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16) + data


def _linear_rgb_icc() -> bytes:
    """An RGB profile with sRGB primaries but linear (gamma 1.0) curves: mid-grey 128 shows as ~188 in sRGB."""
    raw = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    for i in range(struct.unpack(">I", raw[128:132])[0]):
        sig, offset, size = struct.unpack(">4sII", raw[132 + 12 * i : 144 + 12 * i])
        if sig in (b"rTRC", b"gTRC", b"bTRC"):
            raw[offset : offset + size] = (b"para\0\0\0\0" + struct.pack(">HHi", 0, 0, 1 << 16)).ljust(size, b"\0")
    return bytes(raw)


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_and_is_sniffed_from_content(fmt, tmp_path):
    pixels = _pixels()
    data = encode_image(pixels, format=fmt)
    assert sniff_format(data[:32]) == fmt
    path = tmp_path / "no-extension"
    path.write_bytes(data)
    picture = load_image(path)
    assert picture.format == fmt and picture.size == (56, 40) and picture.n_frames == 1
    assert picture.alpha is None
    frame = picture.frames[0]
    assert frame.dtype == np.uint8 and frame.shape == (40, 56, 3) and not frame.flags.writeable
    error = np.abs(frame.astype(int) - pixels).mean()
    assert error == 0 if fmt in LOSSLESS else error < 12


def test_sniff_format_rejects_non_images():
    assert sniff_format(b"") is None
    assert sniff_format(b"hello, this is text, not a photo") is None
    assert sniff_format(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom") is None  # a video
    assert sniff_format(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf") == "AVIF"
    assert sniff_format(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "HEIF"


def test_content_wins_over_extension(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode_image(_pixels(), format="PNG"))
    assert load_image(path).format == "PNG"


def test_output_format_and_suffix():
    assert [output_format(f) for f in FORMATS] == ["JPEG", "PNG", "WEBP", "TIFF", "PNG", "GIF", "HEIF", "AVIF"]
    assert [suffix_for(f) for f in ("JPEG", "TIFF", "HEIF", "jpg")] == [".jpg", ".tif", ".heic", ".jpg"]
    with pytest.raises(ValueError, match="format"):
        suffix_for("PSD")


def test_webp_lossless_is_detected_and_kept():
    pixels = _pixels()
    picture = load_image(_save(Image.fromarray(pixels), "WEBP", lossless=True))
    assert picture.lossless and np.array_equal(picture.frames[0], pixels)
    again = load_image(encode_image(picture, format="WEBP"))
    assert again.lossless and np.array_equal(again.frames[0], pixels)
    assert not load_image(_save(Image.fromarray(pixels), "WEBP", quality=80)).lossless


# --------------------------------------------------------------------------- orientation and colour


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "AVIF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_exif_transpose(fmt, orientation):
    image = Image.fromarray(_pixels(30, 20))
    exif = image.getexif()
    exif[0x0112] = orientation
    data = _save(image, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt in ("JPEG", "WEBP", "AVIF") else {}))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    got = read_image(data)
    assert got.shape == ((20, 30, 3) if orientation >= 5 else (30, 20, 3))
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heif_and_avif_orientation_is_applied(fmt):
    """HEIF/AVIF carry orientation as irot/imir boxes (written here from the EXIF tag): applied once, never twice."""
    source = np.zeros((30, 20, 3), np.uint8)
    source[:8, :6] = 255  # a white corner shows how the picture was turned
    for orientation in range(1, 9):
        image = Image.fromarray(source)
        exif = image.getexif()
        exif[0x0112] = orientation
        expected = source if orientation == 1 else np.asarray(image.transpose(TRANSPOSE[orientation]))
        got = read_image(_save(image, fmt, exif=exif.tobytes(), quality=100))
        assert got.shape == expected.shape and np.abs(got.astype(int) - expected).mean() < 4, orientation


TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}  # fmt: skip


def test_icc_profile_is_converted_to_srgb():
    grey = np.full((8, 8, 3), 128, np.uint8)
    data = _save(Image.fromarray(grey), "PNG", icc_profile=_linear_rgb_icc())
    got = read_image(data)
    assert abs(int(got[0, 0, 0]) - 188) <= 2  # linear 0.5 is sRGB ~188
    plain = read_image(_save(Image.fromarray(grey), "PNG"))
    assert np.array_equal(plain, grey)


def test_unusable_icc_profile_warns_and_keeps_pixels():
    grey = np.full((8, 8, 3), 100, np.uint8)
    data = _save(Image.fromarray(grey), "PNG", icc_profile=b"not an icc profile at all" * 8)
    with pytest.warns(MetadataWarning, match="ICC"):
        got = read_image(data)
    assert np.array_equal(got, grey)


def test_grayscale_palette_cmyk_and_16_bit_become_8_bit_rgb():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    got = read_image(_save(Image.fromarray(gray, "L"), "PNG"))
    assert got.shape == (8, 8, 3) and np.array_equal(got[..., 1], gray)

    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    got = read_image(_save(cmyk, "JPEG", quality=100))
    assert got[0, 0, 0] > 200 and got[0, 0, 1] < 40 and got[0, 0, 2] < 40

    wide = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    got = read_image(_save(Image.fromarray(wide), "PNG"))
    assert np.array_equal(got[..., 0], np.round(wide / 257).astype(np.uint8))

    rgb16 = np.zeros((2, 3, 3), ">u2")
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 65535, 32896, 0
    rows = b"".join(b"\x00" + row.tobytes() for row in rgb16)
    got = read_image(_png(3, 2, 16, 2, rows))
    assert got.shape == (2, 3, 3) and tuple(got[0, 0]) == (255, 128, 0)

    rgb16 = np.zeros((2, 3, 3), np.uint16)
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 65535, 32896, 257 * 7
    picture = load_image(_tiff_rgb16(rgb16))
    assert picture.format == "TIFF" and tuple(picture.frames[0][1, 2]) == (255, 128, 7)

    tiff16 = io.BytesIO()
    Image.fromarray(wide).save(tiff16, "TIFF")
    assert np.array_equal(read_image(tiff16.getvalue())[..., 2], np.round(wide / 257).astype(np.uint8))


def test_palette_transparency_and_alpha_are_kept_apart():
    palette = Image.new("P", (6, 4), 1)
    palette.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    palette.putpixel((0, 0), 0)
    picture = load_image(_save(palette, "PNG", transparency=0))
    assert picture.alpha is not None and picture.alpha[0][0, 0] == 0 and picture.alpha[0][1, 1] == 255
    assert tuple(picture.frames[0][1, 1]) == (200, 10, 10)

    rgba = np.dstack([_pixels(), np.tile(np.arange(56, dtype=np.uint8) * 4, (40, 1))])
    picture = load_image(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.array_equal(picture.frames[0], rgba[..., :3])  # RGB under alpha untouched
    assert np.array_equal(picture.alpha[0], rgba[..., 3])
    assert np.array_equal(read_image(_save(Image.fromarray(rgba, "RGBA"), "PNG")), rgba[..., :3])

    la = load_image(_save(Image.fromarray(np.dstack([rgba[..., 0], rgba[..., 3]]), "LA"), "PNG"))
    assert np.array_equal(la.alpha[0], rgba[..., 3]) and np.array_equal(la.frames[0][..., 2], rgba[..., 0])


# --------------------------------------------------------------------------- frames


def _frames(n: int = 3) -> list[Image.Image]:
    return [Image.fromarray(np.full((12, 16, 3), 60 * i + 20, np.uint8)) for i in range(n)]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG", "TIFF"])
def test_every_frame_is_read_and_written(fmt, tmp_path):
    first, *rest = _frames()
    options = {"save_all": True, "append_images": rest}
    if fmt != "TIFF":
        options.update(duration=[100, 200, 300], loop=0)
    if fmt == "WEBP":
        options.update(lossless=True)
    path = tmp_path / "animation"
    path.write_bytes(_save(first, fmt, **options))
    picture = load_image(path)
    assert picture.n_frames == 3
    assert [int(f[0, 0, 0]) for f in picture.frames] == [20, 80, 140]
    if fmt != "TIFF":
        assert picture.durations == (100, 200, 300)
    with pytest.raises(MultiFrameImageError, match="3 frames") as raised:
        read_image(path)
    assert raised.value.path == str(path)
    out = write_image(tmp_path / f"out{suffix_for(fmt)}", picture)
    again = load_image(out)
    assert again.n_frames == 3 and [int(f[0, 0, 0]) for f in again.frames] == [20, 80, 140]
    if fmt != "TIFF":
        assert again.durations == (100, 200, 300)


def test_single_frame_format_refuses_several_frames():
    picture = Picture(frames=tuple(np.asarray(f) for f in _frames()), alpha=None, format="GIF")
    with pytest.raises(ValueError, match="format"):
        encode_image(picture, format="JPEG")


# --------------------------------------------------------------------------- limits and errors


def _bomb_png() -> bytes:
    return _png(60000, 60000, 8, 2, b"\x00" * 64)


def _bomb_gif() -> bytes:
    screen = struct.pack("<HH", 60000, 60000) + b"\x00\x00\x00"
    descriptor = b"," + struct.pack("<HHHH", 0, 0, 60000, 60000) + b"\x00"
    return b"GIF89a" + screen + descriptor + b"\x02\x02\x4c\x01\x00;"


@pytest.mark.parametrize("make", [_bomb_png, _bomb_gif], ids=["png", "gif"])
def test_declared_size_over_the_limit_is_rejected_before_decoding(make, tmp_path):
    path = tmp_path / "bomb"
    path.write_bytes(make())
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="60000x60000") as raised:
        load_image(path)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 20_000_000
    assert str(path) in str(raised.value)


def test_max_pixels_is_configurable_and_counts_frames():
    data = encode_image(_pixels(), format="PNG")  # 56 x 40 = 2240 pixels
    assert load_image(data, max_pixels=2240).size == (56, 40)
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_pixels=2239)
    first, *rest = _frames()  # 3 x 16 x 12 = 576
    gif = _save(first, "GIF", save_all=True, append_images=rest)
    with pytest.raises(ImageTooLargeError, match="3 frames"):
        load_image(gif, max_pixels=500)
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(data, max_pixels=0)


def test_pillow_globals_are_untouched():
    from PIL import ImageFile

    limit, truncated_flag = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    load_image(encode_image(_pixels(), format="JPEG"))
    with pytest.raises(ImageTooLargeError):
        load_image(_bomb_png())
    assert limit == Image.MAX_IMAGE_PIXELS and truncated_flag == ImageFile.LOAD_TRUNCATED_IMAGES


BROKEN = {
    "empty": (b"", UnsupportedImageError, "empty"),
    "random bytes": (np.random.default_rng(7).bytes(4096), UnsupportedImageError, "not a supported image"),
    "text named .jpg": (b"Dear diary, today I took a photo.\n" * 20, UnsupportedImageError, "not a supported image"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_non_images_are_clear_errors(case, tmp_path):
    data, error, reason = BROKEN[case]
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    with pytest.raises(error, match=reason) as raised:
        load_image(path)
    assert str(raised.value).startswith(f"{path}: ")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "TIFF", "HEIF"])
def test_truncated_files_are_corrupt(fmt, tmp_path, astronaut):
    data = encode_image(np.ascontiguousarray(astronaut[:128, :128]), format=fmt)
    path = tmp_path / "cut"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImageError) as raised:
        load_image(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_missing_file_is_an_image_error(tmp_path):
    with pytest.raises(facesafe.ImageError, match="cannot read"):
        load_image(tmp_path / "nope.jpg")


def test_corrupt_exif_warns_and_keeps_pixels():
    pixels = _pixels()
    clean = _save(Image.fromarray(pixels), "JPEG", quality=95)
    garbage = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\xde\xad" * 20
    dirty = clean[:2] + b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage + clean[2:]
    with pytest.warns(MetadataWarning, match="orientation taken as 1"):
        got = read_image(dirty)
    assert np.array_equal(got, read_image(clean))


# --------------------------------------------------------------------------- writing


def test_write_image_refuses_to_overwrite_and_replaces_on_request(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        write_image(path, _pixels())
    assert path.read_bytes() == b"precious"
    write_image(path, _pixels(), overwrite=True)
    assert np.array_equal(read_image(path), _pixels())
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_link(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "link", broken_link)
    monkeypatch.setattr(os, "replace", broken_link)
    with pytest.raises(OutputError, match="Permission denied"):
        write_image(tmp_path / "out.jpg", _pixels())
    assert os.listdir(tmp_path) == []


def test_failed_encode_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="image"):
        write_image(tmp_path / "out.jpg", np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="format"):
        write_image(tmp_path / "out.unknown", _pixels())
    assert os.listdir(tmp_path) == []


def test_write_image_format_follows_suffix_and_jpeg_drops_alpha(tmp_path):
    rgba = Picture(frames=(_pixels(),), alpha=(np.zeros((40, 56), np.uint8),), format="PNG")
    out = write_image(tmp_path / "a.jpeg", rgba)
    assert sniff_format(out.read_bytes()[:32]) == "JPEG" and load_image(out).alpha is None
    png = load_image(write_image(tmp_path / "a.png", rgba))
    assert np.array_equal(png.alpha[0], rgba.alpha[0]) and np.array_equal(png.frames[0], rgba.frames[0])
    assert sniff_format(write_image(tmp_path / "b.x", _pixels(), format="webp").read_bytes()[:32]) == "WEBP"


def test_encode_rejects_bad_arguments():
    with pytest.raises(ValueError, match="quality"):
        encode_image(_pixels(), format="JPEG", quality=0)
    with pytest.raises(TypeError, match="image"):
        encode_image([[1, 2, 3]], format="PNG")


def test_picture_validates_and_replaces():
    picture = Picture(frames=[_pixels()], alpha=None, format="jpg")
    assert picture.format == "JPEG" and picture.size == (56, 40) and picture.n_frames == 1
    darker = dataclasses.replace(picture, frames=(picture.frames[0] // 2,))
    assert darker.frames[0].max() < picture.frames[0].max() and darker.format == "JPEG"
    with pytest.raises(ValueError, match="frames"):
        Picture(frames=(), alpha=None, format="PNG")
    with pytest.raises(ValueError, match="alpha"):
        Picture(frames=(_pixels(),), alpha=(np.zeros((2, 2), np.uint8),), format="PNG")
