"""verify(): a second, independent look at a released folder, without the originals.

Every file under the folder is read (hidden files and sub-folders included;
symbolic links are reported, never followed) and recognised as an image by its
content. For each image, verify reports:

- **faces**: every face the ``thorough`` detector still finds with a score of
  at least :data:`FACE_SCORE_THRESHOLD` (0.5), in any frame. Weaker
  detections are kept in the result as ``weak`` for a person to look at, but
  do not fail the check (see "Score threshold" below).
- **metadata**: everything in the file beyond its format's structural
  allowlist (:mod:`facesafe._structure`: EXIF, GPS, XMP, IPTC, ICC profiles,
  comments, text chunks, thumbnails, extra JPEG APPn segments beyond one
  minimal JFIF, bytes after the end of the image), plus whatever
  :func:`facesafe.read_metadata` decodes (tag names, not values).
- **unreadable**: files that look like images but cannot be decoded, and
  every file that is not an image at all (a release folder should hold
  nothing verify cannot vouch for: sidecar ``.xmp`` files, manifests, notes).

Score threshold
    The detector's ``thorough`` preset keeps candidates down to a low score
    for recall, and on a heavily blurred or pixelated face it can still fire
    weakly on the head's outline. A face verify *reports* is one the detector
    is confident about (score >= 0.5): an unredacted face scores 0.8-1.0,
    while the redactions facesafe writes (blur, pixelate, fill) leave at most
    weak responses (measured on the astronaut; see docs/verify.md). Lower it
    with ``min_score=`` for a stricter check (more false alarms).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._geometry import Box, Face

__all__ = ["FACE_SCORE_THRESHOLD", "FileCheck", "VerifyReport", "check_file", "verify"]

#: Detections at or above this score are reported as faces left in a file.
FACE_SCORE_THRESHOLD = 0.5
#: Detections below the threshold but at or above this score are listed as ``weak``.
WEAK_SCORE_FLOOR = 0.2

# read_metadata keys that describe structure, not content.
_STRUCTURAL_KEYS = {"path", "format", "size", "mode", "n_frames", "orientation", "segments", "errors"}


@dataclass(frozen=True)
class FaceLeft:
    """A detection in a released file: frame index, box (that file's pixels) and score."""

    frame: int
    box: Box
    score: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return {"frame": self.frame, "box": [round(v, 1) for v in self.box.as_xyxy()], "score": round(self.score, 4)}


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
        weak: detections below the threshold (informative, not a failure).
        size: ``(width, height)`` when the file was decoded.
    """

    path: Path
    rel: str
    format: str | None
    faces: tuple[FaceLeft, ...] = ()
    metadata: tuple[str, ...] = ()
    error: str | None = None
    weak: tuple[FaceLeft, ...] = ()
    size: tuple[int, int] | None = None

    @property
    def clean(self) -> bool:
        """True when nothing was found and the file could be checked."""
        return not self.faces and not self.metadata and self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return {
            "path": str(self.path), "rel": self.rel, "format": self.format, "clean": self.clean,
            "size": list(self.size) if self.size else None, "error": self.error,
            "faces": [f.to_dict() for f in self.faces], "metadata": list(self.metadata),
            "weak": [f.to_dict() for f in self.weak],
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
            "unreadable": sum(f.error is not None for f in flagged),
            "weak": sum(bool(f.weak) for f in self.files),
            "notes": list(self.notes),
            "flagged": [f.to_dict() for f in flagged],
            "weak_only": [f.to_dict() for f in self.files if f.clean and f.weak],
        }  # fmt: skip

    def __str__(self) -> str:
        lines = []
        for f in self.flagged:
            if f.error is not None:
                lines.append(f"{f.rel}: unreadable: {f.error}")
            for face in f.faces:
                frame = f" frame {face.frame}" if face.frame else ""
                x0, y0, x1, y1 = (round(v) for v in face.box.as_xyxy())
                lines.append(f"{f.rel}: face{frame} at ({x0}, {y0})-({x1}, {y1}), {y1 - y0} px high, score {face.score:.2f}")
            for item in f.metadata:
                lines.append(f"{f.rel}: metadata: {item}")
        d = self.to_dict()
        verdict = "CLEAN" if self.clean else "FOUND SOMETHING"
        lines.append(
            f"{verdict}: {d['checked']} files checked; {d['with_faces']} with faces, {d['with_metadata']} with metadata, "
            f"{d['unreadable']} unreadable or not images (faces: {self.preset} detector, score >= {self.min_score:g}; "
            f"{d['weak']} files with weaker detections below it)"
        )
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _metadata_findings(data: bytes) -> list[str]:
    from ._metadata import read_metadata

    found = []
    report = read_metadata(data)
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


def check_file(
    path: str | os.PathLike[str],
    detector: Callable[[np.ndarray], Sequence[Face]],
    *,
    rel: str | None = None,
    min_score: float = FACE_SCORE_THRESHOLD,
    max_pixels: int | None = None,
) -> FileCheck:
    """Check one file: faces (``detector`` on every frame), metadata, readability.

    Never raises for a bad file: what went wrong is the check's ``error``.
    """
    from ._errors import ImageError
    from ._io import DEFAULT_MAX_PIXELS, load_image, sniff_format
    from ._structure import extra_content

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
    fmt = sniff_format(data[:32])
    if fmt is None:
        return FileCheck(path, rel, None, error="not an image (by content): verify cannot vouch for it")
    metadata = list(extra_content(data, fmt))
    try:
        metadata += _metadata_findings(data)
    except ImageError as exc:
        metadata.append(f"metadata reader failed: {exc}")
    try:
        picture = load_image(data, max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    except ImageError as exc:
        return FileCheck(path, rel, fmt, metadata=tuple(metadata), error=getattr(exc, "reason", None) or str(exc))
    faces: list[FaceLeft] = []
    weak: list[FaceLeft] = []
    for index, frame in enumerate(picture.frames):
        for face in detector(frame):
            left = FaceLeft(index, face.box, float(face.score))
            if face.score >= min_score:
                faces.append(left)
            elif face.score >= WEAK_SCORE_FLOOR:
                weak.append(left)
    return FileCheck(path, rel, fmt, tuple(faces), tuple(metadata), None, tuple(weak), picture.size)


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


def verify(
    folder: str | os.PathLike[str],
    *,
    preset: str = "thorough",
    detector: Callable[[np.ndarray], Sequence[Face]] | None = None,
    min_score: float = FACE_SCORE_THRESHOLD,
    max_pixels: int | None = None,
) -> VerifyReport:
    """Re-scan a released folder for faces and metadata left behind; needs no originals.

    Args:
        folder: the folder (searched recursively) or a single file.
        preset: detection preset of the default detector.
        detector: any ``image -> faces`` callable (default: a
            :class:`~facesafe.FaceDetector` with ``preset``).
        min_score: detections at or above this score are reported as faces.
        max_pixels: refuse (and report) images larger than this.

    Returns a :class:`VerifyReport`; ``report.clean`` is the verdict.

    >>> report = verify("released/")      # doctest: +SKIP
    >>> report.clean, len(report.flagged)  # doctest: +SKIP
    """
    if not isinstance(min_score, (int, float)) or not 0.0 <= min_score <= 1.0:
        raise ValueError(f"min_score must be a number in [0, 1], got {min_score!r}")
    root = Path(folder)
    if not root.exists():
        raise ValueError(f"folder: {os.fspath(folder)!r} does not exist")
    entries = [(root, root.name, None)] if not root.is_dir() else list(_walk(root))
    own = detector is None
    if own:
        from ._detect import FaceDetector

        detector = FaceDetector(preset=preset)
    try:
        files = tuple(
            FileCheck(path, rel, None, error=error) if error else
            check_file(path, detector, rel=rel, min_score=min_score, max_pixels=max_pixels)
            for path, rel, error in entries
        )
    finally:
        if own and hasattr(detector, "close"):
            detector.close()
    notes = () if entries else ("the folder holds no files",)
    label = preset if own else repr(detector)
    return VerifyReport(root.resolve(), files, label, float(min_score), notes)
