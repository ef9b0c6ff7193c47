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
  size) comes last and every region's coordinates still hold when it is drawn
  (:func:`~facesafe._redact._text.redact_by_kind`).

This module stays light (no numpy, no models' code), so the CLI and
:class:`~facesafe.Anonymizer` can check targets and the text extra before
anything is loaded or written.

:class:`~facesafe.Anonymizer` (``targets=``) hides regions this way.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
from collections.abc import Sequence

from ._errors import DetectionError, MissingExtraError

__all__ = ["TARGETS", "parse_targets", "text_kinds", "text_model_path", "MODEL_DIST", "DET_MODEL", "REC_MODEL"]

MODEL_DIST = "rapidocr-onnxruntime"
DET_MODEL = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
REC_MODEL = "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"

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


def text_model_path(which: str = "det") -> pathlib.Path:
    """Path of the installed PP-OCRv4 ``"det"`` or ``"rec"`` ONNX file.

    Raises :class:`~facesafe.MissingExtraError` (extra ``"text"``) when
    ``rapidocr-onnxruntime`` is not installed, and
    :class:`~facesafe.DetectionError` when it lacks the file.
    """
    if which not in ("det", "rec"):
        raise ValueError(f"which must be 'det' or 'rec', got {which!r}")
    rel = DET_MODEL if which == "det" else REC_MODEL
    try:
        dist = importlib.metadata.distribution(MODEL_DIST)
        path = pathlib.Path(str(dist.locate_file(rel)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise MissingExtraError("text", f"plate and text detection needs the {MODEL_DIST} models") from exc
    if not path.is_file():
        raise DetectionError(f"{MODEL_DIST} is installed but has no {rel}")
    return path
