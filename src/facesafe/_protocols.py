"""The two extension points: detectors and redactions.

Both are structural protocols: implement the methods, no base class or
registration needed.

- A :class:`Detector` is any callable ``image -> faces``; a test can pass
  ``lambda image: faces``.
- A :class:`Redaction` states everything :class:`~facesafe.Anonymizer`, the
  batch runner and the audit need to know about a method (what it returns,
  how it reports fallbacks and a changed frame, when a run may resume), so
  nobody asks a redaction what it can do with ``hasattr``; a plain callable
  ``(image, faces) -> image`` is adapted by :func:`as_redaction`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self, runtime_checkable

import numpy as np

from ._errors import RedactionError
from ._geometry import Box, Face

__all__ = ["Closeable", "Detector", "Redaction", "Redacted", "as_redaction", "kept_region"]


@runtime_checkable
class Detector(Protocol):
    """Anything that finds faces: ``detector(image) -> faces``.

    ``image`` is a ``uint8`` RGB array of shape ``(H, W, 3)``; the result is a
    sequence of :class:`~facesafe.Face` in that image's pixel coordinates.
    """

    def __call__(self, image: np.ndarray, /) -> Sequence[Face]: ...


class Closeable:
    """A holder of models or handles that ``close()`` releases; ``with`` closes it on the way out.

    A base for facesafe's own detectors, mesher and anonymizer (not part of
    either protocol): a subclass implements ``close`` alone.
    """

    def close(self) -> None:
        """Release what the object holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Redacted:
    """What :meth:`Redaction.redact` did to one image.

    Attributes:
        image: the new image, of the input's size, shape and dtype.
        fell_back: indices (into the faces given, ascending) of the faces
            that got the method's fallback redaction instead of its own
            (``synthetic``: too small or turned; ``crop``: every face, since
            ``redact`` is only called when the frame is kept whole).
        donors: per face, what replaced it, when the method says
            (``synthetic``: ``"pool"``, ``"synthetic"`` for the built-in
            donor, ``"fallback"``..., as :class:`~facesafe.Replacement`);
            empty otherwise.
    """

    image: np.ndarray = field(repr=False)
    fell_back: tuple[int, ...] = ()
    donors: tuple[str, ...] = ()


@runtime_checkable
class Redaction(Protocol):
    """Anything that hides faces: implement these three methods, no base class or registration.

    - ``redact(image, faces) -> Redacted``: the redacted image, always of
      the input's size, and the indices of the faces that got the method's
      fallback redaction instead of its own;
    - ``region(faces, *, width, height) -> Box | None``: ``None``, or the
      part of a ``width`` x ``height`` frame to keep when the method cuts the
      faces out of frame (``crop``): an integer box that no face reaches.
      Then the output is that part and ``redact`` is not called; every frame
      of an animation is cut alike. A region holding part of a face is
      refused with :class:`~facesafe.RedactionError`;
    - ``fingerprint() -> str``: equal for two redactions exactly when they
      give equal outputs: a batch run resumes only on an equal fingerprint.
      Leave out runtime-only helpers (a mesher object), hash in data that
      decides the output (a k-Same pool's faces).

    Every method must not mutate ``image``, must be deterministic, and must
    change nothing outside the (grown) face regions. Images are ``uint8``
    ``(H, W)`` or ``(H, W, C)``; faces are in the image's pixel coordinates.
    A plain callable ``(image, faces) -> image`` that keeps the size is
    accepted wherever a redaction is (its fingerprint is its ``repr``, so a
    lambda never resumes). The methods facesafe ships are also callable,
    ``redaction(image, faces) -> image``: the ``region`` cut out when there
    is one, else ``redact``'s image. See ``docs/redactions.md`` for a worked example.
    """

    def redact(self, image: np.ndarray, faces: Sequence[Face], /) -> Redacted:
        """Redact every face in place of the frame: a new image of the same size."""
        ...

    def region(self, faces: Sequence[Face], *, width: int, height: int) -> Box | None:
        """The part of a ``width`` x ``height`` frame to keep, holding no face; ``None`` keeps the whole frame."""
        ...

    def fingerprint(self) -> str:
        """Equal for two redactions exactly when they give equal outputs (decides resuming)."""
        ...


@dataclass(frozen=True)
class _Plain:
    """A plain callable ``(image, faces) -> image`` seen as a :class:`Redaction`."""

    function: Callable[[np.ndarray, Sequence[Face]], np.ndarray]

    def redact(self, image: np.ndarray, faces: Sequence[Face], /) -> Redacted:
        out = self.function(image, faces)
        if not isinstance(out, np.ndarray) or out.shape != image.shape:
            got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
            raise RedactionError(
                f"{self.function!r} returned {got} for an image of shape {image.shape}; a redaction keeps the "
                "size (one that cuts the frame implements the Redaction protocol's region())"
            )
        return Redacted(out)

    def region(self, faces: Sequence[Face], *, width: int, height: int) -> Box | None:
        return None

    def fingerprint(self) -> str:
        return repr(self.function)

    def __call__(self, image: np.ndarray, faces: Sequence[Face], /) -> np.ndarray:
        return self.redact(image, faces).image

    def __repr__(self) -> str:
        return repr(self.function)


def as_redaction(redaction: Redaction | Callable[[np.ndarray, Sequence[Face]], np.ndarray]) -> Redaction:
    """``redaction`` itself when it implements :class:`Redaction`, else a plain callable wrapped as one."""
    if isinstance(redaction, Redaction):
        return redaction
    if not callable(redaction):
        raise TypeError(f"redaction must be a Redaction or a callable (image, faces) -> image, got {type(redaction).__name__}")
    return _Plain(redaction)


def kept_region(redaction: Redaction, faces: Sequence[Face], *, width: int, height: int) -> Box | None:
    """``redaction.region(...)``, checked: an integer box inside the frame that no face reaches.

    Raises :class:`~facesafe.RedactionError` otherwise (fail closed: a region
    that keeps part of a face would publish it).
    """
    box = redaction.region(faces, width=width, height=height)
    if box is None:
        return None
    if not isinstance(box, Box) or any(v != int(v) for v in box) or box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
        raise RedactionError(f"{redaction!r} kept {box!r}, not an integer box inside the {width} x {height} frame")
    rows, cols = box.to_slices(width=width, height=height)
    for face in faces:
        r, c = face.box.to_slices(width=width, height=height)
        if max(r.start, rows.start) < min(r.stop, rows.stop) and max(c.start, cols.start) < min(c.stop, cols.stop):
            raise RedactionError(f"{redaction!r} kept {box!r}, which holds part of the face at {face.box!r}")
    return box
