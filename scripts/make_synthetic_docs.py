"""Make the images of ``docs/synthetic.md`` (public-domain material only).

- ``docs/img/synthetic-astronaut.jpg``: the astronaut (skimage.data, public
  domain) before, and after ``Synthesize`` with three seeds;
- ``docs/img/synthetic-group.jpg``: a group composed from the astronaut at
  several sizes, flipped, before and after; the smallest face is below
  ``min_size`` and falls back to pixelation.

    .venv/bin/python scripts/make_synthetic_docs.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from facesafe import Box, Face, Synthesize

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
FACE = Box(166.0, 52.0, 252.0, 170.0)  # the astronaut's face (as in tests/conftest.py)
HEAD = (slice(0, 300), slice(90, 330))  # rows, cols of the head-and-shoulders crop


def _save(image: np.ndarray, name: str, width: int) -> None:
    picture = Image.fromarray(image)
    picture = picture.resize((width, round(image.shape[0] * width / image.shape[1])), Image.LANCZOS)
    picture.convert("RGB").save(OUT / name, quality=85, optimize=True)
    print(f"wrote docs/img/{name} ({(OUT / name).stat().st_size // 1024} KiB)")


def astronaut() -> None:
    image = skimage.data.astronaut()
    crop = (slice(20, 220), slice(110, 310))
    panels = [image[crop]]
    for seed in (0, 1, 2):
        result = Synthesize(seed=seed).replace(image, [Face(FACE)])
        print(f"astronaut seed {seed}: {result.donors}")
        panels.append(result.image[crop])
    gap = np.full((200, 6, 3), 255, np.uint8)
    _save(np.hstack([p for panel in panels for p in (panel, gap)][:-1]), "synthetic-astronaut.jpg", 820)


def group() -> tuple[np.ndarray, list[Face]]:
    """A 720 x 360 canvas with five astronauts at different scales, some mirrored."""
    head = skimage.data.astronaut()[HEAD]
    canvas = np.zeros((360, 720, 3), np.uint8)
    canvas[:] = np.linspace(210, 150, 360)[:, None, None].astype(np.uint8)
    faces = []
    # (left, top, scale, mirrored)
    for x, y, scale, flip in ((10, 60, 1.0, False), (250, 110, 0.75, True), (430, 150, 0.6, False),
                              (570, 180, 0.45, True), (680, 300, 0.12, False)):  # fmt: skip
        part = head[:, ::-1] if flip else head
        h, w = round(part.shape[0] * scale), round(part.shape[1] * scale)
        part = np.asarray(Image.fromarray(np.ascontiguousarray(part)).resize((w, h), Image.LANCZOS))
        h, w = min(h, 360 - y), min(w, 720 - x)
        canvas[y : y + h, x : x + w] = part[:h, :w]
        x0, x1 = FACE.x0 - HEAD[1].start, FACE.x1 - HEAD[1].start
        if flip:
            x0, x1 = part.shape[1] / scale - x1, part.shape[1] / scale - x0
        faces.append(Face(Box(x + x0 * scale, y + FACE.y0 * scale, x + x1 * scale, y + FACE.y1 * scale)))
    return canvas, faces


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    astronaut()
    canvas, faces = group()
    result = Synthesize(seed=7).replace(canvas, faces)
    print(f"group: donors {result.donors}; fell back {result.fell_back} {result.reasons}")
    gap = np.full((8, canvas.shape[1], 3), 255, np.uint8)
    _save(np.vstack([canvas, gap, result.image]), "synthetic-group.jpg", 720)


if __name__ == "__main__":
    main()
