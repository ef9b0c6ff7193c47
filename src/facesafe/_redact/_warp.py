"""Geometry kernels for synthetic replacement: pose fitting and piecewise-affine warps.

Arrays in, arrays out; no state. Points are ``(N, 2)`` float arrays of
``(x, y)`` pixels (see :mod:`facesafe._geometry` for the convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Pose", "fit_pose", "interpolate", "piecewise_warp", "polygon_mask"]


@dataclass(frozen=True)
class Pose:
    """A weak-perspective camera: ``image = scale * mesh3d @ rotation[:2].T + shift``.

    Attributes:
        scale: pixels per mean-face unit (the mean face is 2 units wide).
        rotation: ``(3, 3)`` rotation; rows are the face's x, y, z axes in camera space.
        shift: ``(2,)`` image position of the mean face's origin.
        error: RMS distance between the fitted and given points, in face widths.
    """

    scale: float
    rotation: np.ndarray
    shift: np.ndarray
    error: float

    @property
    def yaw(self) -> float:
        """Left-right turn in degrees (0 = frontal)."""
        return math.degrees(math.asin(min(max(float(self.rotation[2, 0]), -1.0), 1.0)))

    @property
    def pitch(self) -> float:
        """Up-down tilt in degrees (0 = frontal)."""
        return math.degrees(math.asin(min(max(float(self.rotation[2, 1]), -1.0), 1.0)))

    @property
    def roll(self) -> float:
        """In-plane rotation in degrees (the direction of the face's x axis in the image)."""
        return math.degrees(math.atan2(float(self.rotation[1, 0]), float(self.rotation[0, 0])))

    def project(self, mesh3d: np.ndarray) -> np.ndarray:
        """Image positions of ``(N, 3)`` face-frame points."""
        return self.scale * mesh3d @ self.rotation[:2].T + self.shift


def fit_pose(points: np.ndarray, mesh3d: np.ndarray) -> Pose:
    """The weak-perspective pose that best maps ``mesh3d`` onto the 2-D ``points`` (least squares).

    Fits a general affine camera, then takes the nearest scaled rotation
    (orthonormal rows, via SVD).
    """
    points = np.asarray(points, dtype=np.float64)
    mesh3d = np.asarray(mesh3d, dtype=np.float64)
    design = np.hstack([mesh3d, np.ones((len(mesh3d), 1))])
    coef, *_ = np.linalg.lstsq(design, points, rcond=None)
    affine = coef[:3].T  # (2, 3)
    u, sv, vt = np.linalg.svd(affine, full_matrices=False)
    rows = u @ vt  # (2, 3), orthonormal rows
    scale = float(sv.mean())
    rotation = np.vstack([rows, np.cross(rows[0], rows[1])])
    shift = (points - scale * mesh3d @ rows.T).mean(axis=0)
    fitted = scale * mesh3d @ rows.T + shift
    rms = float(np.sqrt(((fitted - points) ** 2).sum(axis=1).mean()))
    return Pose(scale, rotation, shift, rms / max(2 * scale, 1e-9))


def interpolate(points: np.ndarray, values: np.ndarray, out_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of per-point ``values`` over the Delaunay triangles of ``points``.

    Evaluated at the centre of every pixel of an ``out_shape`` (rows, cols)
    canvas. Returns ``float64 (rows, cols, D)`` values (0 outside the hull)
    and a ``float32`` mask, 1 where a triangle covers the pixel. Triangles are
    rasterised with OpenCV, so the cost is one pass over the pixels.
    """
    import cv2
    from scipy.spatial import Delaunay

    pts = np.asarray(points, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64).reshape(len(pts), -1)
    rows, cols = out_shape
    simplices = Delaunay(pts).simplices
    # which triangle covers each pixel (-1: none); pixel centres are at +0.5
    index = np.full((rows, cols), -1.0, dtype=np.float32)
    corners = np.round((pts[simplices] - 0.5) * 16).astype(np.int32)
    for j, tri in enumerate(corners):
        cv2.fillConvexPoly(index, tri, float(j), lineType=cv2.LINE_8, shift=4)  # type: ignore[call-overload]  # cv2's stubs want a Scalar sequence; one channel takes a float
    index = index.astype(np.int64)
    ys, xs = np.nonzero(index >= 0)
    out = np.zeros((rows, cols, vals.shape[1]), dtype=np.float64)
    if len(ys):
        tri = simplices[index[ys, xs]]
        a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
        e1, e2 = b - a, c - a
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        px, py = xs + 0.5 - a[:, 0], ys + 0.5 - a[:, 1]
        l1 = (px * e2[:, 1] - py * e2[:, 0]) / det
        l2 = (e1[:, 0] * py - e1[:, 1] * px) / det
        # pixels rasterised into a thin triangle may lie just outside it: clamp
        # their barycentric weights (extrapolating would sample far away)
        l1, l2 = np.clip(l1, 0.0, 1.0), np.clip(l2, 0.0, 1.0)
        total = np.maximum(l1 + l2, 1.0)
        l1, l2 = l1 / total, l2 / total
        l0 = 1.0 - l1 - l2
        out[ys, xs] = (
            l0[:, None] * vals[tri[:, 0]] + l1[:, None] * vals[tri[:, 1]] + l2[:, None] * vals[tri[:, 2]]
        )
    return out, (index >= 0).astype(np.float32)


def piecewise_warp(
    source: np.ndarray,
    source_points: np.ndarray,
    target_points: np.ndarray,
    out_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``source`` so that ``source_points`` land on ``target_points`` (piecewise affine).

    The triangles are the Delaunay triangulation of ``target_points``; each
    output pixel inside their hull takes the source pixel at the same
    barycentric position (bilinear). Returns the warped ``float32`` image of
    ``out_shape`` (rows, cols) and a ``float32`` coverage mask (1 inside the hull).
    """
    import cv2

    mapped, inside = interpolate(target_points, source_points, out_shape)
    mapped = mapped - 0.5  # pixel centres -> remap coordinates
    mapped[inside == 0] = -10.0
    warped = cv2.remap(
        np.asarray(source, dtype=np.float32),
        mapped[:, :, 0].astype(np.float32),
        mapped[:, :, 1].astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    if warped.ndim == 2 and np.ndim(source) == 3:
        warped = warped[:, :, None]
    return warped, inside


def polygon_mask(shape: tuple[int, int], polygons: list[np.ndarray], *, value: float = 1.0) -> np.ndarray:
    """A ``float32`` mask of ``shape`` with the (anti-aliased, sub-pixel) polygons filled."""
    import cv2

    mask = np.zeros(shape, dtype=np.float32)
    scaled = [np.round((np.asarray(p, dtype=np.float64) - 0.5) * 16).astype(np.int32) for p in polygons]
    cv2.fillPoly(mask, scaled, float(value), lineType=cv2.LINE_AA, shift=4)  # type: ignore[call-overload]  # as above: one channel, a float
    return mask
