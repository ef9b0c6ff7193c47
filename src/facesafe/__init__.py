"""facesafe: de-identify images before they leave.

Strips every piece of metadata, finds every face and redacts it. The public
API is what ``__all__`` lists; everything in an underscored module is private.

>>> import facesafe
>>> image = facesafe.read_image("photo.jpg")          # doctest: +SKIP
>>> result = facesafe.anonymize(image)                 # doctest: +SKIP
>>> facesafe.write_image("clean.jpg", result.image)   # doctest: +SKIP

Importing facesafe loads no model: detectors load theirs when first built.
"""

from __future__ import annotations

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
from ._protocols import Detector, Redaction
from ._detect import PRESETS, FaceDetector, FaceMesher, Preset, detect_faces, mesh_faces, model_versions
from ._anonymize import Anonymizer, FileResult, Result, anonymize, anonymize_bytes
from ._batch import Manifest, Report, anonymize_dir
from ._redact import REDACTIONS, Blur, Crop, Fill, Pixelate, face_mask, parse_color
from ._redact import KSamePool, Replacement, Synthesize
from ._report import render_report
from ._verify import FileCheck, VerifyReport, verify

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # records and protocols
    "Box",
    "Face",
    "Detector",
    "Redaction",
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

# Present every export as facesafe.X, not facesafe._module.X (as httpx does).
for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, str):
        try:
            _obj.__module__ = "facesafe"
        except (AttributeError, TypeError):
            pass
del _name, _obj
