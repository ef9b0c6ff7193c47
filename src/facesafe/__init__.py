"""facesafe: de-identify images before they leave.

Strips every piece of metadata, finds every face and redacts it. The public
API is what ``__all__`` lists; everything in an underscored module is private.

>>> import facesafe
>>> image = facesafe.read_image("photo.jpg")          # doctest: +SKIP
>>> result = facesafe.anonymize(image)                 # doctest: +SKIP
>>> facesafe.write_image("clean.jpg", result.image)   # doctest: +SKIP

Importing facesafe is cheap: the records and errors load at once, everything
else on first use (PEP 562), so ``facesafe strip`` never pays for detection,
and no model loads until a detector is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# --- generated from _PUBLIC by scripts/make_api_doc.py (a test checks it); do not edit ---
from ._errors import (
    CorruptImageError,
    DetectionError,
    FacesafeError,
    ImageError,
    ImageTooLargeError,
    MissingExtraError,
    MultiFrameImageError,
    OutputError,
    OutputExistsError,
    RedactionError,
    UnsupportedImageError,
)
from ._geometry import Box, Face
from ._protocols import Detector, Redacted, Redaction

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads these
    from ._anonymize import Anonymizer, FileResult, Result, anonymize, anonymize_bytes
    from ._batch import Report, StripReport, anonymize_dir, strip_dir
    from ._batch._manifest import read_manifest
    from ._datasets import DatasetReport, anonymize_dataset
    from ._datasets._hf import AnonymizeColumn
    from ._detect import PRESETS, FaceDetector, FaceMesher, Preset, detect_faces, mesh_faces, model_versions
    from ._io import DEFAULT_MAX_PIXELS, MetadataWarning, Picture, encode_image, load_image, read_image, write_image
    from ._metadata import read_metadata, strip_metadata
    from ._redact import (
        REDACTIONS,
        Blur,
        Crop,
        DonorPool,
        Fill,
        KSamePool,
        Pixelate,
        Replacement,
        Synthesize,
        face_mask,
    )
    from ._report import render_report
    from ._verify import FileCheck, VerifyReport, verify
# --- end of generated imports ---

__version__ = "0.1.0"

# The public surface, in one table: (section of docs/api.md, private module, names).
# __all__ and the lazy loader below, the imports above and docs/api.md are derived from it.
# Modules in _EAGER load with facesafe (cheap records, protocols, errors); the rest on first use.
_PUBLIC: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Reading and writing", "_io", ("read_image", "load_image", "Picture", "write_image", "encode_image",
                                    "DEFAULT_MAX_PIXELS", "MetadataWarning")),
    ("Metadata", "_metadata", ("read_metadata", "strip_metadata")),
    ("Metadata", "_batch", ("strip_dir", "StripReport")),
    ("Anonymising", "_anonymize", ("anonymize", "anonymize_bytes", "Anonymizer", "Result", "FileResult")),
    ("Anonymising", "_batch", ("anonymize_dir", "Report")),
    ("Anonymising", "_batch._manifest", ("read_manifest",)),
    ("Datasets", "_datasets", ("anonymize_dataset", "DatasetReport")),
    ("Datasets", "_datasets._hf", ("AnonymizeColumn",)),
    ("Detection", "_detect", ("detect_faces", "FaceDetector", "PRESETS", "Preset", "mesh_faces", "FaceMesher",
                              "model_versions")),
    ("Detection", "_protocols", ("Detector",)),
    ("Records", "_geometry", ("Box", "Face")),
    ("Redactions", "_redact", ("Blur", "Pixelate", "Fill", "Crop", "Synthesize", "DonorPool", "KSamePool", "Replacement",
                               "REDACTIONS")),
    ("Redactions", "_protocols", ("Redaction", "Redacted")),
    ("Release checks", "_verify", ("verify", "VerifyReport", "FileCheck")),
    ("Release checks", "_report", ("render_report",)),
    ("Advanced", "_redact", ("face_mask",)),
    ("Errors", "_errors", ("FacesafeError", "ImageError", "UnsupportedImageError", "CorruptImageError",
                           "ImageTooLargeError", "MultiFrameImageError", "OutputError", "OutputExistsError",
                           "DetectionError", "RedactionError", "MissingExtraError")),
)
_EAGER = ("_errors", "_geometry", "_protocols")

__all__ = ["__version__", *(name for _, _, names in _PUBLIC for name in names)]
_LAZY = {name: module for _, module, names in _PUBLIC if module not in _EAGER for name in names}


def _present(value: Any) -> Any:
    """Show an export as ``facesafe.X``, not ``facesafe._module.X`` (as httpx does)."""
    if isinstance(value, type) or callable(value):
        try:
            value.__module__ = "facesafe"
        except (AttributeError, TypeError):
            pass
    return value


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'facesafe' has no attribute {name!r}")
    value = _present(getattr(importlib.import_module(f".{module}", __name__), name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


for _name in __all__:
    if _name in globals() and _name != "__version__":
        _present(globals()[_name])
del _name
