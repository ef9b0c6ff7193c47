"""Geometry kernels for synthetic replacement: pose fitting and piecewise-affine warps.

Arrays in, arrays out; no state. Points are ``(N, 2)`` float arrays of
``(x, y)`` pixels (see :mod:`facesafe._geometry` for the convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Pose", "fit_pose", "piecewise_warp", "polygon_mask"]


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
    from scipy.interpolate import LinearNDInterpolator

    rows, cols = out_shape
    src = np.asarray(source_points, dtype=np.float64)
    dst = np.asarray(target_points, dtype=np.float64)
    interp = LinearNDInterpolator(dst, src)
    ys, xs = np.mgrid[0:rows, 0:cols]
    grid = np.column_stack([xs.ravel() + 0.5, ys.ravel() + 0.5])
    mapped = interp(grid) - 0.5  # pixel centres -> remap coordinates
    inside = np.isfinite(mapped[:, 0])
    mapped[~inside] = -10.0
    map_x = mapped[:, 0].reshape(rows, cols).astype(np.float32)
    map_y = mapped[:, 1].reshape(rows, cols).astype(np.float32)
    warped = cv2.remap(
        np.asarray(source, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if warped.ndim == 2 and np.ndim(source) == 3:
        warped = warped[:, :, None]
    return warped, inside.reshape(rows, cols).astype(np.float32)


def polygon_mask(shape: tuple[int, int], polygons: list[np.ndarray], *, value: float = 1.0) -> np.ndarray:
    """A ``float32`` mask of ``shape`` with the (anti-aliased, sub-pixel) polygons filled."""
    import cv2

    mask = np.zeros(shape, dtype=np.float32)
    scaled = [np.round((np.asarray(p, dtype=np.float64) - 0.5) * 16).astype(np.int32) for p in polygons]
    cv2.fillPoly(mask, scaled, float(value), lineType=cv2.LINE_AA, shift=4)
    return mask
