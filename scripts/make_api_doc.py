"""Write docs/api.md from the public namespace: every name in facesafe.__all__,
its signature and docstring. A test checks the file is up to date.

    .venv/bin/python scripts/make_api_doc.py
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import facesafe
import facesafe.audit

OUT = Path(__file__).resolve().parents[1] / "docs" / "api.md"

GROUPS = {
    "Reading and writing": ["read_image", "load_image", "Picture", "write_image", "encode_image", "sniff_format",
                            "output_format", "suffix_for", "DEFAULT_MAX_PIXELS", "MetadataWarning"],
    "Metadata": ["read_metadata", "strip_metadata"],
    "Anonymising": ["anonymize", "anonymize_bytes", "Anonymizer", "Result", "FileResult", "anonymize_dir", "Report", "Manifest"],
    "Detection": ["detect_faces", "FaceDetector", "PRESETS", "mesh_faces", "FaceMesher", "model_versions", "Detector"],
    "Records": ["Box", "Face"],
    "Redactions": ["Blur", "Pixelate", "Fill", "Crop", "Synthesize", "KSamePool", "Replacement", "REDACTIONS", "face_mask",
                   "parse_color", "Redaction"],
    "Release checks": ["verify", "VerifyReport", "FileCheck", "render_report"],
}


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj)).replace("'", "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def _section(name: str, obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj):
        head = f"### `facesafe.{name}{_signature(obj)}`" if not issubclass(obj, BaseException) else f"### `facesafe.{name}`"
    elif callable(obj):
        head = f"### `facesafe.{name}{_signature(obj)}`"
    else:
        head = f"### `facesafe.{name}`"
        doc = doc if not isinstance(obj, (int, str, dict)) and type(obj).__module__ != "builtins" else f"Value: `{obj!r}`"
    return f"{head}\n\n{doc}\n"


def render() -> str:
    names = [n for n in facesafe.__all__ if n != "__version__"]
    listed = {n for group in GROUPS.values() for n in group}
    errors = [n for n in names if n.endswith("Error")]
    other = [n for n in names if n not in listed and n not in errors]
    parts = [
        "# Python API\n",
        "Generated from the docstrings by `scripts/make_api_doc.py`; do not edit by hand.\n",
        "Everything public is importable from `facesafe` (and the re-identification audit from "
        "`facesafe.audit`); underscored modules are private. Images are `numpy.ndarray`, `uint8`, RGB, "
        "shape `(H, W, 3)`; functions take the image first and options by keyword.\n",
    ]
    for title, group in [*GROUPS.items(), ("Other", other)]:
        present = [n for n in group if n in names]
        if not present:
            continue
        parts.append(f"## {title}\n")
        parts.extend(_section(n, getattr(facesafe, n)) for n in present)
    parts.append("## Errors\n")
    parts.append("```\n" + (inspect.getdoc(sys.modules["facesafe._errors"]) or "") + "\n```\n")
    parts.append("## `facesafe.audit`\n")
    for name in facesafe.audit.__all__:
        parts.append(_section(name, getattr(facesafe.audit, name)).replace("facesafe.", "facesafe.audit.", 1))
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
