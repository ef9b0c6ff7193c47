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

from ._errors import (
    CorruptImageError,
    DetectionError,
    FacesafeError,
    ImageError,
    ImageTooLargeError,
    MultiFrameImageError,
    OutputError,
    OutputExistsError,
    RedactionError,
    UnsupportedImageError,
)
from ._geometry import Box, Face
from ._protocols import Detector, Redacted, Redaction

__version__ = "0.1.0"

# Every other export, by the private module that defines it; imported on first use.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "_io": ("DEFAULT_MAX_PIXELS", "MetadataWarning", "Picture", "encode_image", "load_image", "output_format",
            "read_image", "sniff_format", "suffix_for", "write_image"),
    "_metadata": ("read_metadata", "strip_metadata"),
    "_detect": ("PRESETS", "FaceDetector", "FaceMesher", "Preset", "detect_faces", "mesh_faces", "model_versions"),
    "_anonymize": ("Anonymizer", "FileResult", "Result", "anonymize", "anonymize_bytes"),
    "_batch": ("Manifest", "Report", "anonymize_dir"),
    "_redact": ("REDACTIONS", "Blur", "Crop", "Fill", "Pixelate", "face_mask", "parse_color", "KSamePool",
                "Replacement", "Synthesize"),
    "_report": ("render_report",),
    "_verify": ("FileCheck", "VerifyReport", "verify"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads these
    from ._anonymize import Anonymizer, FileResult, Result, anonymize, anonymize_bytes
    from ._batch import Manifest, Report, anonymize_dir
    from ._detect import PRESETS, FaceDetector, FaceMesher, Preset, detect_faces, mesh_faces, model_versions
    from ._io import (
        DEFAULT_MAX_PIXELS,
        MetadataWarning,
        Picture,
        encode_image,
        load_image,
        output_format,
        read_image,
        sniff_format,
        suffix_for,
        write_image,
    )
    from ._metadata import read_metadata, strip_metadata
    from ._redact import (
        REDACTIONS,
        Blur,
        Crop,
        Fill,
        KSamePool,
        Pixelate,
        Replacement,
        Synthesize,
        face_mask,
        parse_color,
    )
    from ._report import render_report
    from ._verify import FileCheck, VerifyReport, verify

__all__ = [
    "__version__",
    # records and protocols
    "Box",
    "Face",
    "Detector",
    "Redaction",
    "Redacted",
    # reading and writing images, metadata
    "Picture",
    "load_image",
    "read_image",
    "write_image",
    "encode_image",
    "sniff_format",
    "output_format",
    "suffix_for",
    "DEFAULT_MAX_PIXELS",
    "read_metadata",
    "strip_metadata",
    "MetadataWarning",
    # detecting
    "FaceDetector",
    "detect_faces",
    "PRESETS",
    "Preset",
    "FaceMesher",
    "mesh_faces",
    "model_versions",
    # anonymising
    "anonymize",
    "anonymize_bytes",
    "anonymize_dir",
    "Anonymizer",
    "Result",
    "FileResult",
    "Report",
    "Manifest",
    # errors
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
    # redactions
    "Blur",
    "Pixelate",
    "Fill",
    "Crop",
    "REDACTIONS",
    "face_mask",
    "parse_color",
    "Synthesize",
    "KSamePool",
    "Replacement",
    # release checks
    "verify",
    "VerifyReport",
    "FileCheck",
    "render_report",
]


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
