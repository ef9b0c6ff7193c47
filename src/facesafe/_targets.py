"""Targets: what to find and hide besides faces, and how each kind is hidden.

A *target* is what a user asks to redact: ``"faces"`` (the default),
``"plates"`` (licence plates) and ``"text"`` (every readable text line, signs
too). Detectors return :class:`~facesafe.Face` records whose ``kind`` says
what each region is (``"face"``, ``"plate"``, ``"text"``); this module maps
targets to kinds and applies the right redaction to each kind:

- faces get the user's redaction (blur, pixelate, fill, crop, synthetic...);
- plates and text get a fill or a mosaic over their box
  (:func:`~facesafe._redact._text.redact_regions`), never a synthetic face,
  and they are hidden *before* the faces, so a crop (which changes the image
  size) comes last and every region's coordinates still hold when it is drawn.

:class:`~facesafe.Anonymizer` (``targets=``) hides regions this way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._geometry import Face
from ._protocols import Redaction, as_redaction, kept_region

__all__ = ["TARGETS", "parse_targets", "text_kinds", "hide_text", "redact_by_kind"]

#: Target name -> the region kind it asks for.
_KIND = {"faces": "face", "plates": "plate", "text": "text"}

#: Every target, in the order they are listed.
TARGETS = tuple(_KIND)


def parse_targets(targets: str | Sequence[str]) -> tuple[str, ...]:
    """``"faces,plates"`` or ``["faces", "plates"]`` -> ``("faces", "plates")``.

    Order is normalised to :data:`TARGETS`, duplicates dropped; an unknown or
    empty list is a ``ValueError`` naming ``targets``.

    >>> parse_targets("text, faces")
    ('faces', 'text')
    """
    if isinstance(targets, str):
        names = [t.strip() for t in targets.split(",") if t.strip()]
    else:
        names = list(targets)
    unknown = [t for t in names if t not in _KIND]
    if unknown:
        raise ValueError(f"targets: unknown {', '.join(map(repr, unknown))}; choose among {', '.join(TARGETS)}")
    if not names:
        raise ValueError(f"targets must be a non-empty list of {', '.join(TARGETS)}, got {targets!r}")
    return tuple(t for t in TARGETS if t in names)


def text_kinds(targets: Sequence[str]) -> tuple[str, ...]:
    """The :class:`~facesafe._detect._text.TextDetector` kinds the targets need (may be empty).

    >>> text_kinds(("faces", "plates"))
    ('plate',)
    """
    return tuple(_KIND[t] for t in parse_targets(targets) if t != "faces")


def hide_text(image: np.ndarray, regions: Sequence[Face], *, method: str = "pixelate") -> np.ndarray:
    """``image`` with the regions that are not faces (plates, text) hidden by
    ``method`` (``"pixelate"`` or ``"fill"``); ``image`` itself when there are none."""
    from ._redact._text import redact_regions

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
