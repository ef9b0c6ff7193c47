"""The JPEG tokeniser: one walk, strict for the writer, tolerant for reports; stray bytes alike in both."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facesafe._errors import CorruptImageError, UnsupportedImageError
from facesafe._jpeg import scan_jpeg
from facesafe._metadata import clean_bytes, read_metadata


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(3).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "JPEG", quality=80, comment=b"hello")
    return buffer.getvalue()


def _with_stray(data: bytes) -> tuple[bytes, int]:
    """``data`` with 6 stray bytes after its first segment (APP0), and where they start."""
    at = 4 + int.from_bytes(data[4:6], "big")
    return data[:at] + b"\x00\x00junk" + data[at:], at


def test_strict_and_tolerant_agree_on_a_whole_file():
    data = _jpeg()
    strict, tolerant = scan_jpeg(data), scan_jpeg(data, strict=False)
    assert strict == tolerant and strict.complete and strict.eoi_end == len(data)
    assert (strict.width, strict.height) == (32, 24) and strict.stray == ()


def test_stray_bytes_are_listed_and_never_copied():
    data = _jpeg()
    dirty, at = _with_stray(data)
    layout = scan_jpeg(dirty)
    assert layout.stray == ((at, 6),) and scan_jpeg(dirty, strict=False).stray == ((at, 6),)
    assert clean_bytes(dirty) == clean_bytes(data)  # the writer drops them
    report = read_metadata(dirty)
    assert {"marker": "stray bytes", "offset": at, "length": 6} in report["segments"]


def test_a_cut_file_is_corrupt_when_strict_and_partial_when_tolerant():
    data = _jpeg()
    cut = data[: len(data) - 40]
    with pytest.raises(CorruptImageError, match="truncated"):
        scan_jpeg(cut, "cut.jpg")
    partial = scan_jpeg(cut, strict=False)
    assert not partial.complete and partial.eoi_end == len(cut)
    assert [s.marker for s in partial.segments][:2] == [s.marker for s in scan_jpeg(data).segments][:2]
    assert read_metadata(cut)["segments"][-1] == {"marker": "truncated", "offset": len(cut), "length": 0}
    with pytest.raises(UnsupportedImageError):
        scan_jpeg(b"not a jpeg", strict=False)
