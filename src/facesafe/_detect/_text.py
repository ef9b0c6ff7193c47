"""Text and licence plates: PP-OCRv4 detection (and recognition) on onnxruntime.

The networks are the ONNX files inside the ``rapidocr-onnxruntime`` wheel
(Apache-2.0; the ``facesafe[text]`` extra). facesafe never imports that package
(it imports onnxruntime itself, before facesafe can turn telemetry off, and
pulls in its own pre- and post-processing): only its two model files are read,
by path, and run here on onnxruntime from :mod:`facesafe._ort`.

*Detection* (PP-OCRv4 det, a DB text segmenter): for a BGR float input of
``H x W`` (multiples of 32, ``(x / 255 - 0.5) / 0.5``) it predicts, per pixel,
the probability of lying inside a text line. Lines are the connected regions
above ``_BIN`` whose mean probability reaches ``_BOX_SCORE``; each is grown by
the DB rule (``area * 1.6 / perimeter`` on every side) back to the line's full
extent and returned as an axis-aligned box.

Small text needs pixels: a plate 16 px tall carries characters ~10 px tall,
at the limit of the network. The image is looked at whole, shrunk to
``max_side`` (960 px: every plate of plates-dev, 12 px tall and up at that
scale, is found); with ``tiles=True`` a larger image is also looked at in
overlapping full-resolution tiles, as the face detector's upscaled pass does,
for small text in large photos (about 2.5x the time on 1280 px photos).

*Kinds.* ``"text"`` is every text line found. ``"plate"`` is a line with a
plate's shape: wider than tall (``_PLATE_ASPECT``) and not a sliver of the
image, grown to the plate around it (``_PLATE_GROW``). Which rule keeps
plate recall at its best with the least area masked is measured in
``benchmarks/plates.py`` (figures in docs/detection.md).

*Recognition* (PP-OCRv4 rec, CTC over 6623 symbols whose list is stored in the
model's metadata) is used only to check redaction strength:
:class:`TextReader` reads what is left of a region after redaction.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence

import numpy as np

from .._errors import DetectionError
from .._geometry import Box, Face
from .._ort import onnxruntime
from .._protocols import Closeable
from .._targets import text_model_path
from ._detector import _check_image, _failing_closed

__all__ = ["TextDetector", "TextReader", "TEXT_KINDS", "text_model_path"]


#: The region kinds a :class:`TextDetector` can return.
TEXT_KINDS = ("plate", "text")

_BIN = 0.3  # probability a pixel must exceed to be text
_BOX_SCORE = 0.5  # mean probability over a line for it to count
_UNCLIP = 1.6  # DB's rule: grow a line by area * ratio / perimeter
_MIN_SIDE = 3  # net px: thinner regions are noise
_TILE = 640  # side (original px) of the full-resolution tiles
_OVERLAP = 96  # original px shared by neighbouring tiles
_PLATE_ASPECT = (1.2, 12.0)  # width / height of a plate's text line
_PLATE_GROW = 1.25  # a plate line's box grown to the plate around it


def _session(path: pathlib.Path, threads: int | None):
    ort = onnxruntime()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise DetectionError(f"cannot load {path.name}: {type(exc).__name__}: {exc}") from exc


def _check_threads(threads: object) -> None:
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be None or an int >= 1, got {threads!r}")


def _resize(image: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    if (w, h) == (image.shape[1], image.shape[0]):
        return image
    interp = cv2.INTER_AREA if w < image.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interp)


def _det_blob(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (h, w, 3), h and w multiples of 32 -> float32 (1, 3, h, w) BGR normalised."""
    bgr = rgb[..., ::-1].astype(np.float32)
    return ((bgr * (2 / 255.0) - 1.0).transpose(2, 0, 1))[None]


def _lines(prob: np.ndarray) -> list[tuple[float, float, float, float, float]]:
    """Text lines of one probability map: ``(x0, y0, x1, y1, score)`` in map px."""
    import cv2

    mask = cv2.dilate((prob > _BIN).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < _MIN_SIDE:
            continue
        x, y, w, h = cv2.boundingRect(contour)
        poly = np.zeros((h, w), np.uint8)
        cv2.fillPoly(poly, [contour.reshape(-1, 2) - (x, y)], 1)  # type: ignore[call-overload]  # cv2's stubs want a Scalar sequence; one channel takes an int
        score = float(cv2.mean(prob[y : y + h, x : x + w], poly)[0])
        if score < _BOX_SCORE:
            continue
        # DB's unclip: the shrunk kernel grown back by area * ratio / perimeter.
        d = rw * rh * _UNCLIP / (2 * (rw + rh))
        pts = cv2.boxPoints(((cx, cy), (rw + 2 * d, rh + 2 * d), angle))
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        out.append((float(x0), float(y0), float(x1), float(y1), score))
    return out


class TextDetector(Closeable):
    """Finds text lines and licence plates with PP-OCRv4 (onnxruntime).

    >>> with TextDetector(kinds=("plate",)) as detector:       # doctest: +SKIP
    ...     plates = detector(image)

    Args:
        kinds: which regions to return: ``"plate"`` (text lines shaped like
            a plate, grown to the plate), ``"text"`` (every text line), or both.
        max_side: long side (px) of the whole-image pass; larger images are
            shrunk for it.
        tiles: also look at an image larger than ``max_side`` in
            overlapping full-resolution tiles (small text; slower).
        threads: onnxruntime intra-op threads (``None``: one per core).

    Calling returns a tuple of :class:`~facesafe.Face` records whose ``kind``
    is ``"plate"`` or ``"text"``, best score first. Thread-safe: the one
    onnxruntime session is shared by every calling thread. Any model or
    runtime failure raises :class:`~facesafe.DetectionError` (never an empty
    result). Pickling keeps only the settings.
    """

    def __init__(
        self,
        *,
        kinds: Sequence[str] = ("plate",),
        max_side: int = 960,
        tiles: bool = False,
        threads: int | None = None,
    ) -> None:
        if isinstance(kinds, str):
            kinds = (kinds,)
        kinds = tuple(kinds)
        if not kinds or any(k not in TEXT_KINDS for k in kinds):
            raise ValueError(f"kinds must be a non-empty sequence of {TEXT_KINDS}, got {kinds!r}")
        if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 64:
            raise ValueError(f"max_side must be an int >= 64, got {max_side!r}")
        if not isinstance(tiles, bool):
            raise TypeError(f"tiles must be a bool, got {tiles!r}")
        _check_threads(threads)
        self.kinds = kinds
        self.max_side = max_side
        self.tiles = tiles
        self.threads = threads
        self._session = _session(text_model_path("det"), threads)

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        """Regions of ``image`` (uint8 RGB ``(H, W, 3)``), best score first."""
        image = _check_image(image)
        with _failing_closed("text detection"):
            lines = self._lines(image)
            return self._regions(lines, image.shape[1], image.shape[0])

    def close(self) -> None:
        """Release the model; the detector cannot be called afterwards."""
        self._session = None

    def __getstate__(self) -> dict:
        return {"kinds": self.kinds, "max_side": self.max_side, "tiles": self.tiles, "threads": self.threads}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)  # type: ignore[misc]  # rebuilt as the class it was pickled from

    def __repr__(self) -> str:
        return (
            f"TextDetector(kinds={self.kinds!r}, max_side={self.max_side!r}, "
            f"tiles={self.tiles!r}, threads={self.threads!r})"
        )

    # -- passes ------------------------------------------------------------

    def _prob(self, rgb: np.ndarray) -> np.ndarray:
        """Text probability map of ``rgb`` (any size), at ``rgb``'s size rounded to 32."""
        session = self._session
        if session is None:
            raise DetectionError("the detector was closed")
        h, w = rgb.shape[:2]
        ph, pw = max(32, round(h / 32) * 32), max(32, round(w / 32) * 32)
        out = session.run(None, {session.get_inputs()[0].name: _det_blob(_resize(rgb, pw, ph))})[0]
        return out[0, 0]

    def _pass(self, rgb: np.ndarray, ox: float, oy: float, fx: float, fy: float) -> list[tuple]:
        """Lines of one network input, mapped to original px by scale then offset."""
        prob = self._prob(rgb)
        sx, sy = rgb.shape[1] / prob.shape[1] * fx, rgb.shape[0] / prob.shape[0] * fy
        return [(x0 * sx + ox, y0 * sy + oy, x1 * sx + ox, y1 * sy + oy, sc) for x0, y0, x1, y1, sc in _lines(prob)]

    def _lines(self, image: np.ndarray) -> list[tuple]:
        H, W = image.shape[:2]
        s = min(1.0, self.max_side / max(H, W))
        base = _resize(image, max(1, round(W * s)), max(1, round(H * s)))
        lines = self._pass(base, 0.0, 0.0, W / base.shape[1], H / base.shape[0])
        if s < 1.0 and self.tiles:
            lines += self._tiles(image)
        return _merge(lines)

    def _tiles(self, image: np.ndarray) -> list[tuple]:
        H, W = image.shape[:2]
        step = _TILE - _OVERLAP
        out = []
        for y in range(0, max(H - _OVERLAP, 1), step):
            for x in range(0, max(W - _OVERLAP, 1), step):
                tile = image[y : min(y + _TILE, H), x : min(x + _TILE, W)]
                out += self._pass(tile, float(x), float(y), 1.0, 1.0)
        return out

    def _regions(self, lines: list[tuple], W: int, H: int) -> tuple[Face, ...]:
        regions = []
        for x0, y0, x1, y1, score in lines:
            box = Box(x0, y0, x1, y1)
            if "plate" in self.kinds and _plate_like(box, W, H):
                plate = box.expanded(_PLATE_GROW).clipped(width=W, height=H)
                regions.append(Face(plate, score=min(score, 1.0), detector="ppocr-det", kind="plate"))
            elif "text" in self.kinds:
                line = box.clipped(width=W, height=H)
                regions.append(Face(line, score=min(score, 1.0), detector="ppocr-det", kind="text"))
        regions = [r for r in regions if r.box.area > 0]
        regions.sort(key=lambda r: -r.score)
        return tuple(regions)


def _plate_like(box: Box, W: int, H: int) -> bool:
    lo, hi = _PLATE_ASPECT
    return box.height > 0 and lo <= box.width / box.height <= hi and box.width < 0.8 * W


def _merge(lines: list[tuple]) -> list[tuple]:
    """Lines found twice (whole image and a tile, or two tiles) kept once: a
    line with 60% or more of its area inside a larger one is dropped, and
    the larger one keeps the better of their scores."""
    lines = sorted(lines, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    kept: list[list[float]] = []
    for line in lines:
        b = Box(*line[:4])
        for k in kept:
            if b.area > 0 and Box(*k[:4]).intersection(b) >= 0.6 * b.area:
                k[4] = max(k[4], line[4])
                break
        else:
            kept.append(list(line))
    return [tuple(k) for k in kept]


class TextReader:
    """Reads one line of text with PP-OCRv4 recognition (onnxruntime).

    Used to check that a redacted region no longer reads:
    ``reader(image, box) -> (text, confidence)``.

    Args:
        threads: onnxruntime intra-op threads (``None``: one per core).
    """

    _HEIGHT = 48

    def __init__(self, *, threads: int | None = None) -> None:
        _check_threads(threads)
        self.threads = threads
        self._session = _session(text_model_path("rec"), threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise DetectionError("the PP-OCRv4 recogniser has no character list in its metadata")
        self._symbols = ["", *meta["character"].splitlines(), " "]

    def __call__(self, image: np.ndarray, box: Box | None = None) -> tuple[str, float]:
        """The text in ``image`` (uint8 RGB) within ``box`` (whole image if None) and
        its mean character confidence (``("", 0.0)`` when nothing reads)."""
        image = _check_image(image)
        if box is not None:
            image = image[box.to_slices(width=image.shape[1], height=image.shape[0])]
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            return ("", 0.0)
        tw = max(8, min(math.ceil(self._HEIGHT * w / h), 2000))
        crop = _resize(image, tw, self._HEIGHT)[..., ::-1].astype(np.float32)
        blob = (crop * (2 / 255.0) - 1.0).transpose(2, 0, 1)[None]
        probs = self._session.run(None, {self._session.get_inputs()[0].name: blob})[0][0]
        idx, conf = probs.argmax(axis=1), probs.max(axis=1)
        keep = np.ones(len(idx), bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        text = "".join(self._symbols[i] for i in idx[keep])
        return (text, float(conf[keep].mean()) if keep.any() else 0.0)
