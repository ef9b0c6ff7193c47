"""verify(): a second, independent look at a released folder, without the originals.

Every file under the folder is read (hidden files and sub-folders included;
symbolic links are reported, never followed) and recognised as an image by its
content. For each image, verify reports:

- **faces**: every face the ``thorough`` detector still finds with a score of
  at least :data:`FACE_SCORE_THRESHOLD` (0.5), in any frame, unless its pixels
  look redacted (see below). Weaker detections are kept in the result as
  ``weak``, redacted-looking ones as ``redacted``, for a person to look at;
  neither fails the check.
- **metadata**: everything in the file beyond its format's structural
  allowlist (:mod:`facesafe._allowlist`: EXIF, GPS, XMP, IPTC, ICC profiles,
  comments, text chunks, thumbnails, extra JPEG APPn segments beyond one
  minimal JFIF, bytes after the end of the image), plus whatever
  :func:`facesafe.read_metadata` decodes (tag names, not values).
- **unreadable**: files that look like images but cannot be decoded, and
  every file that is not an image at all (a release folder should hold
  nothing verify cannot vouch for: sidecar ``.xmp`` files, manifests, notes).

Synthetic faces
    Faces replaced by :class:`~facesafe.Synthesize` are faces, and the
    detector finds them; from the pixels alone verify cannot tell a
    synthetic face from a real one, so without the manifest a synthetic
    release fails on every file with a face (the report's notes say why).
    Given the run's manifest (``manifest=``), verify sets apart, as
    ``synthetic``, a confident detection on a face the manifest records as
    replaced in that output (IoU >= 0.3 with its box, or 70% of the
    detection inside it: a part of a large face; or the detection's core
    90% inside the region replaced around it: the box grown by the run's
    ``grow``; same frame), when the manifest's method is ``synthetic`` and
    the file's SHA-256 is the one it recorded. A face the manifest records
    as fallen back (its ``donors``: ``"fallback"``) was pixelated, not
    replaced: it is judged as a ``pixelate`` run's face (below), by the
    fallback the run recorded. Every other face is reported as usual, so a
    face the run missed still fails the check. This trusts the manifest's
    word that those faces were replaced: verify cannot tell a synthetic face
    from a real one.

Redacted faces the manifest records
    Given the manifest of a ``blur``, ``pixelate``, ``fill`` or ``crop`` run
    (or of a ``synthetic`` run's faces that fell back), verify sets apart, as ``redacted`` (``looks="manifest"``), a confident
    detection whose core (inner 60% of its box) lies at least 90% inside the
    redaction masks the run drew over the faces it records for that output
    (each box grown by the run's ``grow``, in the run's mask ``shape``; moved
    by the kept region for ``crop``), when the file's SHA-256 is the one it
    recorded and the run's redaction is at least as strong as the defaults
    (blur sigma >= 0.5, a mosaic of at most 9.5 cells). Those pixels were
    redacted by the run, whatever a detector still sees in them; a face only
    partly inside the masks, or anywhere else, is judged as usual.
    ``judge_redaction=False`` sets nothing apart this way.

Plates and text the manifest records
    Given the manifest of a run whose targets asked for ``plates`` or
    ``text`` (``--targets``), verify runs the same PP-OCRv4 text detector
    (same kinds; needs ``facesafe[text]``) on each output whose SHA-256 is
    the one it recorded, and reports as ``text`` every line it still finds
    with at least half its box inside a plate or text region the run
    recorded and hid there *and* that the PP-OCRv4 recogniser reads (at
    least :data:`READ_CHARS` letters or digits, confidence at least
    :data:`READ_SCORE`): the redaction left it readable. The detector alone
    is not enough: it also answers on a face, before and after its
    redaction (the portrait in ``examples/``: a "text" line of score 0.70
    over the blurred head, read as nothing). (On the tests' drawn plates
    and signs, the recogniser reads them at 0.94 and 0.97, and the default
    mosaic and the fill leave nothing found.) Text elsewhere is not judged:
    a plate the run missed is not found again by the same detector.

Score threshold and redacted-looking faces
    The ``thorough`` preset keeps candidates down to a low score for recall,
    and it still answers on redacted heads: about 0.4 on facesafe's blur and
    fill of the astronaut (the outline and colours remain) and 0.81 on its
    8-cell mosaic, against 0.94 for the intact face. So verify reports a face
    when (1) its score is >= 0.5 and (2) its pixels do not look redacted
    (:func:`looks_redacted`): not a coarse mosaic (at most about 9.5 cells
    across: a finer one, such as ``Pixelate(cells=16)``, is re-identifiable
    and is reported) and not without fine detail compared with its surroundings,
    and this holds for each half of the face (left, right, top, bottom): a
    face half covered is not redacted. A face so judged with a score under
    :data:`SECOND_LOOK_BELOW` is reported only when the detector finds it
    again on a second look (:func:`second_look`: the region around it,
    enlarged); else it is listed as ``weak`` (``looks="unconfirmed"``):
    detector noise on a neck or a cluster of blurred heads is not found
    again, a face is.
    Figures and their measurement: docs/verify.md. ``min_score=`` and
    ``judge_redaction=False`` make the check stricter (more false alarms).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._allowlist import extra_content
from ._anonymize import detection
from ._batch._manifest import box_kind, read_manifest
from ._batch._runner import run_tasks
from ._errors import DetectionError, ImageError, MissingExtraError
from ._formats import HEAD_BYTES, classify
from ._geometry import Box, Face
from ._io import DEFAULT_MAX_PIXELS, load_image
from ._metadata import read_metadata
from ._redact import Blur
from ._redact._masks import face_mask
from ._targets import text_kinds, text_model_path

__all__ = ["FACE_SCORE_THRESHOLD", "FileCheck", "VerifyReport", "check_file", "looks_redacted", "verify"]

#: A text line left in a hidden plate or text region is reported when the
#: recogniser reads at least this many letters or digits in it ...
READ_CHARS = 2
#: ... with at least this confidence (drawn plates and signs: 0.94 and more;
#: false "text" lines over the blurred faces of examples/: 0.45 and less).
READ_SCORE = 0.6

#: Detections at or above this score are reported as faces left in a file.
FACE_SCORE_THRESHOLD = 0.5
#: A detection overlapping a face the manifest records as synthesised by at least
#: this IoU (same frame) is that face ...
SYNTHETIC_IOU = 0.3
#: ... and so is one lying mostly inside it (this share of its area): the thorough
#: detector also answers on parts of a large synthetic face, and every pixel
#: there was replaced.
SYNTHETIC_INSIDE = 0.7
#: A confident detection whose core (inner 60% of its box) lies at least this
#: much inside the redaction masks the run's manifest records for the file is
#: a redacted face: what remains outside can hold no face.
RECORDED_SHARE = 0.9
#: Said when faces are reported without a manifest: what the pixels alone cannot tell.
NO_MANIFEST_NOTE = ("without the run's manifest, faces are judged by their pixels alone: a face replaced by the "
                    "synthetic method is a face, and verify cannot tell it from one left; a redacted face a detector "
                    "still finds can pass only if it looks redacted (give the run's manifest to set apart the faces "
                    "it records as replaced or redacted)")
#: A face the pixels judge left, with a score under this, gets a second look:
#: the detector run again on the region around it, enlarged (see :func:`second_look`);
#: it is reported only when the detector finds it there again, at any score it keeps ...
SECOND_LOOK_BELOW = 0.6
#: ... so that its box is this tall (px), enlarged at most :data:`SECOND_LOOK_MAX_ZOOM` times
SECOND_LOOK_HEIGHT = 112.0
SECOND_LOOK_MAX_ZOOM = 4.0
#: ... with this much of the photo around it (times the box, each way).
SECOND_LOOK_CONTEXT = 3.0
#: Detections below the threshold but at or above this score are listed as ``weak``.
WEAK_SCORE_FLOOR = 0.2

#: A detection "looks pixelated" when this share of its inner gradient energy lies
#: on the 15% strongest columns/rows (a mosaic's cell edges); intact faces: <= 0.40.
MOSAIC_SHARE = 0.45
#: A detection "looks blurred or filled" when its inner band-pass (LoG) energy is
#: under this fraction of its surroundings'; intact faces: >= 0.29.
SMOOTH_RATIO = 0.25
#: ... and each half of it (left, right, top, bottom) under this: a little
#: looser, since a half is noisier (the blur's noise on a face of 33 px measured
#: 0.19-0.25 per half), yet well under an intact half beside a redacted one
#: (1.1-2.3 on the astronaut half covered).
HALF_SMOOTH_RATIO = 0.35
#: Halves are judged when both sides of the face's inner region are at least
#: twice this (px): a face under about 14 px is judged as a whole only.
HALF_MIN_SIDE = 4
#: A mosaic finer than this many cells across the face's width is too weak to
#: count as redacted. Estimated on 25 wider-dev faces >= 40 px: the default
#: Pixelate (8 cells, the default until 2026-12-02; now 5) measures 4.9-8.5; 10 cells 6.6-11.3 (re-identification
#: AUC 0.59, docs/redactions.md), 12 cells 7.3-12.1 (AUC 0.81), 16 cells 8.5-15.5.
MAX_MOSAIC_CELLS = 9.5

# read_metadata keys that describe structure, not content.
_STRUCTURAL_KEYS = {"path", "format", "size", "mode", "n_frames", "orientation", "segments", "errors"}


@dataclass(frozen=True)
class FaceLeft:
    """A detection in a released file: the frame it is in, the detector's face (that file's pixels), and what it looks like.

    ``looks`` is set for a face set apart: ``"manifest"``, ``"smooth"`` or
    ``"mosaic"`` (redacted), ``"unconfirmed"`` (the second look did not find it).
    """

    frame: int
    face: Face
    looks: str | None = None

    @property
    def box(self) -> Box:
        """The face's box, in the released file's pixels."""
        return self.face.box

    @property
    def score(self) -> float:
        """The detector's score."""
        return float(self.face.score)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        out = {"frame": self.frame, "box": [round(v, 1) for v in self.box.as_xyxy()], "score": round(self.score, 4)}
        if self.looks:
            out["looks"] = self.looks
        return out


@dataclass(frozen=True)
class FileCheck:
    """What verify found in one file.

    Attributes:
        path: the file.
        rel: its path relative to the verified folder (POSIX separators).
        format: the image format recognised from its content, or ``None``.
        faces: detections at or above the score threshold.
        metadata: descriptions of everything beyond the structural allowlist.
        error: why the file could not be checked (not an image, unreadable, a link).
        weak: detections below the threshold, and confident ones a second look
            did not find again (``looks="unconfirmed"``): informative, not a failure.
        size: ``(width, height)`` when the file was decoded.
        redacted: detections at or above the threshold whose pixels look
            redacted (a mosaic, or no fine detail), or that lie inside the
            faces the run's manifest records as redacted in this very file
            (``looks="manifest"``): informative, not a failure.
        synthetic: detections at or above the threshold on a face the run's
            manifest records as synthesised into this very file (see the
            module docstring): informative, not a failure.
        text: text lines still detected inside the plates and text the run's
            manifest records as hidden in this very file (see the module
            docstring).
    """

    path: Path
    rel: str
    format: str | None
    faces: tuple[FaceLeft, ...] = ()
    metadata: tuple[str, ...] = ()
    error: str | None = None
    weak: tuple[FaceLeft, ...] = ()
    size: tuple[int, int] | None = None
    redacted: tuple[FaceLeft, ...] = ()
    synthetic: tuple[FaceLeft, ...] = ()
    text: tuple[FaceLeft, ...] = ()

    @property
    def clean(self) -> bool:
        """True when nothing was found and the file could be checked."""
        return not self.faces and not self.metadata and not self.text and self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return {
            "path": str(self.path), "rel": self.rel, "format": self.format, "clean": self.clean,
            "size": list(self.size) if self.size else None, "error": self.error,
            "faces": [f.to_dict() for f in self.faces], "metadata": list(self.metadata),
            "weak": [f.to_dict() for f in self.weak], "redacted": [f.to_dict() for f in self.redacted],
            "synthetic": [f.to_dict() for f in self.synthetic], "text": [f.to_dict() for f in self.text],
        }  # fmt: skip


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify`: every file checked, and the settings used.

    ``clean`` is true only when every file is an image with no face at or above
    ``min_score`` and nothing beyond its structural allowlist.
    """

    folder: Path
    files: tuple[FileCheck, ...]
    preset: str
    min_score: float
    notes: tuple[str, ...] = field(default=())

    @property
    def clean(self) -> bool:
        """True when no file has any finding."""
        return all(f.clean for f in self.files)

    @property
    def flagged(self) -> tuple[FileCheck, ...]:
        """The files with a finding."""
        return tuple(f for f in self.files if not f.clean)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values: the settings, counts and every flagged file."""
        flagged = self.flagged
        return {
            "folder": str(self.folder), "preset": self.preset, "min_score": self.min_score, "clean": self.clean,
            "checked": len(self.files),
            "with_faces": sum(bool(f.faces) for f in flagged),
            "with_metadata": sum(bool(f.metadata) for f in flagged),
            "with_text": sum(bool(f.text) for f in flagged),
            "unreadable": sum(f.error is not None for f in flagged),
            "weak": sum(bool(f.weak) for f in self.files),
            "redacted_faces": sum(len(f.redacted) for f in self.files),
            "synthetic_faces": sum(len(f.synthetic) for f in self.files),
            "notes": list(self.notes),
            "flagged": [f.to_dict() for f in flagged],
            "weak_only": [f.to_dict() for f in self.files if f.clean and (f.weak or f.redacted or f.synthetic)],
        }  # fmt: skip

    def __str__(self) -> str:
        lines = []
        for f in self.flagged:
            if f.error is not None:
                lines.append(f"{f.rel}: {f.error}")
            for face in f.faces:
                frame = f" frame {face.frame}" if face.frame else ""
                x0, y0, x1, y1 = (round(v) for v in face.box.as_xyxy())
                lines.append(f"{f.rel}: face{frame} at ({x0}, {y0})-({x1}, {y1}), {y1 - y0} px high, score {face.score:.2f}")
            for item in f.metadata:
                lines.append(f"{f.rel}: metadata: {item}")
            for line in f.text:
                frame = f" frame {line.frame}" if line.frame else ""
                x0, y0, x1, y1 = (round(v) for v in line.box.as_xyxy())
                lines.append(f"{f.rel}: text{frame} still detected at ({x0}, {y0})-({x1}, {y1}) inside a hidden plate or text region")
        d = self.to_dict()
        verdict = "CLEAN" if self.clean else "FOUND SOMETHING"
        lines.append(
            f"{verdict}: {d['checked']} files checked; {d['with_faces']} with faces, {d['with_metadata']} with metadata, "
            f"{d['unreadable']} unreadable, not images or links (faces: {self.preset} detector, score >= {self.min_score:g}; "
            f"{d['weak']} files with weaker detections below it; {d['redacted_faces']} confident detections that look redacted"
            + (f"; {d['synthetic_faces']} on faces the manifest records as synthesised" if d["synthetic_faces"] else "")
            + ")"
            + (f"; {d['with_text']} with text left in hidden plates or text" if d["with_text"] else "")
        )
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _metadata_findings(data: bytes) -> list[str]:
    found = []
    report = read_metadata(data)
    if report.get("format") == "TIFF":
        # Pillow reads a multi-page TIFF's second page as "IFD1"; the structural
        # walk checks every page's tags against the allowlist instead.
        report["thumbnails"] = [t for t in report.get("thumbnails", []) if t.get("source") != "EXIF IFD1"]
    for key, value in report.items():
        if key in _STRUCTURAL_KEYS or not value:
            continue
        if isinstance(value, dict):
            found.append(f"{key}: {', '.join(sorted(map(str, value)))}")
        elif isinstance(value, list):
            found.append(f"{key}: {len(value)} item{'s' if len(value) != 1 else ''}")
        else:
            found.append(f"{key}: present")
    orientation = report.get("orientation")
    if orientation not in (None, 1):
        found.append(f"orientation tag {orientation}")
    return found


def _peaks(profile: np.ndarray) -> int:
    """Local maxima of ``profile`` at least a quarter of its maximum."""
    p = np.concatenate([[-1.0], profile, [-1.0]])
    core = p[1:-1]
    return int(np.sum((core >= 0.25 * profile.max()) & (core >= p[:-2]) & (core > p[2:])))


def looks_redacted(image: np.ndarray, box: Box) -> str | None:
    """``"mosaic"`` or ``"smooth"`` when the face in ``box`` looks redacted, else ``None``.

    Looks at the inner 60% of the box (inside any redaction mask) in grey:
    a pixelated face has its gradient energy on a few grid columns and rows
    (share of the 15% strongest >= :data:`MOSAIC_SHARE`), and counts as
    redacted only with at most :data:`MAX_MOSAIC_CELLS` cells across; a blurred or filled
    face has almost no band-pass (LoG, at 1/24 of the face height) energy
    compared with a ring around it (ratio < :data:`SMOOTH_RATIO`). Intact faces
    measured on 120 wider-dev faces: share <= 0.40, ratio >= 0.29.

    A face is redacted only where all of it is: each half of that inner
    region (left, right, top, bottom) must look redacted on its own (for
    "smooth", a ratio under :data:`HALF_SMOOTH_RATIO`; for "mosaic", without
    counting its cells), so a face half
    covered (a mask drawn on half of it, or one edge of a fill across it,
    which also concentrates the gradient on one row) is not. Faces whose
    inner region is under 8 px on a side are judged as a whole.
    """
    import cv2

    height, width = image.shape[:2]
    rows, cols = box.expanded(2.4).to_slices(width=width, height=height)
    patch = cv2.cvtColor(np.ascontiguousarray(image[rows, cols]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    local = Box(box.x0 - cols.start, box.y0 - rows.start, box.x1 - cols.start, box.y1 - rows.start)
    h, w = patch.shape
    ir, ic = local.expanded(0.6).to_slices(width=w, height=h)
    if ir.stop - ir.start < 4 or ic.stop - ic.start < 4:
        return None
    log = np.abs(cv2.Laplacian(cv2.GaussianBlur(patch, (0, 0), max(box.height / 24, 0.8)), cv2.CV_32F))
    ring = np.zeros(patch.shape, bool)
    rr, rc = local.expanded(2.2).to_slices(width=w, height=h)
    ring[rr, rc] = True
    rr, rc = local.expanded(1.5).to_slices(width=w, height=h)
    ring[rr, rc] = False
    surround = float(log[ring].mean()) if ring.any() else None
    midr, midc = (ir.start + ir.stop) // 2, (ic.start + ic.stop) // 2
    halves = ((ir, slice(ic.start, midc)), (ir, slice(midc, ic.stop)),
              (slice(ir.start, midr), ic), (slice(midr, ir.stop), ic))  # fmt: skip
    kind = _looks(patch, log, surround, (ir, ic), box.width, SMOOTH_RATIO)
    if kind is None or min(ir.stop - ir.start, ic.stop - ic.start) < 2 * HALF_MIN_SIDE:
        return kind  # too few pixels to judge halves of
    if any(_looks(patch, log, surround, half, None, HALF_SMOOTH_RATIO) is None for half in halves):
        return None
    return kind


def _looks(patch: np.ndarray, log: np.ndarray, surround: float | None, region: tuple[slice, slice],
           face_width: float | None, smooth_ratio: float) -> str | None:
    """:func:`looks_redacted`'s tests on one region of the grey ``patch``: ``"mosaic"``, ``"smooth"`` or ``None``.

    ``face_width=None`` skips the count of mosaic cells (a half holds too few
    cell edges to count; the whole face was counted).
    """
    inner = patch[region]
    if float(inner.std()) < 1.0:
        return "smooth"

    def share(profile: np.ndarray) -> float:
        k = max(1, round(0.15 * len(profile)))
        ordered = np.sort(profile)[::-1]
        return float(ordered[:k].sum() / (ordered.sum() + 1e-6))

    profiles = (np.abs(np.diff(inner, axis=1)).mean(axis=0), np.abs(np.diff(inner, axis=0)).mean(axis=1))
    if sum(share(p) for p in profiles) / 2 >= MOSAIC_SHARE:
        if face_width is None:
            return "mosaic"
        # square cells across the face's width: cell edges (profile peaks) per face width
        across_x = _peaks(profiles[0]) * face_width / max(inner.shape[1], 1)
        across_y = _peaks(profiles[1]) * face_width / max(inner.shape[0], 1)
        cells = (across_x + across_y) / 2
        return "mosaic" if cells <= MAX_MOSAIC_CELLS else None
    if surround is None:
        return None
    ratio = float(log[region].mean() / (surround + 1e-3))
    return "smooth" if ratio < smooth_ratio else None


def _text_left(index: int, frame: np.ndarray, hidden: Sequence[Box], text_detector: Callable[[np.ndarray], Sequence[Face]]) -> list[FaceLeft]:
    """The lines ``text_detector`` still finds at least half inside the plate/text regions a run hid in a frame."""
    if not hidden:
        return []
    return [FaceLeft(index, line) for line in text_detector(frame)
            if any(line.box.intersection(box) >= 0.5 * line.box.area for box in hidden)]


def second_look(image: np.ndarray, box: Box, detector: Callable[[np.ndarray], Sequence[Face]]) -> float:
    """The best score ``detector`` gives ``box`` again on the region around it, enlarged: 0.0 when it finds nothing there.

    The region is ``box`` grown :data:`SECOND_LOOK_CONTEXT` times (clipped to
    the image), resized so that ``box`` is :data:`SECOND_LOOK_HEIGHT` px tall
    (enlarged at most :data:`SECOND_LOOK_MAX_ZOOM` times, never shrunk). A
    detection there counts when it overlaps ``box`` (IoU >= 0.3, in the
    region's pixels). :func:`check_file` reports a low-score face only when
    this is not 0.0, whatever the score: real faces measured 0.22 and more
    on wider-dev (the thorough detector keeps nothing under 0.15), the
    detector noise left in default releases 0.0 (docs/verify.md).
    """
    import cv2

    height, width = image.shape[:2]
    rows, cols = box.expanded(SECOND_LOOK_CONTEXT).to_slices(width=width, height=height)
    crop = np.ascontiguousarray(image[rows, cols])
    zoom = min(max(SECOND_LOOK_HEIGHT / max(box.height, 1.0), 1.0), SECOND_LOOK_MAX_ZOOM)
    if zoom > 1.0:
        crop = cv2.resize(crop, (round(crop.shape[1] * zoom), round(crop.shape[0] * zoom)), interpolation=cv2.INTER_CUBIC)
    local = Box((box.x0 - cols.start) * zoom, (box.y0 - rows.start) * zoom, (box.x1 - cols.start) * zoom, (box.y1 - rows.start) * zoom)
    return max((float(face.score) for face in detector(crop) if face.box.iou(local) >= SYNTHETIC_IOU), default=0.0)


def check_file(
    path: str | os.PathLike[str],
    detector: Callable[[np.ndarray], Sequence[Face]],
    *,
    rel: str | None = None,
    min_score: float = FACE_SCORE_THRESHOLD,
    max_pixels: int | None = None,
    judge_redaction: bool = True,
    recorded: Recorded | None = None,
    text_detector: Callable[[np.ndarray], Sequence[Face]] | None = None,
) -> FileCheck:
    """Check one file: faces (``detector`` on every frame), metadata, readability.

    ``recorded`` is what a run manifest records about this file (see
    :class:`Recorded`): when the file's hash matches, a confident detection
    on a face it records as synthesised is set apart as ``synthetic``, and
    one whose core lies inside the faces it records as blurred, pixelated
    or filled as ``redacted`` (``looks="manifest"``); and ``text_detector``
    (when given: an ``image -> lines`` callable; verify passes one that keeps
    the lines the recogniser reads) is run on the frames where it records
    plates or text, a line still found inside them being ``text``. Never raises for a bad
    file: what went wrong is the check's ``error``.
    """
    path = Path(path)
    rel = path.name if rel is None else rel
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            return FileCheck(path, rel, None, error=f"symbolic link to {os.readlink(path)} (not followed)")
        if not stat.S_ISREG(mode):
            return FileCheck(path, rel, None, error="not a regular file")
        data = path.read_bytes()
    except OSError as exc:
        return FileCheck(path, rel, None, error=f"cannot read: {exc.strerror or exc}")
    fmt, status, reason = classify(data[:HEAD_BYTES], path)
    if status == "skipped":
        return FileCheck(path, rel, None, error="not an image (by content): verify cannot vouch for it")
    if fmt is None:
        return FileCheck(path, rel, None, error=f"{reason}: verify cannot vouch for it")
    metadata = list(extra_content(data, fmt))
    try:
        metadata += _metadata_findings(data)
    except ImageError as exc:
        metadata.append(f"metadata reader failed: {exc}")
    try:
        picture = load_image(data, max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels, name=str(path))
    except ImageError as exc:
        return FileCheck(path, rel, fmt, metadata=tuple(metadata), error=f"unreadable {fmt}: {getattr(exc, 'reason', None) or exc}")
    faces: list[FaceLeft] = []
    weak: list[FaceLeft] = []
    redacted: list[FaceLeft] = []
    synthetic: list[FaceLeft] = []
    text: list[FaceLeft] = []
    if recorded is not None and hashlib.sha256(data).hexdigest() != recorded.sha256:
        recorded = None  # changed since the run: the manifest no longer describes it
    for index, frame in enumerate(picture.frames):
        masked = _Coverage.of(frame.shape, recorded, index, synthesised=False) if judge_redaction else None
        replaced = _Coverage.of(frame.shape, recorded, index, synthesised=True)
        for face in detector(frame):
            left = FaceLeft(index, face)
            if face.score >= min_score:
                looks = None
                if masked is not None and masked.share(face.box) >= RECORDED_SHARE:
                    looks = "manifest"
                elif judge_redaction:
                    looks = looks_redacted(frame, face.box)
                if looks is not None:
                    redacted.append(replace(left, looks=looks))
                elif replaced is not None and replaced.holds(face.box):
                    synthetic.append(left)
                elif judge_redaction and face.score < SECOND_LOOK_BELOW and not second_look(frame, face.box, detector):
                    weak.append(replace(left, looks="unconfirmed"))
                else:
                    faces.append(left)
            elif face.score >= WEAK_SCORE_FLOOR:
                weak.append(left)
        if recorded is not None and text_detector is not None and index < len(recorded.text):
            text += _text_left(index, frame, recorded.text[index], text_detector)
    return FileCheck(path, rel, fmt, tuple(faces), tuple(metadata), None, tuple(weak), picture.size,
                     tuple(redacted), tuple(synthetic), tuple(text))


def _on_face(detection: Box, recorded: Box) -> bool:
    """Whether ``detection`` is the replaced face ``recorded`` (IoU >= :data:`SYNTHETIC_IOU`) or a part of it."""
    if detection.iou(recorded) >= SYNTHETIC_IOU:
        return True
    return detection.intersection(recorded) >= SYNTHETIC_INSIDE * detection.area


@dataclass(frozen=True)
class Recorded:
    """What a run manifest records about one output it wrote.

    Attributes:
        sha256: the output's recorded hash; nothing below holds for other bytes.
        frames: per frame, the boxes of the faces the run covered with a
            blur, mosaic or fill at least as strong as the defaults (a
            ``synthetic`` run's faces that fell back to one), in the output's
            pixels (moved by the kept region for ``crop``).
        mask: ``(shape, grow)`` of the redaction mask drawn over each of
            ``frames`` (``None``: no mask verify trusts).
        text: per frame, the boxes of the plates and text lines the run hid
            (output pixels), when its targets asked for them.
        text_kinds: the text detector's kinds the run used (``()``: faces only).
        synthesised: per frame, the boxes of the faces a ``synthetic`` run
            replaced by synthetic ones (their replacements are faces).
        replaced: ``(shape, grow)`` of the region replaced around each of
            ``synthesised`` (``None``: only the boxes themselves count).
    """

    sha256: str
    frames: tuple[tuple[Box, ...], ...]
    mask: tuple[str, float] | None
    text: tuple[tuple[Box, ...], ...] = ()
    text_kinds: tuple[str, ...] = ()
    synthesised: tuple[tuple[Box, ...], ...] = ()
    replaced: tuple[str, float] | None = None


class _Coverage:
    """The pixels of one frame inside the masks a manifest records (redacted, or replaced by synthetic faces)."""

    def __init__(self, shape: tuple[int, ...], boxes: tuple[Box, ...], mask: tuple[str, float] | None) -> None:
        self.boxes = boxes
        kind, grow = mask or ("box", 1.0)
        self.mask = face_mask([Face(b, 1.0) for b in boxes], width=shape[1], height=shape[0], shape=kind, grow=grow) >= 1.0
        self.trusted = mask is not None

    @classmethod
    def of(cls, shape: tuple[int, ...], recorded: Recorded | None, index: int, *, synthesised: bool) -> _Coverage | None:
        """Frame ``index``'s faces redacted under a trusted mask, or (``synthesised``) replaced; ``None`` when there are none."""
        if recorded is None:
            return None
        frames, mask = (recorded.synthesised, recorded.replaced) if synthesised else (recorded.frames, recorded.mask)
        boxes = frames[index] if index < len(frames) else ()
        if not boxes or (mask is None and not synthesised):
            return None
        return cls(shape, boxes, mask)

    def share(self, box: Box) -> float:
        """The share of ``box``'s core (inner 60%, as :func:`looks_redacted` reads it) inside the masks."""
        rows, cols = box.expanded(0.6).to_slices(width=self.mask.shape[1], height=self.mask.shape[0])
        core = self.mask[rows, cols]
        return float(core.mean()) if core.size else 0.0

    def holds(self, box: Box) -> bool:
        """Whether ``box`` is a replaced face (or a part of one): see :func:`_on_face`, or its core inside the replaced region."""
        if any(_on_face(box, face) for face in self.boxes):
            return True
        return self.trusted and self.share(box) >= RECORDED_SHARE


def _run_mask(method: str | None, redaction: str) -> tuple[str, float] | None:
    """``(shape, grow)`` of the mask a ``blur``/``pixelate``/``fill``/``crop`` run drew, ``None`` when not trusted.

    Read from the run's recorded parameters (the redaction's fingerprint). Trusted:
    ``fill``; ``blur`` (and ``crop``, which blurs where it cannot cut) with a
    sigma at least the default's; ``pixelate`` with at most
    :data:`MAX_MOSAIC_CELLS` cells (a finer mosaic is re-identifiable, as
    :func:`looks_redacted` judges it too). An ``outline`` mask follows the
    face's landmarks, which the manifest does not keep: the inscribed ellipse
    of the ungrown box stands for it.
    """
    if method not in ("blur", "pixelate", "fill", "crop"):
        return None

    def number(name: str) -> float | None:
        found = re.search(rf"\b{name}=([0-9.]+)", redaction)
        return float(found.group(1)) if found else None

    if method in ("blur", "crop") and (number("sigma") or 0.0) < Blur().sigma:
        return None
    if method == "pixelate" and (number("cells") or float("inf")) > MAX_MOSAIC_CELLS:
        return None
    return _region_of(redaction)


def _region_of(redaction: str) -> tuple[str, float] | None:
    """``(shape, grow)`` read from a recorded redaction (its first ``shape=`` and ``grow=``); ``outline``: the ungrown ellipse."""
    shape = re.search(r"\bshape='(\w+)'", redaction)
    grow = re.search(r"\bgrow=([0-9.]+)", redaction)
    if shape is None or grow is None:
        return None
    return ("ellipse", 1.0) if shape.group(1) == "outline" else (shape.group(1), float(grow.group(1)))


def _synthetic_masks(redaction: str) -> tuple[tuple[str, float] | None, tuple[str, float] | None]:
    """``(replaced region, fallback mask)`` of a ``synthetic`` run's recorded ``Synthesize(...)``.

    The fallback (faces that could not be synthesised) is judged as the
    redaction it is: ``fallback=None`` is a default :class:`Pixelate` over the
    same region; ``Blur(...)``, ``Pixelate(...)`` or ``Fill(...)`` as
    :func:`_run_mask` trusts that method; anything else (a function) is not
    trusted (``None``).
    """
    head, _, rest = redaction.partition("fallback=")
    region = _region_of(head)
    if rest.startswith("None"):
        return region, region
    found = re.match(r"(\w+)\(", rest)
    if found is None:
        return region, None
    depth, end = 0, len(rest)
    for i, char in enumerate(rest):
        depth += (char == "(") - (char == ")")
        if char == ")" and depth == 0:
            end = i + 1
            break
    return region, _run_mask(found.group(1).lower(), rest[:end])


_Frames = tuple[tuple[Box, ...], ...]


def _split_synthesised(frames: _Frames, donors: Any, fell_back: int | None) -> tuple[_Frames, _Frames]:
    """``(replaced, fell back)``: a synthetic run's face boxes, per frame, by the donor the manifest records for each.

    ``"off-image"`` faces changed nothing and are in neither. A manifest older
    than the ``donors`` column does not say which faces fell back: when any
    did, every face is judged as fallen back (the stricter rule: its
    detections must lie inside the mask; see :func:`check_file`).
    """
    if donors is None:
        return (frames, ()) if not fell_back else ((), frames)
    replaced, fallback = [], []
    for index, boxes in enumerate(frames):
        said = list(donors[index]) if index < len(donors) and donors[index] is not None else []
        if len(said) != len(boxes):
            raise ValueError(f"{len(said)} donors for {len(boxes)} faces in frame {index}")
        replaced.append(tuple(b for b, d in zip(boxes, said, strict=True) if d not in ("fallback", "off-image")))
        fallback.append(tuple(b for b, d in zip(boxes, said, strict=True) if d == "fallback"))
    return tuple(replaced), tuple(fallback)


def _recorded_faces(manifest: str | os.PathLike[str]) -> dict[Path, Recorded]:
    """Read a run manifest (read-only): ``{output path: Recorded}`` of the outputs it wrote.

    Local output paths only; outputs of a run whose redaction verify does not
    trust (see :func:`_run_mask`) are left out, so they are judged by their
    pixels alone. Raises ``ValueError`` naming the manifest when it is not a
    facesafe manifest.
    """
    runs, rows = read_manifest(manifest)
    redactions = {run["id"]: str(run["params"].get("redaction", "")) for run in runs}
    kinds = {run["id"]: text_kinds(run["params"].get("targets") or ("faces",)) for run in runs}
    out: dict[Path, Recorded] = {}
    for row in rows:
        if row.output is None or row.status != "written" or not row.output_hash or "://" in row.output:
            continue
        redaction = redactions.get(row.run_id, "")
        synthesised: tuple[tuple[Box, ...], ...] = ()
        replaced = None
        if row.method == "synthetic":
            replaced, mask = _synthetic_masks(redaction)
        else:
            mask = _run_mask(row.method, redaction)
        asked = kinds.get(row.run_id, ())
        if mask is None and row.method != "synthetic" and not asked:
            continue
        try:
            dx, dy = (float(row.region[0]), float(row.region[1])) if row.region else (0.0, 0.0)
            frames, text = _shifted(row.boxes, dx, dy, faces=True), _shifted(row.boxes, dx, dy, faces=False)
            if row.method == "synthetic":
                synthesised, frames = _split_synthesised(frames, row.donors, row.fell_back)
        except (ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"manifest: {os.fspath(manifest)!r} records unreadable boxes for {row.output}: {exc}") from exc
        if mask is None:  # those faces are judged by their pixels alone; plates and text re-checked
            frames = ()
        out[Path(row.output).resolve()] = Recorded(row.output_hash, frames, mask, text, asked, synthesised, replaced)
    return out


def _shifted(recorded: Any, dx: float, dy: float, *, faces: bool) -> tuple[tuple[Box, ...], ...]:
    """A row's recorded boxes, per frame, moved by ``(-dx, -dy)``: its faces, or (``faces=False``) its plates and text."""
    return tuple(tuple(Box(b[0] - dx, b[1] - dy, b[2] - dx, b[3] - dy) for b in frame if (box_kind(b) == "face") == faces)
                 for frame in recorded or [])


def _walk(folder: Path) -> Iterable[tuple[Path, str, str | None]]:
    """``(path, rel, error)`` of every non-directory entry under ``folder``, sorted.

    Unlike batch discovery, links (to files or folders) are listed, never
    followed, and a folder that cannot be listed is an entry with its error:
    verify must vouch for everything a release holds.
    """
    errors: list[OSError] = []
    for root, dirs, files in os.walk(folder, followlinks=False, onerror=errors.append):
        dirs.sort()
        base = Path(root)
        links = [d for d in dirs if (base / d).is_symlink()]
        for name in sorted(files + links):
            path = base / name
            yield path, path.relative_to(folder).as_posix(), None
        while errors:
            exc = errors.pop()
            path = Path(exc.filename or folder)
            yield path, path.relative_to(folder).as_posix() if path != folder else path.name, f"cannot list folder: {exc.strerror or exc}"


class _ReadableText:
    """``image -> lines``: the text lines of ``kinds`` the detector finds and the recogniser reads."""

    def __init__(self, kinds: tuple[str, ...], threads: int | None) -> None:
        self.detector = detection().TextDetector(kinds=kinds, threads=threads)
        self.reader = detection().TextReader(threads=threads)

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        def readable(line: Face) -> bool:
            text, score = self.reader(image, line.box)
            return score >= READ_SCORE and sum(c.isalnum() for c in text) >= READ_CHARS

        return tuple(line for line in self.detector(image) if readable(line))

    def close(self) -> None:
        """Release the detector's model."""
        self.detector.close()


class _Detectors:
    """A worker's face detector, and the text detectors it builds when a manifest asks (one per kinds)."""

    def __init__(self, faces: Any, threads: int | None) -> None:
        self.faces, self.threads = faces, threads
        self._text: dict[tuple[str, ...], Any] = {}

    def text(self, kinds: tuple[str, ...]) -> _ReadableText:
        """The readable-text check of ``kinds``, built on first use."""
        if kinds not in self._text:
            self._text[kinds] = _ReadableText(kinds, self.threads)
        return self._text[kinds]

    def close(self) -> None:
        """Release the text detectors' models (the face detector is its owner's)."""
        for detector in self._text.values():
            detector.close()
        self._text.clear()


def _check(task: tuple[int, Path, str, dict[str, Any]], detectors: Callable[[], _Detectors]) -> FileCheck:
    """Runner work: check one file with the worker's detectors."""
    _, path, rel, options = task
    workers = detectors()
    recorded = options.get("recorded")
    text = workers.text(recorded.text_kinds) if recorded is not None and recorded.text_kinds else None
    return check_file(path, workers.faces, rel=rel, text_detector=text, **options)


def _same(value: Any, threads: int | None = None) -> _Detectors:
    return _Detectors(value, threads)


def _given(detectors: _Detectors) -> _Detectors:
    return detectors


def _require_text_models() -> None:
    """A usage error (``ValueError`` naming the manifest) when a manifest's plates/text cannot be re-checked."""
    try:
        text_model_path("det")
    except (MissingExtraError, DetectionError) as exc:
        raise ValueError(f"manifest: its run hid plates or text; re-checking them needs the text models ({exc})") from None


def _default_detector(preset: str, threads: int | None) -> _Detectors:
    return _Detectors(detection().FaceDetector(preset=preset, threads=threads), threads)


def _crashed(task: tuple[int, Path, str, dict[str, Any]], reason: str) -> FileCheck:
    return FileCheck(task[1], task[2], None, error=reason)


def verify(
    folder: str | os.PathLike[str],
    *,
    preset: str = "thorough",
    detector: Callable[[np.ndarray], Sequence[Face]] | None = None,
    min_score: float = FACE_SCORE_THRESHOLD,
    max_pixels: int | None = None,
    judge_redaction: bool = True,
    workers: int = 1,
    manifest: str | os.PathLike[str] | None = None,
) -> VerifyReport:
    """Re-scan a released folder for faces and metadata left behind; needs no originals.

    Args:
        folder: the folder (searched recursively) or a single file.
        preset: detection preset of the default detector.
        detector: any ``image -> faces`` callable (default: a
            :class:`~facesafe.FaceDetector` with ``preset``); with
            ``workers > 1`` it must pickle.
        min_score: detections at or above this score are reported as faces.
        max_pixels: refuse (and report) images larger than this.
        judge_redaction: set confident detections that look redacted (a
            mosaic, or no fine detail; see :func:`looks_redacted`) apart
            instead of reporting them, and take a second look at low-score
            faces (see the module docstring); ``False`` reports every one.
        workers: processes checking files in parallel (each loads its own
            detector); 1 checks them in this process. As for
            :func:`~facesafe.anonymize_dir`, a script needs no ``__main__``
            guard unless it defines ``detector``'s class.
        manifest: the run's manifest: faces it records as synthesised into a
            file (whose hash still matches) are set apart as ``synthetic``,
            detections inside the faces it records as blurred, pixelated or
            filled (a synthetic run's faces that fell back included) as
            ``redacted``, instead of reported (see the module docstring).
            Without it, a synthetic face is reported as a face (a note says
            so). Other faces are judged as usual. When its run asked
            for plates or text, the plates and text it records are re-checked
            with the text detector (``facesafe[text]``; without it, a
            ``ValueError`` saying so).

    Returns a :class:`VerifyReport`; ``report.clean`` is the verdict.

    >>> report = verify("released/")      # doctest: +SKIP
    >>> report.clean, len(report.flagged)  # doctest: +SKIP
    """
    if not isinstance(min_score, (int, float)) or not 0.0 <= min_score <= 1.0:
        raise ValueError(f"min_score must be a number in [0, 1], got {min_score!r}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    root = Path(folder).absolute()
    if not root.exists():
        raise ValueError(f"folder: {os.fspath(folder)!r} does not exist")
    recorded = _recorded_faces(manifest) if manifest is not None else {}
    if any(r.text_kinds for r in recorded.values()):
        _require_text_models()
    entries = [(root, root.name, None)] if not root.is_dir() else list(_walk(root))
    options = {"min_score": min_score, "max_pixels": max_pixels, "judge_redaction": judge_redaction}
    checks: dict[int, FileCheck] = {i: FileCheck(p, r, None, error=e) for i, (p, r, e) in enumerate(entries) if e}
    todo: list[tuple[int, Path, str, dict[str, Any]]] = [(i, p, r, dict(options, recorded=recorded.get(p.resolve())))
                                                         for i, (p, r, e) in enumerate(entries) if not e]
    own = detector is None
    if todo:
        detector = _check_all(todo, checks, workers=workers, preset=preset, detector=detector)
    files = tuple(checks[i] for i in range(len(entries)))
    rechecked = sum(1 for *_, o in todo if o["recorded"] is not None and o["recorded"].text_kinds)
    notes: tuple[str, ...] = () if entries else ("the folder holds no files",)
    if manifest is None and any(checks[i].faces for i in checks):
        notes += (NO_MANIFEST_NOTE,)
    if rechecked:
        notes += (f"plates and text the manifest records were re-checked in {rechecked} files",)
    label = preset if own else repr(detector)
    return VerifyReport(root.resolve(), files, label, float(min_score), notes)


def _check_all(todo: list[tuple[int, Path, str, dict[str, Any]]], checks: dict[int, FileCheck], *, workers: int, preset: str,
               detector: Callable[[np.ndarray], Sequence[Face]] | None) -> Callable[[np.ndarray], Sequence[Face]] | None:
    """Check every file of ``todo`` into ``checks``, in ``workers`` processes or here; the detector used here (else ``detector``)."""
    own = detector is None

    def handle(task: tuple[int, Path, str, dict[str, Any]], check: FileCheck) -> None:
        checks[task[0]] = check

    if workers > 1 and len(todo) > 1:
        workers = min(workers, len(todo))
        threads = max(1, (os.cpu_count() or 1) // workers)
        setup = functools.partial(_default_detector, preset, threads) if own else functools.partial(_same, detector, threads)
        run_tasks(todo, _check, handle, setup=setup, failed=_crashed, workers=workers)
        return detector
    detectors = _default_detector(preset, None) if own else _same(detector)
    try:
        run_tasks(todo, _check, handle, setup=functools.partial(_given, detectors), failed=_crashed)
    finally:
        detectors.close()
        close = getattr(detectors.faces, "close", None)
        if own and close is not None:
            close()
    return detectors.faces
