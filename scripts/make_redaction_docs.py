"""Draw the images of docs/redactions.md: every redaction on the astronaut photo.

    .venv/bin/python scripts/make_redaction_docs.py [--out docs/img]

Uses only skimage's public-domain astronaut (never the evaluation photos).
The face is the fixed box the tests use; the outline example adds MediaPipe
FaceMesh points when facesafe's mesher is available (otherwise an outline
falls back to an ellipse, and the script says so).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

import facesafe
from facesafe import Box, Face

ASTRONAUT_FACE = Box(166.0, 52.0, 252.0, 170.0)  # as in tests/conftest.py
SIDE = 256  # output images are 256 px wide JPEGs of a few tens of KB


def with_mesh(image: np.ndarray, faces: list[Face]) -> list[Face]:
    """The faces with FaceMesh points when facesafe's mesher can run, else unchanged."""
    try:
        from facesafe._detect._mediapipe import mesh_faces
    except ImportError as exc:
        print(f"no FaceMesh ({exc}); the outline image shows the ellipse fallback", file=sys.stderr)
        return faces
    return list(mesh_faces(image, faces))


def examples(image: np.ndarray) -> list[tuple[str, object, list[Face]]]:
    """(file stem, redaction, faces) for every picture in the doc."""
    face = [Face(ASTRONAUT_FACE)]
    meshed = with_mesh(image, face)
    return [
        ("original", None, face),
        ("blur", facesafe.Blur(), face),
        ("pixelate", facesafe.Pixelate(), face),
        ("fill", facesafe.Fill(), face),
        ("crop", facesafe.Crop(), face),
        ("blur-weak-5pc", facesafe.Blur(sigma=0.05, noise=0.0), face),
        ("fill-box", facesafe.Fill(shape="box"), face),
        ("fill-outline", facesafe.Fill(shape="outline"), meshed),
        ("blur-feather", facesafe.Blur(feather=0.15), face),
    ]


def save(path: Path, image: np.ndarray) -> None:
    """A small JPEG, ``SIDE`` px wide, no metadata."""
    im = Image.fromarray(image)
    im = im.resize((SIDE, max(round(im.height * SIDE / im.width), 1)), Image.Resampling.LANCZOS)
    im.save(path, "JPEG", quality=80, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "img")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    image = skimage.data.astronaut()
    for stem, redaction, faces in examples(image):
        out = image if redaction is None else redaction(image, faces)
        path = args.out / f"redaction-{stem}.jpg"
        save(path, out)
        print(f"{path} {out.shape[1]}x{out.shape[0]} {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
