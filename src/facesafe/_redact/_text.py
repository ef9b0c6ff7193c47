"""Redacting plates and text: a fill or a coarse mosaic over each region's box.

Text is hidden by destroying it, never by replacing it: only :class:`Fill`
and :class:`Pixelate` apply (a blur can leave large characters readable, and
synthetic faces are for faces). The region is the detected box itself (the
plate detector already grows a plate's text line to the plate), drawn as a
box, because characters reach the corners an ellipse would leave.

The mosaic's default of 4 cells across the box leaves cells wider than a
character is tall on a plate (4.5:1) and on a text line (longer), so no
stroke survives: ``benchmarks/plates.py`` checks that the PP-OCRv4
recogniser reads nothing from the redacted plates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._geometry import Face
from .._protocols import Redaction, as_redaction, kept_region
from ._methods import Fill, Pixelate

__all__ = ["redact_regions", "TEXT_METHODS", "hide_text", "redact_by_kind"]

#: The redactions that may hide plates and text.
TEXT_METHODS = ("fill", "pixelate")


def redact_regions(
    image: np.ndarray,
    regions: Sequence[Face],
    *,
    method: str = "pixelate",
    cells: int = 4,
    color: tuple[int, int, int] | str = (0, 0, 0),
) -> np.ndarray:
    """A copy of ``image`` with every region's box filled or pixelated.

    >>> from facesafe import Box, Face
    >>> img = np.full((20, 40, 3), 255, np.uint8)
    >>> out = redact_regions(img, [Face(Box(10, 5, 30, 15), kind="plate")], method="fill")
    >>> int(out[10, 20].max()), int(out[0, 0].min())
    (0, 255)

    Args:
        image: ``uint8`` RGB ``(H, W, 3)`` (not changed).
        regions: the plates / text lines to hide (any kind is covered by its box).
        method: ``"pixelate"`` (default) or ``"fill"``.
        cells: mosaic cells across each box's width (pixelate; >= 1, fewer is stronger).
        color: fill colour, ``(r, g, b)`` or ``"RRGGBB"`` (fill).
    """
    redaction: Pixelate | Fill
    if method == "pixelate":
        redaction = Pixelate(shape="box", grow=1.0, cells=cells)
    elif method == "fill":
        redaction = Fill(shape="box", grow=1.0, color=color)  # type: ignore[arg-type]  # Fill parses "RRGGBB" itself
    else:
        raise ValueError(f"method must be one of {TEXT_METHODS}, got {method!r}")
    return redaction(image, regions)


def hide_text(image: np.ndarray, regions: Sequence[Face], *, method: str = "pixelate") -> np.ndarray:
    """``image`` with the regions that are not faces (plates, text) hidden by
    ``method`` (``"pixelate"`` or ``"fill"``); ``image`` itself when there are none."""
    others = [r for r in regions if r.kind != "face"]
    return redact_regions(image, others, method=method) if others else image


def redact_by_kind(
    image: np.ndarray, regions: Sequence[Face], *, redaction: Redaction, text_method: str = "pixelate"
) -> np.ndarray:
    """``image`` with plates and text hidden by ``text_method`` (``"pixelate"``
    or ``"fill"``), then the faces by ``redaction`` (any
    :class:`~facesafe.Redaction` or plain callable): its kept region when it
    cuts the frame, else its redacted image. A new array."""
    method = as_redaction(redaction)
    faces = [r for r in regions if r.kind == "face"]
    out = hide_text(image, regions, method=text_method)
    box = kept_region(method, faces, width=image.shape[1], height=image.shape[0])
    if box is not None:
        return out[box.to_slices()].copy()
    return method.redact(out, faces).image
