"""Turned copies of a labelled set: sideways photos and tilted ones, scored unchanged.

From ``../shared/data/wider-dev`` (or ``--data DIR``) this writes, under
``--out`` (never inside the repository: the photos may not be copied into it),
one folder per set, each with ``images/...`` and an ``annotations.json`` in the
shared schema, so ``../shared/tools/coverage.py`` scores it as it is:

- ``sideways``: every photo's pixels turned by 90, 180 or 270 degrees
  counter-clockwise (photo *i* by the *i*-th of those, in turn), no EXIF tag:
  what a scan, some apps or a re-saved phone photo give. Boxes are turned
  exactly (a turned box is a box); a face's *height* for the scorer's size
  buckets is then its height on screen, that is its width before turning;
- ``tilted``: every photo turned in-plane by -45, -30, +30 or +45 degrees (in
  turn) on a canvas grown to hold the whole turned photo (new corners black).
  A turned box is no longer axis-aligned: the set's box is the axis-aligned
  hull of the turned box. The scorer's core (the central 60% x 60% of a box)
  of that hull is exactly the hull of the turned core, since scaling about the
  centre commutes with turning, so a face counts as protected when 90% of the
  hull of its turned core is masked: a little stricter than upright (at 45
  degrees that hull holds twice the core's area, corners outside the face).
  Ignore boxes are turned the same way.

Each image record keeps the shared fields and adds ``angle`` (degrees,
counter-clockwise). Photos are written as JPEG quality 95 (the originals are
JPEGs; 4:4:4 chroma, so turning does not move chroma blocks).

    .venv/bin/python benchmarks/rotate.py --out /tmp/facesafe-turned [--sets sideways,tilted] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from _common import WIDER_DEV, absent

SETS = {"sideways": (90, 180, 270), "tilted": (-45, -30, 30, 45)}
QUALITY = 95


def turn_matrix(angle: float, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """The 2x3 affine matrix (continuous pixel coordinates, y down) turning a
    ``width x height`` image by ``angle`` degrees counter-clockwise on screen
    onto a canvas that holds all of it; and that canvas's width and height."""
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    if angle % 90 == 0:  # exact for quarter turns (no rounding of sin/cos)
        c, s = round(c), round(s)
    new_w = abs(c) * width + abs(s) * height
    new_h = abs(s) * width + abs(c) * height
    # On screen (y down) a counter-clockwise turn maps (dx, dy) -> (c dx + s dy, -s dx + c dy).
    m = np.array([[c, s, 0.0], [-s, c, 0.0]])
    m[:, 2] = np.array([new_w / 2, new_h / 2]) - m[:, :2] @ np.array([width / 2, height / 2])
    return m, round(new_w), round(new_h)


def turn_boxes(boxes: list, m: np.ndarray, width: int, height: int) -> list[list[int]]:
    """``[x, y, w, h]`` boxes turned by ``m``: the axis-aligned hull of each
    turned box, rounded outward and clipped to the ``width x height`` canvas."""
    out = []
    for x, y, w, h in boxes:
        corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], float)
        p = corners @ m[:, :2].T + m[:, 2]
        x0, y0 = max(math.floor(p[:, 0].min() + 1e-6), 0), max(math.floor(p[:, 1].min() + 1e-6), 0)
        x1, y1 = min(math.ceil(p[:, 0].max() - 1e-6), width), min(math.ceil(p[:, 1].max() - 1e-6), height)
        out.append([x0, y0, x1 - x0, y1 - y0])
    return out


def turn_image(image: np.ndarray, angle: float) -> np.ndarray:
    """``image`` turned by ``angle`` degrees counter-clockwise on screen
    (quarter turns exactly, others bilinear on a grown black canvas)."""
    if angle % 90 == 0:
        return np.ascontiguousarray(np.rot90(image, int(angle // 90) % 4))
    import cv2

    m, w, h = turn_matrix(angle, image.shape[1], image.shape[0])
    # cv2 puts pixel centres at integer coordinates; the matrix is for pixel edges.
    shift = m[:, :2] @ np.array([0.5, 0.5]) - np.array([0.5, 0.5])
    m_px = m.copy()
    m_px[:, 2] += shift
    return cv2.warpAffine(image, m_px, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def turn_record(record: dict, angle: float) -> dict:
    """The annotation record of ``record``'s photo turned by ``angle``."""
    m, w, h = turn_matrix(angle, record["width"], record["height"])
    turned = dict(record, width=w, height=h, angle=angle)
    for key in ("faces", "ignore"):
        if key in record:
            boxes = turn_boxes(record[key], m, w, h)
            turned[key] = [b for b in boxes if b[2] > 0 and b[3] > 0]
    return turned


def make_set(data: Path, out: Path, angles: tuple[int, ...], limit: int | None = None) -> Path:
    """Write the photos of ``data`` (its first ``limit``) turned by ``angles`` in
    turn, and their annotations, under ``out``; return the annotations' path."""
    from PIL import Image

    records = json.loads((data / "annotations.json").read_text())["images"]
    records = records[:limit] if limit else records
    turned = []
    for i, record in enumerate(records):
        angle = angles[i % len(angles)]
        image = np.asarray(Image.open(data / record["file"]).convert("RGB"))
        if image.shape[:2] != (record["height"], record["width"]):
            raise SystemExit(f"{record['file']}: size {image.shape[:2]} differs from its annotation")
        target = out / record["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(turn_image(image, angle)).save(target, quality=QUALITY, subsampling=0)
        turned.append(turn_record(record, angle))
    ann = out / "annotations.json"
    ann.write_text(json.dumps({"images": turned}))
    return ann


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=WIDER_DEV, help="labelled set (default: wider-dev)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the sets (outside the repository)")
    parser.add_argument("--sets", default="sideways,tilted", help=f"comma-separated, of {sorted(SETS)}")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    args = parser.parse_args(argv)
    if absent(args.data / "annotations.json", "rotate"):
        return 0
    root = Path(__file__).resolve().parents[1]
    if args.out.resolve().is_relative_to(root):
        parser.error(f"--out must lie outside the repository ({root}): the photos may not be copied into it")
    for name in filter(None, args.sets.split(",")):
        if name not in SETS:
            parser.error(f"--sets: unknown set {name!r}, expected some of {sorted(SETS)}")
        ann = make_set(args.data, args.out / name, SETS[name], args.limit)
        print(f"{name}: {ann}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
