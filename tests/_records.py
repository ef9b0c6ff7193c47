"""Images for dataset tests: composed photos with red "faces" and identifying metadata.

Every image is a JPEG or PNG carrying planted ``FSLEAK`` metadata (Pillow's
EXIF, ICC profile and comment; with exiftool, its tags too), so that a record
passed through unchanged is caught by a byte search and by exiftool.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from _dirty import PLANTED_TAGS, exiftool_tags, icc_profile_bytes, leaked_tokens, non_structural, pillow_exif
from _fakes import draw_face
from PIL import Image

MARKER = (0, 255, 0)  # a pure-green 4 x 4 marker: where it lands after a crop is checked


def photo(seed: int, *, h: int = 96, w: int = 128, face: tuple[int, int, int] | None = (10, 20, 30)) -> np.ndarray:
    """Noise (kept below 200, so never red or green) with a red square face at ``(x, y, size)``."""
    image = np.random.default_rng(seed).integers(0, 200, (h, w, 3), dtype=np.uint8)
    if face is not None:
        draw_face(image, *face)
    return image


def mark(image: np.ndarray, x: int, y: int) -> np.ndarray:
    """Put a green 4 x 4 marker with its top-left corner at ``(x, y)``, in place."""
    image[y : y + 4, x : x + 4] = MARKER
    return image


def dirty(image: np.ndarray, fmt: str = "JPEG", *, exiftool: str | None = None) -> bytes:
    """``image`` encoded in ``fmt`` with planted identifying metadata."""
    buffer = io.BytesIO()
    options = {"quality": 95, "comment": b"FSLEAK-Comment"} if fmt == "JPEG" else {}
    Image.fromarray(image).save(buffer, fmt, exif=pillow_exif(), icc_profile=icc_profile_bytes(), **options)
    data = buffer.getvalue()
    if exiftool is None:
        return data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x.{fmt.lower()}"
        path.write_bytes(data)
        subprocess.run([exiftool, "-q", "-q", "-m", "-overwrite_original", *PLANTED_TAGS, str(path)], check=True, capture_output=True)
        return path.read_bytes()


def assert_clean(images: dict[str, bytes], exiftool: str | None) -> None:
    """No planted token in any image's bytes; exiftool (when given) lists only structural tags."""
    for name, data in images.items():
        assert leaked_tokens(data) == [], name
    if exiftool is None or not images:
        return
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, data in enumerate(images.values()):
            path = Path(folder) / f"{index}.img"
            path.write_bytes(data)
            paths.append(path)
        tags = exiftool_tags(exiftool, paths)
        for path in paths:
            assert non_structural(tags[path.name]) == {}, path.name


def pixels(data: bytes) -> np.ndarray:
    """Decoded RGB pixels of encoded bytes (Pillow, independently of facesafe)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
