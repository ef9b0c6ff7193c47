"""A second search of a photo whose faces agree that it is tilted.

CenterFace finds faces turned in-plane up to about 30 degrees; the
orientation step (:mod:`._orient`) turns photos by quarter turns only. A
photo tilted by 30-60 degrees (a camera held askew, a scan laid crooked)
keeps its clearest faces, which the network still sees, but loses the
others. Those clear faces say how far the photo is tilted: each face's roll
(the direction from its eyes to its mouth, :func:`._orient.roll`). When at
least :data:`MIN_FACES` faces scored at least :data:`MIN_SCORE` agree on a
roll (at least :data:`AGREE` of them within :data:`SPREAD` degrees of their
median) that lies at least :data:`MIN_TILT` degrees from any quarter turn,
the photo is searched again turned upright by that median (without the
orientation step: the turn is known), and the faces found there join the
first search's, turned back (:func:`._detector._union`).

Each face found in the turned photo is protected, in the photo's own
pixels, over the upright rectangle that holds its turned box: up to twice
the area at 45 degrees, the price of masks that stay axis-aligned.

One face is not enough: on wider-dev a single tilted face (a head leaning on
a shoulder) triggered the search on many upright photos for no face gained
(+17% network pixels, +0.29 points of over-mask); with two agreeing faces it
ran on few upright photos (+1.8% network pixels, +0.03 points) and took the
tilted copies' recall from 85.7% to 89.7%. Figures in docs/detection.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._geometry import Box, Face
from ._orient import roll

__all__ = ["MIN_FACES", "MIN_SCORE", "AGREE", "SPREAD", "MIN_TILT", "tilt_of", "turned_upright", "faces_back"]

MIN_FACES = 2  # faces that must show the tilt...
MIN_SCORE = 0.5  # ...each scored at least this...
AGREE = 0.6  # ...and at least this share of them within...
SPREAD = 15.0  # ...this many degrees of their median roll
MIN_TILT = 20.0  # degrees from the nearest quarter turn (the orientation step's business below this)


def tilt_of(faces: Sequence[Face]) -> float | None:
    """The roll (degrees, counter-clockwise on screen) that the clear faces of a
    photo agree on, or ``None`` when too few agree or it lies near a quarter turn."""
    clear = [f for f in faces if f.score >= MIN_SCORE and len(f.landmarks) == 5]
    if len(clear) < MIN_FACES:
        return None
    rolls = roll(np.array([[(x, y) for _, x, y in f.landmarks] for f in clear], np.float64))
    angle = float(np.median(rolls))
    if np.mean(np.abs(rolls - angle) < SPREAD) < AGREE:
        return None
    off_quarter = (angle + 45.0) % 90.0 - 45.0
    if abs(off_quarter) < MIN_TILT:
        return None
    return angle


def turned_upright(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned by ``-angle`` degrees on a canvas that holds all of it
    (new corners black), and the 2 x 3 affine matrix from its pixels to the turned ones."""
    import cv2

    H, W = image.shape[:2]
    a = np.radians(-angle)
    c, s = np.cos(a), np.sin(a)
    w, h = abs(c) * W + abs(s) * H, abs(s) * W + abs(c) * H
    matrix = np.array([[c, s, 0.0], [-s, c, 0.0]])
    matrix[:, 2] = np.array([w / 2, h / 2]) - matrix[:, :2] @ np.array([W / 2, H / 2])
    turned = cv2.warpAffine(image, matrix, (round(w), round(h)), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    return turned, matrix


def faces_back(faces: Sequence[Face], matrix: np.ndarray, angle: float, *, width: int, height: int) -> tuple[Face, ...]:
    """``faces`` found in the photo turned by ``matrix`` (see :func:`turned_upright`),
    in the photo's own ``width x height`` pixels: each box the upright rectangle
    holding its four turned-back corners, landmarks turned back."""
    import cv2

    inverse = cv2.invertAffineTransform(matrix)
    out = []
    for face in faces:
        b = face.box
        corners = np.array([[b.x0, b.y0], [b.x1, b.y0], [b.x0, b.y1], [b.x1, b.y1]], np.float64) @ inverse[:, :2].T + inverse[:, 2]
        box = Box(*(float(v) for v in (*corners.min(axis=0), *corners.max(axis=0)))).clipped(width=width, height=height)
        if box.area <= 0:
            continue
        points = np.array([(x, y) for _, x, y in face.landmarks], np.float64).reshape(-1, 2) @ inverse[:, :2].T + inverse[:, 2]
        landmarks = tuple((name, float(x), float(y)) for (name, _, _), (x, y) in zip(face.landmarks, points, strict=True))
        out.append(Face(box=box, score=face.score, landmarks=landmarks, detector=f"{face.detector}/tilted{round(angle)}"))
    return tuple(out)
