"""The facesafe exception tree.

Every error facesafe raises on purpose derives from one root, so callers can
catch it in one place::

    FacesafeError
    ├── ImageError                 a file could not be turned into pixels (has .path)
    │   ├── UnsupportedImageError  not an image, or a format facesafe does not read
    │   ├── CorruptImageError      recognised, but truncated or undecodable
    │   ├── ImageTooLargeError     declares more pixels than allowed (a decompression bomb)
    │   └── MultiFrameImageError   several frames where the caller takes one
    ├── OutputError                an output could not be written (has .path)
    │   └── OutputExistsError      the output exists and overwriting was not asked for
    ├── DetectionError             a face detector could not run
    ├── RedactionError             a redaction could not be applied
    └── MissingExtraError          a feature needs an extra that is not installed (has .extra;
                                   also an ImportError)

Argument errors are plain ``ValueError`` / ``TypeError`` whose message names
the parameter. Messages of errors about a file start with the file's name and
then say what is wrong with it.
"""

from __future__ import annotations

import os

__all__ = [
    "FacesafeError",
    "ImageError",
    "UnsupportedImageError",
    "CorruptImageError",
    "ImageTooLargeError",
    "MultiFrameImageError",
    "OutputError",
    "OutputExistsError",
    "DetectionError",
    "RedactionError",
    "MissingExtraError",
]


class FacesafeError(Exception):
    """Root of every error facesafe raises on purpose."""


class _PathError(FacesafeError):
    """An error about one file: ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path or '<bytes>'}: {reason}")

    def __reduce__(self):  # keep the two-argument form picklable across processes
        return (type(self), (self.path, self.reason))


class ImageError(_PathError):
    """A file could not be turned into pixels."""


class UnsupportedImageError(ImageError):
    """The data is not an image, or is in a format facesafe does not read."""


class CorruptImageError(ImageError):
    """The format was recognised but the data is truncated or cannot be decoded."""


class ImageTooLargeError(ImageError):
    """The image declares more pixels than the configured limit allows."""


class MultiFrameImageError(ImageError):
    """The file holds several frames (animation, pages) but one was expected."""


class OutputError(_PathError):
    """An output file could not be written."""


class OutputExistsError(OutputError):
    """The output already exists and overwriting was not requested."""


class DetectionError(FacesafeError):
    """A face detector could not run (missing model, runtime failure)."""


class RedactionError(FacesafeError):
    """A redaction could not be applied to an image."""


class MissingExtraError(FacesafeError, ImportError):
    """A feature needs an optional extra (``pip install 'facesafe[<extra>]'``) that is not installed.

    ``str(err)`` is ``"<reason>: pip install 'facesafe[<extra>]'"``. It is also
    an ``ImportError``, as a missing optional package usually is.
    """

    def __init__(self, extra: str, reason: str) -> None:
        self.extra = extra
        self.reason = reason
        super().__init__(f"{reason}: pip install 'facesafe[{extra}]'")

    def __reduce__(self):  # keep the two-argument form picklable across processes
        return (type(self), (self.extra, self.reason))
