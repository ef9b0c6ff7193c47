"""facesafe._metadata: outputs carry nothing but pixels, judged by exiftool and a raw byte search."""

from __future__ import annotations

import io
import os
import pathlib
import shutil
import struct
import warnings
from functools import partial

import numpy as np
import pytest
from _dirty import exiftool_tags, leaked_tokens, make_dirty, non_structural
from PIL import Image, ImageOps

from facesafe import (
    CorruptImageError,
    OutputExistsError,
    UnsupportedImageError,
    encode_image,
    load_image,
    read_image,
    read_metadata,
    strip_metadata,
    write_image,
)
from facesafe._io import output_format, suffix_for
from facesafe._jpeg import scan_jpeg

KINDS = ["JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP", "HEIF", "AVIF", "MPO", "TRAILER", "ROTATED"]


@pytest.fixture(scope="module")
def judge() -> str | None:
    """exiftool when installed; without it, metadata is planted by Pillow and only bytes are searched."""
    return shutil.which("exiftool")


@pytest.fixture(scope="module")
def dirty(tmp_path_factory, judge) -> dict[str, pathlib.Path]:
    """One file per kind, loaded with EXIF, GPS, XMP face regions, IPTC, ICC, comments, text, thumbnails."""
    return make_dirty(tmp_path_factory.mktemp("dirty"), judge)


@pytest.fixture(scope="module")
def cleaned(dirty, tmp_path_factory, judge) -> dict[tuple[str, str], tuple[pathlib.Path, dict | None]]:
    """``(kind, "write" | "strip") -> (output, exiftool tags or None)`` for every dirty file."""
    out = tmp_path_factory.mktemp("clean")
    outputs = {}
    for kind, path in dirty.items():
        picture = load_image(path)
        suffix = suffix_for(output_format(picture.format))
        outputs[kind, "write"] = write_image(out / f"write-{kind}{suffix}", picture)
        outputs[kind, "strip"] = strip_metadata(path, out / f"strip-{kind}{suffix}")
    tags = exiftool_tags(judge, list(outputs.values())) if judge else {}
    return {key: (path, tags.get(path.name)) for key, path in outputs.items()}


def test_the_judge_sees_the_planted_metadata(dirty, exiftool):
    tags = exiftool_tags(exiftool, list(dirty.values()))
    for kind, path in dirty.items():
        if kind == "BMP":
            continue  # BMP has nowhere to put metadata
        assert non_structural(tags[path.name]), kind
        assert leaked_tokens(path.read_bytes()), kind
    jpeg = tags[dirty["JPEG"].name]
    for key in ("IFD0:Artist", "GPS:GPSLatitude", "XMP-mwg-rs:RegionName", "IPTC:By-line", "IFD1:ThumbnailImage",
                "ICC_Profile:ProfileDescription", "File:Comment"):  # fmt: skip
        assert key in jpeg, key


@pytest.mark.parametrize("how", ["write", "strip"])
@pytest.mark.parametrize("kind", KINDS)
def test_outputs_carry_only_structure(cleaned, kind, how):
    path, tags = cleaned[kind, how]
    assert leaked_tokens(path.read_bytes()) == []
    if tags is not None:
        assert non_structural(tags) == {}
    assert load_image(path).n_frames == 1


def test_jpeg_strip_is_lossless(dirty, cleaned):
    source = dirty["JPEG"].read_bytes()
    stripped = cleaned["JPEG", "strip"][0].read_bytes()
    original_pixels = np.asarray(Image.open(io.BytesIO(source)).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(stripped)).convert("RGB")), original_pixels)
    scan = next(s for s in scan_jpeg(source).segments if s.marker == 0xDA)
    assert source[scan.start : scan.end] in stripped  # entropy-coded data copied byte for byte
    assert stripped.endswith(b"\xff\xd9") and len(stripped) < len(source)
    segments = [s["marker"] for s in read_metadata(cleaned["JPEG", "strip"][0])["segments"]]
    assert segments == ["SOI", "APP0", "DQT", "DQT", "SOF0", "DHT", "DHT", "DHT", "DHT", "SOS", "EOI"]


def test_mpo_keeps_only_the_primary_image(dirty, cleaned):
    primary = np.asarray(Image.open(dirty["MPO"]).convert("RGB"))
    stripped = cleaned["MPO", "strip"][0]
    assert np.array_equal(read_image(stripped), primary)
    assert stripped.read_bytes().count(b"\xff\xd8") == 1
    assert read_metadata(stripped)["thumbnails"] == []


def test_rotated_jpeg_is_turned_upright(dirty, cleaned):
    expected = np.asarray(ImageOps.exif_transpose(Image.open(dirty["ROTATED"])).convert("RGB"))
    for how in ("write", "strip"):
        path = cleaned["ROTATED", how][0]
        got = np.asarray(Image.open(path).convert("RGB"))  # a viewer that ignores EXIF sees it upright
        assert got.shape == expected.shape == (64, 48, 3)
        assert np.abs(got.astype(int) - expected).mean() < 3
        assert read_metadata(path)["orientation"] == 1


def test_lossless_sources_stay_lossless(dirty, cleaned):
    for kind in ("PNG", "TIFF", "BMP", "GIF"):
        assert np.array_equal(read_image(cleaned[kind, "strip"][0]), read_image(dirty[kind])), kind


def test_cmyk_jpeg_keeps_a_minimal_adobe_marker(tmp_path):
    source = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 8), (10, 200, 30, 40)).save(source, "JPEG", quality=95, comment=b"FSLEAK")
    out = strip_metadata(source, tmp_path / "out.jpg")
    data = out.read_bytes()
    assert b"Adobe" in data and b"JFIF" not in data and b"FSLEAK" not in data
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(source)))
    markers = [s["marker"] for s in read_metadata(out)["segments"]]
    assert markers.count("APP14") == 1 and not {"APP0", "APP1", "APP2", "COM"} & set(markers)


def test_truncated_jpeg_is_refused_and_nothing_written(dirty, tmp_path):
    data = dirty["JPEG"].read_bytes()
    for cut in (len(data) - 2, len(data) // 2, 300):
        source = tmp_path / f"cut{cut}.jpg"
        source.write_bytes(data[:cut])
        with pytest.raises(CorruptImageError, match="truncated") as raised:
            strip_metadata(source, tmp_path / "out" / f"cut{cut}.jpg")
        assert str(raised.value).startswith(str(source))
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_strip_refuses_non_images_and_existing_outputs(dirty, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(UnsupportedImageError):
        strip_metadata(text, tmp_path / "a.jpg")
    existing = tmp_path / "b.jpg"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        strip_metadata(dirty["JPEG"], existing)
    assert existing.read_bytes() == b"keep me"
    strip_metadata(dirty["JPEG"], existing, overwrite=True)
    assert leaked_tokens(existing.read_bytes()) == []


def test_strip_checks_the_pixel_limit_from_the_header(dirty, tmp_path):
    from facesafe import ImageTooLargeError

    with pytest.raises(ImageTooLargeError):
        strip_metadata(dirty["JPEG"], tmp_path / "a.jpg", max_pixels=100)
    with pytest.raises(ImageTooLargeError):
        strip_metadata(dirty["PNG"], tmp_path / "a.png", max_pixels=100)


def test_strip_output_format_follows_the_destination(dirty, tmp_path):
    out = strip_metadata(dirty["JPEG"], tmp_path / "as.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_read_metadata_reports_what_was_planted(dirty, exiftool):
    report = read_metadata(dirty["JPEG"])
    assert report["format"] == "JPEG" and report["size"] == [64, 48]
    assert report["exif"]["Artist"] == "FSLEAK-Artist" and report["exif"]["Copyright"] == "FSLEAK-Copyright"
    assert report["gps"]["GPSLatitudeRef"] == "N" and report["gps"]["GPSLatitude"][0] == 48.0
    assert "FSLEAK-FaceName" in report["xmp"]
    assert report["iptc"]["By-line"] == "FSLEAK-Byline"
    assert report["icc"]["description"] == "FSLEAK-ICCPro"
    assert "FSLEAK-Comment" in report["comments"]
    assert report["thumbnails"][0]["source"] == "EXIF IFD1"
    labels = {s.get("label") for s in report["segments"]}
    assert {"Exif", "ICC_PROFILE", "Photoshop 3.0", "http://ns.adobe.com/xap/1.0/"} <= labels
    png = read_metadata(dirty["PNG"])
    assert png["text"]["Author"] == "FSLEAK-PngText" and "FSLEAK-FaceName" in png["xmp"]
    assert read_metadata(dirty["TRAILER"])["segments"][-1]["marker"] == "trailing data"
    assert read_metadata(dirty["HEIF"])["exif"]["Artist"] == "FSLEAK-Artist"


def test_read_metadata_survives_corrupt_exif():
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "JPEG")
    clean = buf.getvalue()
    garbage = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\xde\xad" * 20
    dirty = clean[:2] + b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage + clean[2:]
    report = read_metadata(dirty)
    assert report["errors"] and report["format"] == "JPEG"


def _jpeg_with(pixels: np.ndarray, *, exif: bytes | None = None, xmp: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    options = {"exif": exif} if exif else {}
    if xmp:
        options["xmp"] = xmp
    Image.fromarray(pixels).save(buf, "JPEG", quality=95, **options)
    return buf.getvalue()


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_strip_turns_every_orientation_like_load_image(orientation, endian, tmp_path):
    pixels = np.zeros((24, 16, 3), np.uint8)
    pixels[:6, :4] = 255  # a marker in one corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.endian = endian
    source = tmp_path / "in.jpg"
    source.write_bytes(_jpeg_with(pixels, exif=exif.tobytes()))
    out = strip_metadata(source, tmp_path / "out.jpg")
    expected = read_image(source)
    got = np.asarray(Image.open(out).convert("RGB"))  # no tag left: what any viewer shows
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected).mean() < 2
    if orientation == 1:
        assert np.array_equal(got, expected)  # untouched pixels: lossless


def test_strip_honours_xmp_only_orientation(tmp_path):
    pixels = np.zeros((24, 16, 3), np.uint8)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    source = tmp_path / "in.jpg"
    source.write_bytes(_jpeg_with(pixels, xmp=xmp))
    assert read_image(source).shape == (16, 24, 3)
    assert np.asarray(Image.open(strip_metadata(source, tmp_path / "out.jpg"))).shape == (16, 24, 3)


def test_strip_of_corrupt_exif_warns_and_stays_lossless(tmp_path):
    from facesafe import MetadataWarning

    pixels = np.full((8, 8, 3), 90, np.uint8)
    clean = _jpeg_with(pixels)
    garbage = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\xde\xad" * 20
    source = tmp_path / "in.jpg"
    source.write_bytes(clean[:2] + b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage + clean[2:])
    with pytest.warns(MetadataWarning, match=str(source)):
        out = strip_metadata(source, tmp_path / "out.jpg")
    assert b"\xde\xad\xde\xad" not in out.read_bytes()
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(io.BytesIO(clean))))


def test_read_metadata_of_clean_outputs_is_empty():
    pixels = np.zeros((8, 8, 3), np.uint8)
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP", "HEIF", "AVIF"):
        report = read_metadata(encode_image(pixels, format=fmt))
        carried = {k: v for k, v in report.items() if k not in ("path", "format", "size", "mode", "n_frames",
                                                                 "orientation", "segments") and v}  # fmt: skip
        assert carried == {} and report["orientation"] == 1, fmt
    tiff = read_metadata(_tiff_with_artist())
    assert tiff["exif"] == {"Artist": "FSLEAK"}


def _tiff_with_artist() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buf, "TIFF", tiffinfo={0x013B: "FSLEAK"})
    return buf.getvalue()


@pytest.mark.parametrize(
    "options", [{"progressive": True}, {"restart_marker_rows": 1}, {"subsampling": 0, "quality": 100}], ids=str
)
def test_jpeg_strip_is_lossless_for_progressive_and_restart_markers(options, tmp_path, astronaut):
    source = tmp_path / "in.jpg"
    Image.fromarray(astronaut[:96, :128]).save(source, "JPEG", comment=b"FSLEAK", **options)
    out = strip_metadata(source, tmp_path / "out.jpg")
    assert b"FSLEAK" not in out.read_bytes()
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(source)))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF"])
def test_damaged_files_only_ever_raise_facesafe_errors(fmt, tmp_path, astronaut):
    """Flipped bytes, cuts and overwrites: every outcome is a clean result or a FacesafeError, never a crash."""
    from facesafe import FacesafeError

    base = encode_image(np.ascontiguousarray(astronaut[:48, :64]), format=fmt)
    rng = np.random.default_rng(sum(map(ord, fmt)))
    for case in range(24):
        data = bytearray(base)
        if case % 3 == 0:
            for _ in range(int(rng.integers(1, 8))):
                data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        elif case % 3 == 1:
            data = data[: int(rng.integers(1, len(data)))]
        else:
            at = int(rng.integers(0, len(data)))
            data[at : at + 32] = rng.bytes(32)
        out = tmp_path / f"{case}{suffix_for(fmt)}"
        damaged = bytes(data)
        for action in (partial(load_image, damaged), partial(read_metadata, damaged), partial(strip_metadata, damaged, out)):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    action()
            except FacesafeError:
                assert not out.exists()


def test_structural_segments_with_extra_bytes_are_refused(tmp_path):
    """Segments are copied verbatim, so one longer than its tables (room to hide data) is refused."""
    data = _jpeg_with(np.zeros((8, 8, 3), np.uint8))
    at = data.index(b"\xff\xdb")  # first DQT
    length = int.from_bytes(data[at + 2 : at + 4], "big")
    padded = data[:at + 2] + (length + 6).to_bytes(2, "big") + data[at + 4 : at + 2 + length] + b"FSLEAK" + data[at + 2 + length :]
    source = tmp_path / "in.jpg"
    source.write_bytes(padded)
    with pytest.raises(CorruptImageError, match="malformed DQT"):
        strip_metadata(source, tmp_path / "out.jpg")
    assert not (tmp_path / "out.jpg").exists()
