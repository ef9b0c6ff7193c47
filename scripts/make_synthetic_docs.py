"""Make the images of ``docs/synthetic.md`` (public-domain material only).

- ``docs/img/synthetic-astronaut.jpg``: the astronaut (skimage.data, public
  domain) before, and after ``Synthesize`` with three seeds;
- ``docs/img/synthetic-group.jpg``: a group composed from the astronaut at
  several sizes, flipped, before and after; the smallest face is below
  ``min_size`` and is placed by its box;
- ``docs/img/synthetic-crowd.jpg``: a crowd composed from the astronaut with
  faces of 9 to 39 px (boxes and five landmarks known from the composition),
  before and after, and a three-times enlargement of its back rows.

    .venv/bin/python scripts/make_synthetic_docs.py
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from facesafe import Box, Face, FaceMesher, Synthesize

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


def astronaut_landmarks() -> tuple[tuple[str, float, float], ...]:
    """The astronaut's five landmarks (eyes, nose tip, mouth corners) in the head crop, from FaceMesh."""
    (meshed,) = FaceMesher()(skimage.data.astronaut(), [Face(FACE)])
    index = {"right_eye": 468, "left_eye": 473, "nose": 1, "mouth_right": 61, "mouth_left": 291}
    top, left = HEAD[0].start, HEAD[1].start
    return tuple((name, float(meshed.mesh[i, 0] - left), float(meshed.mesh[i, 1] - top)) for name, i in index.items())


def crowd() -> tuple[np.ndarray, list[Face]]:
    """A 720 x 320 crowd: five rows of astronauts, smaller towards the back, each row's suits behind the next.

    Each face comes with its box and five landmarks, scaled from the astronaut's (the crowd is
    composed, so where every face is, is known; a detector would report about the same).
    """
    head = skimage.data.astronaut()[HEAD]
    marks = astronaut_landmarks()
    canvas = np.zeros((320, 720, 3), np.uint8)
    canvas[:] = np.linspace(200, 130, 320)[:, None, None].astype(np.uint8)
    rng = np.random.default_rng(5)
    rows: list[list[Face]] = []
    top = 0
    for row, scale in enumerate((0.1, 0.15, 0.22, 0.32, 0.45)):  # the face is 86 px wide at 1.0
        h, w = round(head.shape[0] * scale), round(head.shape[1] * scale)
        x = -int(rng.integers(0, w // 2))
        rows.append([])
        while x < 720:
            flip = bool((x // w + row) % 2)
            part = head[:, ::-1] if flip else head
            part = np.asarray(Image.fromarray(np.ascontiguousarray(part)).resize((w, h), Image.LANCZOS))
            x0, x1 = max(x, 0), min(x + w, 720)
            y1 = min(top + h, 320)
            canvas[top:y1, x0:x1] = part[: y1 - top, x0 - x : x1 - x]
            rows[-1].append(_placed_face(marks, x, top, scale, flip, head.shape[1]))
            x += int(w * rng.uniform(1.0, 1.3))
        top += round(0.75 * h)
    return canvas, [face for row in rows for face in row if face.box.x0 < 720]


def _placed_face(marks, x: float, y: float, scale: float, flip: bool, width: int) -> Face:
    """The astronaut's face box and landmarks for a head pasted at ``(x, y)``, scaled, maybe mirrored."""
    x0, x1 = FACE.x0 - HEAD[1].start, FACE.x1 - HEAD[1].start
    mirror = {"right_eye": "left_eye", "left_eye": "right_eye", "mouth_right": "mouth_left", "mouth_left": "mouth_right"}
    if flip:
        x0, x1 = width - x1, width - x0
        marks = tuple((mirror.get(n, n), width - px, py) for n, px, py in marks)
    box = Box(x + x0 * scale, y + (FACE.y0 - HEAD[0].start) * scale, x + x1 * scale, y + (FACE.y1 - HEAD[0].start) * scale)
    return Face(box.clipped(width=720, height=320), landmarks=tuple((n, x + px * scale, y + py * scale) for n, px, py in marks))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    astronaut()
    canvas, faces = group()
    result = Synthesize(seed=7).replace(canvas, faces)
    print(f"group: donors {result.donors}; placed {result.placed}; fell back {result.fell_back} {result.reasons}")
    gap = np.full((8, canvas.shape[1], 3), 255, np.uint8)
    _save(np.vstack([canvas, gap, result.image]), "synthetic-group.jpg", 720)
    people, found = crowd()
    done = Synthesize(seed=3).replace(people, found)
    widths = sorted(round(f.box.width) for f in found)
    print(f"crowd: {len(found)} faces of {widths[0]}-{widths[-1]} px; placed {Counter(done.placed)}; fell back {done.fell_back}")
    middle = (slice(20, 120), slice(240, 480))  # the three back rows, enlarged three times
    zoom = [np.asarray(Image.fromarray(p[middle]).resize((720, 300), Image.LANCZOS)) for p in (people, done.image)]
    gap = np.full((8, people.shape[1], 3), 255, np.uint8)
    _save(np.vstack([people, gap, done.image, gap, zoom[0], gap, zoom[1]]), "synthetic-crowd.jpg", 720)


if __name__ == "__main__":
    main()
