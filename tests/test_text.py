"""TextDetector, TextReader and redact_regions on composed images.

A plate-like sign (black characters on a white plate with a border) and a
street sign are drawn with PIL on a noisy canvas at known places, so every
expected region is known exactly; the PP-OCRv4 models come from the
``rapidocr-onnxruntime`` wheel (the ``text`` extra, part of ``dev``).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

try:
    importlib.metadata.distribution("rapidocr-onnxruntime")
except importlib.metadata.PackageNotFoundError:  # rapidocr-onnxruntime 1.4.4 has no Python 3.13 release
    pytest.skip("needs the text extra (rapidocr-onnxruntime 1.4.4, Python <= 3.12)", allow_module_level=True)

from facesafe import Box, DetectionError, Face, MissingExtraError
from facesafe._detect._text import TextDetector, TextReader, text_model_path
from facesafe._redact._text import redact_regions

PLATE_TEXT = "KR 482 TZ"
SIGN_TEXT = "MAIN STREET"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def _font(size: int) -> ImageFont.FreeTypeFont:
    if DEJAVU.exists():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)  # Pillow's own scalable font


def _draw_plate(image: Image.Image, x: int, y: int, text: str, size: int) -> Box:
    """Draw a white plate with a dark border and ``text``; return the plate box."""
    draw = ImageDraw.Draw(image)
    font = _font(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = size // 3
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=(245, 245, 240), outline=(20, 20, 20), width=max(2, size // 12))
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=(10, 10, 10))
    return Box(x, y, x + w, y + h)


def _scene(h: int = 480, w: int = 640, *, plate_size: int = 40, sign: bool = True, seed: int = 0):
    """A noisy grey canvas with a plate (and a long green street sign)."""
    rng = np.random.default_rng(seed)
    base = np.clip(rng.normal(110, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(base)
    plate = _draw_plate(image, w // 3, int(h * 0.65), PLATE_TEXT, plate_size)
    sign_box = None
    if sign:
        draw = ImageDraw.Draw(image)
        font = _font(26)
        left, top, right, bottom = draw.textbbox((0, 0), SIGN_TEXT, font=font)
        x, y = 40, 40
        sign_box = Box(x, y, x + right - left + 24, y + bottom - top + 24)
        draw.rectangle(sign_box.as_xyxy(), fill=(0, 110, 60))
        draw.text((x + 12 - left, y + 12 - top), SIGN_TEXT, font=font, fill=(255, 255, 255))
    return np.asarray(image), plate, sign_box


def _covered(regions, box: Box, width: int, height: int) -> float:
    """Share of ``box``'s pixels inside the union of the regions' boxes."""
    mask = np.zeros((height, width), bool)
    for r in regions:
        mask[r.box.to_slices(width=width, height=height)] = True
    return float(mask[box.to_slices(width=width, height=height)].mean())


def _similar(text: str, want: str) -> float:
    clean = lambda s: "".join(c for c in s.upper() if c.isalnum())  # noqa: E731
    return difflib.SequenceMatcher(None, clean(text), clean(want)).ratio()


@pytest.fixture(scope="module")
def plates() -> TextDetector:
    with TextDetector(kinds=("plate",), threads=1) as detector:
        yield detector


@pytest.fixture(scope="module")
def texts() -> TextDetector:
    with TextDetector(kinds=("plate", "text"), threads=1) as detector:
        yield detector


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader(threads=1)


@pytest.fixture(scope="module")
def scene():
    return _scene()


def test_plate_detector_finds_the_drawn_plate(plates, scene):
    image, plate, _ = scene
    found = plates(image)
    assert found and all(r.kind == "plate" and r.detector == "ppocr-det" for r in found)
    assert all(0 < r.score <= 1 for r in found)
    # the plate's middle (60% x 60%, the benchmark's core) is covered whole
    assert _covered(found, plate.expanded(0.6), 640, 480) == 1.0


def test_text_kind_also_finds_the_sign(texts, scene):
    image, plate, sign = scene
    found = texts(image)
    assert {r.kind for r in found} <= {"plate", "text"}
    assert _covered(found, plate.expanded(0.6), 640, 480) == 1.0
    assert _covered(found, sign.expanded(0.6), 640, 480) == 1.0


def test_blank_canvas_has_no_text(texts):
    blank = np.clip(np.random.default_rng(1).normal(110, 12, (240, 320, 3)), 0, 255).astype(np.uint8)
    assert texts(blank) == ()


@pytest.mark.parametrize("method", ["pixelate", "fill"])
def test_redaction_covers_the_plate_and_leaves_it_unreadable(plates, reader, scene, method):
    image, plate, _ = scene
    before = image.copy()
    # the recogniser reads the drawn plate: the check below can fail
    assert _similar(reader(image, plate)[0], PLATE_TEXT) >= 0.8
    found = plates(image)
    out = redact_regions(image, found, method=method)
    assert np.array_equal(image, before)  # input untouched
    assert out.shape == image.shape and out.dtype == np.uint8
    core = plate.expanded(0.6).to_slices(width=640, height=480)
    assert (out[core] != image[core]).any(axis=2).mean() > 0.9
    for box in (plate, plate.expanded(1.3)):
        text, _ = reader(out, box)
        assert _similar(text, PLATE_TEXT) < 0.3, text
    # nothing changes outside the regions
    outside = np.ones((480, 640), bool)
    for r in found:
        outside[r.box.to_slices(width=640, height=480)] = False
    assert np.array_equal(out[outside], image[outside])


def test_redaction_of_text_lines_leaves_the_sign_unreadable(texts, reader, scene):
    image, _, sign = scene
    assert _similar(reader(image, sign)[0], SIGN_TEXT) >= 0.8
    out = redact_regions(image, texts(image))
    assert _similar(reader(out, sign)[0], SIGN_TEXT) < 0.3


def test_redact_regions_fill_colour_and_arguments():
    image = np.full((20, 40, 3), 200, np.uint8)
    region = Face(Box(10, 5, 30, 15), kind="text")
    out = redact_regions(image, [region], method="fill", color="ff00ff")
    assert (out[5:15, 10:30] == (255, 0, 255)).all()
    assert (out[:5] == 200).all() and (out[:, :10] == 200).all()
    with pytest.raises(ValueError, match="method"):
        redact_regions(image, [region], method="synthetic")
    with pytest.raises(ValueError, match="cells"):
        redact_regions(image, [region], cells=0)


def test_tiles_find_small_text_the_shrunk_pass_misses():
    image, plate, _ = _scene(960, 1280, plate_size=14, sign=False, seed=2)
    shrunk = TextDetector(kinds=("plate",), max_side=200, threads=1)
    tiled = TextDetector(kinds=("plate",), max_side=200, tiles=True, threads=1)
    assert _covered(shrunk(image), plate.expanded(0.6), 1280, 960) < 0.9
    assert _covered(tiled(image), plate.expanded(0.6), 1280, 960) == 1.0


def test_detector_is_thread_safe(plates, scene):
    image, _, _ = scene
    alone = plates(image)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(plates, [image] * 4))
    assert all(r == alone for r in results)


def test_detector_arguments():
    with pytest.raises(ValueError, match="kinds"):
        TextDetector(kinds=("face",))
    with pytest.raises(ValueError, match="kinds"):
        TextDetector(kinds=())
    with pytest.raises(ValueError, match="max_side"):
        TextDetector(max_side=10)
    with pytest.raises(ValueError, match="threads"):
        TextDetector(threads=0)
    with pytest.raises(TypeError, match="tiles"):
        TextDetector(tiles="yes")
    with pytest.raises(ValueError, match="which"):
        text_model_path("cls")


def test_detector_rejects_bad_images_and_fails_closed(plates):
    with pytest.raises(ValueError, match="uint8 RGB"):
        plates(np.zeros((10, 10), np.uint8))
    detector = TextDetector(threads=1)
    detector.close()
    with pytest.raises(DetectionError, match="closed"):
        detector(np.zeros((64, 64, 3), np.uint8))


def test_pickle_keeps_settings_and_reloads(scene):
    detector = TextDetector(kinds="text", max_side=640, tiles=True, threads=1)
    clone = pickle.loads(pickle.dumps(detector))
    assert repr(clone) == repr(detector) == "TextDetector(kinds=('text',), max_side=640, tiles=True, threads=1)"
    assert clone(scene[0]) == detector(scene[0])


def test_missing_models_say_how_to_install(without_text_extra):
    with pytest.raises(MissingExtraError, match=r"facesafe\[text\]") as caught:
        TextDetector()
    assert caught.value.extra == "text"


def test_models_are_read_from_the_wheel_without_importing_it():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from facesafe._detect._text import TextDetector\n"
        "TextDetector(threads=1)(np.zeros((64, 64, 3), np.uint8))\n"
        "import os; assert os.environ['ORT_DISABLE_TELEMETRY'] == '1'\n"
        "assert 'rapidocr_onnxruntime' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
