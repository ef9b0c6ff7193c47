"""Boxes and faces: the records that flow from detection to redaction.

Pixel convention, used everywhere in facesafe: coordinates are in pixels of the
image as displayed (after EXIF orientation), ``x`` grows to the right and ``y``
downwards, the top-left corner of the image is ``(0, 0)``, and a box covers
``x0 <= x < x1`` and ``y0 <= y < y1`` (end exclusive). Coordinates are floats;
:meth:`Box.to_slices` rounds *outwards*, so that turning a box into pixels never
shrinks what it covers. Image sizes are passed by keyword, ``width=`` and
``height=``, everywhere in facesafe: a swap would misplace regions on
non-square images without an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Box", "Face", "KINDS"]

#: What a detected region can be: a face, a licence plate, a line of text.
KINDS = ("face", "plate", "text")


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box ``[x0, x1) x [y0, y1)`` in pixels (see module doc).

    >>> Box(10, 20, 30, 60).expanded(1.5)
    Box(x0=5.0, y0=10.0, x1=35.0, y1=70.0)
    """

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        coords = (self.x0, self.y0, self.x1, self.y1)
        if not all(math.isfinite(c) for c in coords):
            raise ValueError(f"Box coordinates must be finite, got {coords}")
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(f"Box needs x0 <= x1 and y0 <= y1, got {coords}")

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> Box:
        """Build a box from its top-left corner, width and height."""
        return cls(float(x), float(y), float(x + w), float(y + h))

    @property
    def width(self) -> float:
        """``x1 - x0``."""
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        """``y1 - y0``."""
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        """Width times height."""
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        """``(cx, cy)``."""
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def as_xyxy(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``."""
        return (self.x0, self.y0, self.x1, self.y1)

    def as_xywh(self) -> tuple[float, float, float, float]:
        """``(x0, y0, width, height)``."""
        return (self.x0, self.y0, self.width, self.height)

    def expanded(self, factor: float = 1.0, *, margin: float = 0.0) -> Box:
        """Grow (or shrink) the box about its centre.

        ``factor`` scales width and height (1.3 makes the box 30% wider and
        taller); ``margin`` then adds that many pixels on every side.
        """
        if factor <= 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        cx, cy = self.center
        hw = self.width * factor / 2 + margin
        hh = self.height * factor / 2 + margin
        hw, hh = max(hw, 0.0), max(hh, 0.0)
        return Box(cx - hw, cy - hh, cx + hw, cy + hh)

    def clipped(self, *, width: int, height: int) -> Box:
        """The part of the box inside an image of ``width`` x ``height`` pixels.

        A box wholly outside the image becomes an empty box on its border.
        """
        x0 = min(max(self.x0, 0.0), float(width))
        y0 = min(max(self.y0, 0.0), float(height))
        x1 = min(max(self.x1, x0), float(width))
        y1 = min(max(self.y1, y0), float(height))
        return Box(x0, y0, x1, y1)

    def to_slices(self, *, width: int | None = None, height: int | None = None) -> tuple[slice, slice]:
        """``(rows, cols)`` slices covering every pixel the box touches.

        Rounds outwards (``floor`` of the start, ``ceil`` of the end). When the
        image size is given the slices are clipped to it, last row and column
        included.
        """
        x0, y0 = max(math.floor(self.x0), 0), max(math.floor(self.y0), 0)
        x1, y1 = max(math.ceil(self.x1), x0), max(math.ceil(self.y1), y0)
        if width is not None:
            x0, x1 = min(x0, width), min(x1, width)
        if height is not None:
            y0, y1 = min(y0, height), min(y1, height)
        return slice(y0, y1), slice(x0, x1)

    def intersection(self, other: Box) -> float:
        """Area shared with ``other``."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(w, 0.0) * max(h, 0.0)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0 when both are empty)."""
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def __iter__(self) -> Iterator[float]:
        return iter(self.as_xyxy())


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face.

    Attributes:
        box: where the face is (forehead to chin, ear to ear, roughly).
        score: the detector's confidence in ``[0, 1]``.
        landmarks: named points as ``(name, x, y)`` triples, e.g.
            ``("left_eye", 120.5, 80.0)``; "left" is the subject's left.
        detector: name of the detector (and pass) that found the face.
        mesh: optional ``(N, 2)`` float array of dense landmarks (MediaPipe
            FaceMesh, N = 478) in image pixels, read-only; used for
            outline masks and synthetic replacement. Not compared or hashed.
        kind: what the region is, one of :data:`KINDS`: ``"face"`` (the
            default), ``"plate"`` (a licence plate) or ``"text"`` (a line of
            readable text). Redactions do not read it: which one applies
            to which kind is the caller's choice (plates and text: a fill
            or a mosaic over the box, never a synthetic face).
    """

    box: Box
    score: float = 1.0
    landmarks: tuple[tuple[str, float, float], ...] = ()
    detector: str = ""
    mesh: np.ndarray | None = field(default=None, compare=False, hash=False, repr=False)
    kind: str = "face"

    def __post_init__(self) -> None:
        if not isinstance(self.box, Box):
            raise TypeError(f"box must be a Box, got {type(self.box).__name__}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.mesh is not None:
            mesh = np.array(self.mesh, dtype=np.float64)
            if mesh.ndim != 2 or mesh.shape[1] != 2:
                raise ValueError(f"mesh must have shape (N, 2), got {mesh.shape}")
            mesh.setflags(write=False)
            object.__setattr__(self, "mesh", mesh)

    def landmark(self, name: str) -> tuple[float, float] | None:
        """The ``(x, y)`` of the landmark called ``name``, or ``None``."""
        for n, x, y in self.landmarks:
            if n == name:
                return (x, y)
        return None
