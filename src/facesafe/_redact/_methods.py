"""The redactions users pick: small frozen dataclasses over the pure kernels.

Every redaction is called as ``redaction(image, faces) -> new image``
(:class:`facesafe.Redaction`). All of them:

- never mutate ``image`` and change nothing outside the grown face regions
  (plus the ``feather`` ramp, when asked for);
- are deterministic: same input, same parameters, same output (noise is
  seeded by ``seed`` and the face's own pixels);
- keep shape and dtype (except :class:`Crop`, which cuts the image);
- take ``uint8`` images ``(H, W)`` or ``(H, W, C)``, C in 1..4; an alpha
  channel is kept as is, colour channels are redacted.

The shared mask options, on every method:

- ``shape``: ``"ellipse"`` (default), ``"box"``, or ``"outline"`` (the convex
  hull of the face's FaceMesh points, an ellipse when there is no mesh);
- ``grow``: each face region is the detected box grown by this factor about
  its centre (>= 1.0; 1.3 covers hair line, ears and chin);
- ``feather``: width of a soft edge *outside* the region, as a fraction of
  the face size (0 = hard edge). It never weakens the inside.

The defaults were calibrated with :func:`facesafe.audit.reidentification`
(``benchmarks/reid.py``; figures in ``docs/redactions.md``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from .._geometry import Box, Face
from .._protocols import Redacted, Redaction, as_redaction
from . import _kernels as K
from ._masks import check_mask_options, face_masks, grown_box

__all__ = ["Blur", "Pixelate", "Fill", "Crop", "parse_color", "check_fallback"]

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def parse_color(color: str | Sequence[int]) -> tuple[int, int, int]:
    """An ``(r, g, b)`` tuple from ``"RRGGBB"`` / ``"#RRGGBB"`` or a sequence of three ints 0-255.

    >>> parse_color("ff00FF"), parse_color((0, 128, 255))
    ((255, 0, 255), (0, 128, 255))
    """
    if isinstance(color, str):
        match = _HEX.fullmatch(color.strip())
        if match is None:
            raise ValueError(f"color must be 'RRGGBB' hex (e.g. 'ff00ff'), got {color!r}")
        value = match.group(1)
        return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
    try:
        values = tuple(color)
    except TypeError:
        raise TypeError(f"color must be an (r, g, b) tuple or an 'RRGGBB' string, got {color!r}") from None
    if len(values) != 3 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255 for v in values
    ):
        raise ValueError(f"color must be three integers in 0..255, got {color!r}")
    return (int(values[0]), int(values[1]), int(values[2]))


def _check_number(name: str, value: float, *, low: float, low_inclusive: bool = True) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value >= low if low_inclusive else value > low)
    if not ok:
        relation = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be a finite number {relation} {low}, got {value!r}")


def _check_seed(seed: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")


@runtime_checkable
class _Fingerprinted(Protocol):
    def fingerprint(self) -> str: ...


@dataclass(frozen=True)
class _Masked:
    """The mask options every redaction shares (see the module docstring), and the
    :class:`facesafe.Redaction` contract for methods that keep the frame and never fall back.

    Subclasses are frozen dataclasses called as ``redaction(image, faces)``.
    """

    shape: str = "ellipse"
    grow: float = 1.3
    feather: float = 0.0

    def __post_init__(self) -> None:
        check_mask_options(self.shape, self.grow, self.feather)

    def __call__(self, image: np.ndarray, faces: Sequence[Face], /) -> np.ndarray:
        raise NotImplementedError

    def redact(self, image: np.ndarray, faces: Sequence[Face], /) -> Redacted:
        """The redacted image (same size) and the faces that fell back (none)."""
        return Redacted(self(image, faces))

    def region(self, faces: Sequence[Face], *, width: int, height: int) -> Box | None:
        """``None``: this method keeps the whole frame."""
        return None

    def fingerprint(self) -> str:
        """The redaction's class and every field that decides the output (fields with ``compare=False`` do not).

        A field that is itself a redaction (a fallback) or a k-Same pool
        contributes its own fingerprint, any other its ``repr``.
        """
        parts = (
            f"{f.name}={v.fingerprint() if isinstance(v, _Fingerprinted) else repr(v)}"
            for f in fields(self)
            if f.compare
            for v in (getattr(self, f.name),)
        )
        return f"{type(self).__qualname__}({', '.join(parts)})"

    def _redact(self, image: np.ndarray, faces: Sequence[Face], content: _Content) -> np.ndarray:
        """A copy of ``image`` with ``content(out, face, window, index)`` blended in through each face's mask.

        Faces are redacted one after the other, each from the image as already
        redacted, so an overlapping face never brings an earlier one back.
        """
        K.check_image(image)
        faces = tuple(faces)
        for face in faces:
            if not isinstance(face, Face):
                raise TypeError(f"faces must hold Face records, got {type(face).__name__}")
        height, width = image.shape[:2]
        out = image.copy()
        for index, face in enumerate(faces):
            for window, mask in face_masks(
                [face], width=width, height=height, shape=self.shape, grow=self.grow, feather=self.feather
            ):
                K.composite(out, window, mask, content(out, face, window, index))
        return out


def check_fallback(fallback: object) -> None:
    """Raise ``TypeError`` naming ``fallback`` unless it is a redaction."""
    if not (isinstance(fallback, Redaction) or callable(fallback)):
        raise TypeError(f"fallback must be a Redaction or a callable (image, faces) -> image, got {fallback!r}")


# content(out, face, window, index) -> float32 (h, w, colour channels) for the window
_Content = Callable[[np.ndarray, Face, tuple[slice, slice], int], np.ndarray]


def _check_noise(noise: float, seed: int) -> None:
    _check_number("noise", noise, low=0.0)
    _check_seed(seed)


@dataclass(frozen=True)
class Blur(_Masked):
    """Gaussian blur scaled to each face, plus noise so it cannot be deconvolved.

    Args:
        sigma: blur standard deviation as a fraction of the face box width
            (0.5 = 50%: a 100 px face gets sigma 50 px). Relative, never fixed
            pixels, so small and large faces are equally hidden.
        noise: std of Gaussian noise added after blurring, in grey levels.
        seed: seeds the noise.
    """

    name: ClassVar[str] = "blur"

    sigma: float = 0.5
    noise: float = 6.0
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number("sigma", self.sigma, low=0.0, low_inclusive=False)
        _check_noise(self.noise, self.seed)

    def __call__(self, image: np.ndarray, faces: Sequence[Face], /) -> np.ndarray:
        """Return a blurred copy of ``image``."""

        def content(out: np.ndarray, face: Face, window: tuple[slice, slice], index: int) -> np.ndarray:
            rng = K.noise_rng(self.seed, index, image[window])
            return K.blur_region(out, window, max(self.sigma * face.box.width, 0.5), self.noise, rng)

        return self._redact(image, faces, content)


@dataclass(frozen=True)
class Pixelate(_Masked):
    """Mosaic of ``cells`` square cells across each face box, whatever its size, plus noise.

    Args:
        cells: number of cells across the face box width (>= 1). Fewer is
            stronger; the grid is anchored on the face box's top-left corner.
        noise: std of Gaussian noise added to each cell's mean, in grey levels.
        seed: seeds the noise.
    """

    name: ClassVar[str] = "pixelate"

    cells: int = 5
    noise: float = 6.0
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.cells, (int, np.integer)) or isinstance(self.cells, bool) or self.cells < 1:
            raise ValueError(f"cells must be an integer >= 1, got {self.cells!r}")
        _check_noise(self.noise, self.seed)

    def __call__(self, image: np.ndarray, faces: Sequence[Face], /) -> np.ndarray:
        """Return a pixelated copy of ``image``."""

        def content(out: np.ndarray, face: Face, window: tuple[slice, slice], index: int) -> np.ndarray:
            rng = K.noise_rng(self.seed, index, image[window])
            return K.pixelate_region(out, window, face.box, int(self.cells), self.noise, rng)

        return self._redact(image, faces, content)


@dataclass(frozen=True)
class Fill(_Masked):
    """Solid colour over each face region.

    Args:
        color: ``(r, g, b)`` ints 0-255, or an ``"RRGGBB"`` hex string
            (normalised to a tuple). Grayscale images get its luma.
    """

    name: ClassVar[str] = "fill"

    color: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "color", parse_color(self.color))

    def __call__(self, image: np.ndarray, faces: Sequence[Face], /) -> np.ndarray:
        """Return a copy of ``image`` with the faces filled."""
        K.check_image(image)
        if K.colour_channels(image) == 1:
            r, g, b = self.color
            colour = np.array([round(0.299 * r + 0.587 * g + 0.114 * b)], dtype=np.float32)
        else:
            colour = np.array(self.color, dtype=np.float32)

        def content(out: np.ndarray, face: Face, window: tuple[slice, slice], index: int) -> np.ndarray:
            rows, cols = window
            return np.broadcast_to(colour, (rows.stop - rows.start, cols.stop - cols.start, len(colour)))

        return self._redact(image, faces, content)


@dataclass(frozen=True)
class Crop(_Masked):
    """Cut the faces out of frame: keep the largest face-free rectangle of the image.

    Every face box grown by ``grow`` is excluded from the kept rectangle, so no
    part of any grown face is kept (``shape`` and ``feather`` do not change
    the rectangle). When that rectangle is smaller than ``min_share`` of the
    image, or there is none, the ``fallback`` redaction is applied instead and
    the image keeps its size.

    Args:
        min_share: smallest share of the image area worth keeping, in [0, 1].
        fallback: the redaction used otherwise; ``None`` (the default) is
            replaced by a :class:`Blur` with this crop's ``shape``, ``grow``
            and ``feather``, so ``crop.fallback`` is always a redaction.
    """

    name: ClassVar[str] = "crop"

    min_share: float = 0.5
    fallback: Redaction | Callable[[np.ndarray, Sequence[Face]], np.ndarray] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number("min_share", self.min_share, low=0.0)
        if self.min_share > 1.0:
            raise ValueError(f"min_share must be in [0, 1], got {self.min_share!r}")
        if self.fallback is None:
            blur = Blur(shape=self.shape, grow=self.grow, feather=self.feather)
            object.__setattr__(self, "fallback", blur)
        else:
            check_fallback(self.fallback)

    def region(self, faces: Sequence[Face], *, width: int, height: int) -> Box | None:
        """The integer box this crop keeps of a ``width`` x ``height`` image, or None to fall back.

        Use it to cut an alpha channel or every frame of an animation the same
        way: ``image[region.to_slices()]``. With no face (on the image) it is
        the whole image.
        """
        blocked = []
        for face in faces:
            rows, cols = grown_box(face, self.grow).to_slices(width=width, height=height)
            if rows.stop > rows.start and cols.stop > cols.start:
                blocked.append((cols.start, rows.start, cols.stop, rows.stop))
        rect = K.largest_free_rectangle(blocked, width=width, height=height)
        if rect is None:
            return None
        x0, y0, x1, y1 = rect
        if (x1 - x0) * (y1 - y0) < self.min_share * height * width:
            return None
        return Box(float(x0), float(y0), float(x1), float(y1))

    def redact(self, image: np.ndarray, faces: Sequence[Face], /) -> Redacted:
        """The ``fallback`` redaction of every face: what a crop does when it keeps the whole frame."""
        faces = tuple(faces)
        done = as_redaction(self.fallback).redact(image, faces)  # type: ignore[arg-type]
        return Redacted(done.image, fell_back=tuple(range(len(faces))))

    def __call__(self, image: np.ndarray, faces: Sequence[Face], /) -> np.ndarray:
        """Return the kept rectangle (a copy), or the fallback's output."""
        K.check_image(image)
        faces = tuple(faces)
        box = self.region(faces, width=image.shape[1], height=image.shape[0])
        if box is None:
            return self.redact(image, faces).image
        return image[box.to_slices()].copy()

