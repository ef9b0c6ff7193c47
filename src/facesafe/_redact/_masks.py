"""Face masks: which pixels a redaction covers (arrays in, arrays out).

Every face region is the face's box grown by ``grow`` about its centre, drawn
as a ``"box"``, an ``"ellipse"`` inscribed in that grown box, or an
``"outline"`` (the convex hull of the FaceMesh points, grown about its centre;
an ellipse when the face has no mesh).

Coverage rounds *outwards*, like :meth:`facesafe.Box.to_slices`: a pixel is in
the hard mask as soon as any part of its square touches the shape, so the
ellipse reaches every edge of the grown box, and the last row and column of
the image are covered when a face touches them.

``feather`` adds a soft edge *outside* the hard mask (a linear ramp
``feather x face size`` pixels wide); inside the hard mask the weight is
always exactly 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._geometry import Box, Face

__all__ = ["SHAPES", "face_mask", "face_masks", "check_mask_options", "grown_box", "union_region"]

SHAPES = ("box", "ellipse", "outline")

# Half the diagonal of a pixel: a pixel touches a convex shape when its centre
# lies within this distance of it (conservative: may add a corner pixel).
_HALF_DIAGONAL = math.sqrt(0.5)


def check_mask_options(shape: str, grow: float, feather: float) -> None:
    """Raise ``ValueError`` naming the parameter when a mask option is invalid."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")
    if not isinstance(grow, (int, float)) or not math.isfinite(grow) or grow < 1.0:
        raise ValueError(f"grow must be a finite number >= 1.0, got {grow!r}")
    if not isinstance(feather, (int, float)) or not math.isfinite(feather) or feather < 0.0:
        raise ValueError(f"feather must be a finite number >= 0.0, got {feather!r}")


def grown_box(face: Face, grow: float) -> Box:
    """The face's box grown by ``grow`` about its centre (not clipped)."""
    return face.box.expanded(grow)


def _face_size(face: Face) -> float:
    return max(face.box.width, face.box.height, 1.0)


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise in x-right/y-down pixels' maths sense) of ``(N, 2)`` points."""
    pts = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(pts) < 3:
        return pts

    def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    lower: list[np.ndarray] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[np.ndarray] = []
    for p in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def _outside_distance_box(xs: np.ndarray, ys: np.ndarray, box: Box) -> np.ndarray:
    """Chebyshev-like distance of pixel *squares* to the box (<= 0 when touching)."""
    cx, cy = box.center
    # distance from the pixel square [x, x+1) to the box, per axis
    dx = np.abs(xs + 0.5 - cx) - box.width / 2 - 0.5
    dy = np.abs(ys + 0.5 - cy) - box.height / 2 - 0.5
    return np.maximum(dx[None, :], dy[:, None])


def _outside_distance_ellipse(xs: np.ndarray, ys: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """(touch test value, approximate outside distance in pixels) for an axis-aligned ellipse.

    The touch test is exact: the point of a pixel square nearest the centre is
    the centre clamped to the square, and an axis-aligned scaling keeps that
    true, so the pixel touches the ellipse iff that point is inside it.
    """
    cx, cy = box.center
    a, b = max(box.width / 2, 1e-9), max(box.height / 2, 1e-9)
    nx = np.clip(cx, xs, xs + 1.0)  # nearest x in each column's pixel span
    ny = np.clip(cy, ys, ys + 1.0)
    touch = ((nx - cx) / a)[None, :] ** 2 + ((ny - cy) / b)[:, None] ** 2
    # outside distance: normalised radius of pixel centres minus one, in pixels
    # along the shorter semi-axis (over-estimates the ramp's reach: only adds).
    r = np.sqrt(((xs + 0.5 - cx) / a)[None, :] ** 2 + ((ys + 0.5 - cy) / b)[:, None] ** 2)
    return touch, (r - 1.0) * min(a, b)


def _outside_distance_polygon(xs: np.ndarray, ys: np.ndarray, hull: np.ndarray) -> np.ndarray:
    """Largest signed distance of pixel centres beyond the hull's edges (<= 0 inside)."""
    px = (xs + 0.5)[None, :]
    py = (ys + 0.5)[:, None]
    dist = np.full((len(ys), len(xs)), -np.inf)
    n = len(hull)
    # orientation: positive area means counter-clockwise in (x, y) coordinates
    area = 0.5 * sum(hull[i, 0] * hull[(i + 1) % n, 1] - hull[(i + 1) % n, 0] * hull[i, 1] for i in range(n))
    sign = 1.0 if area > 0 else -1.0
    for i in range(n):
        (x0, y0), (x1, y1) = hull[i], hull[(i + 1) % n]
        ex, ey = x1 - x0, y1 - y0
        length = math.hypot(ex, ey)
        if length == 0:
            continue
        # outward normal for a counter-clockwise polygon is (ey, -ex)
        d = sign * ((px - x0) * ey - (py - y0) * ex) / length
        dist = np.maximum(dist, d)
    return dist


def _outline_hull(face: Face, grow: float) -> np.ndarray | None:
    if face.mesh is None or len(face.mesh) < 3:
        return None
    hull = _hull(face.mesh)
    if len(hull) < 3:
        return None
    centre = hull.mean(axis=0)
    return centre + (hull - centre) * grow


def _one_face(
    face: Face, *, width: int, height: int, shape: str, grow: float, feather: float
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The mask of one face inside its bounding slices, or None when off-image."""
    hull = _outline_hull(face, grow) if shape == "outline" else None
    if hull is not None:
        bounds = Box(hull[:, 0].min(), hull[:, 1].min(), hull[:, 0].max(), hull[:, 1].max())
    else:
        bounds = grown_box(face, grow)
    pad = feather * _face_size(face)
    rows, cols = bounds.expanded(1.0, margin=pad + 1.0).to_slices(width=width, height=height)
    if rows.start >= rows.stop or cols.start >= cols.stop:
        return None
    xs = np.arange(cols.start, cols.stop, dtype=np.float64)
    ys = np.arange(rows.start, rows.stop, dtype=np.float64)
    if hull is not None:
        dist = _outside_distance_polygon(xs, ys, hull)
        hard = dist <= _HALF_DIAGONAL
    elif shape == "box":
        dist = _outside_distance_box(xs, ys, bounds)
        hard = dist < 0.0
        dist = dist + 0.5  # from pixel centres, for the ramp
    else:
        touch, dist = _outside_distance_ellipse(xs, ys, bounds)
        hard = touch < 1.0
    mask = hard.astype(np.float32)
    if pad > 0:
        ramp = np.clip(1.0 - dist / pad, 0.0, 1.0).astype(np.float32)
        np.maximum(mask, ramp, out=mask)  # soft edge only adds coverage
    if not mask.any():
        return None
    return (rows, cols), mask


def face_masks(
    faces: Sequence[Face], *, width: int, height: int, shape: str, grow: float, feather: float
) -> list[tuple[tuple[slice, slice], np.ndarray]]:
    """One ``((rows, cols), mask)`` per face that reaches the image, in order.

    Each ``mask`` is float32 in ``[0, 1]`` over the image window ``(rows, cols)``;
    kernels composite each face through its own window. The options mean what
    they mean for :func:`face_mask`; they have no defaults here, so that the
    defaults live with the public function and the methods' own fields.
    """
    check_mask_options(shape, grow, feather)
    out = []
    for face in faces:
        one = _one_face(face, width=width, height=height, shape=shape, grow=float(grow), feather=float(feather))
        if one is not None:
            out.append(one)
    return out


def union_region(
    a: tuple[tuple[slice, slice], np.ndarray], b: tuple[tuple[slice, slice], np.ndarray]
) -> tuple[tuple[slice, slice], np.ndarray]:
    """The union (pixelwise maximum) of two ``((rows, cols), mask)`` regions, over the window enclosing both."""
    (ra, ca), _ = a
    (rb, cb), _ = b
    rows = slice(min(ra.start, rb.start), max(ra.stop, rb.stop))
    cols = slice(min(ca.start, cb.start), max(ca.stop, cb.stop))
    mask = np.zeros((rows.stop - rows.start, cols.stop - cols.start), dtype=np.float32)
    for (r, c), m in (a, b):
        sub = mask[r.start - rows.start : r.stop - rows.start, c.start - cols.start : c.stop - cols.start]
        np.maximum(sub, m, out=sub)
    return (rows, cols), mask


def face_mask(
    faces: Sequence[Face],
    *,
    width: int,
    height: int,
    shape: str = "ellipse",
    grow: float = 1.3,
    feather: float = 0.0,
) -> np.ndarray:
    """The union of every face's region in a ``width`` x ``height`` image, as a float32 ``(height, width)`` mask in ``[0, 1]``.

    1 inside each grown face region (every pixel it touches, borders
    included), a linear ramp of ``feather x face size`` pixels outside it,
    0 elsewhere.

    >>> from facesafe import Box, Face
    >>> m = face_mask([Face(Box(4, 0, 6, 4))], width=6, height=4, shape="box", grow=1.0)
    >>> m[:, 4:].min(), m[:, :4].max()
    (1.0, 0.0)
    """
    if height < 0 or width < 0:
        raise ValueError(f"height and width must be >= 0, got {height} x {width}")
    mask = np.zeros((height, width), dtype=np.float32)
    for (rows, cols), m in face_masks(faces, width=width, height=height, shape=shape, grow=grow, feather=feather):
        np.maximum(mask[rows, cols], m, out=mask[rows, cols])
    return mask
