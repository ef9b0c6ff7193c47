"""Where a synthetic face goes: the original's 478 FaceMesh points, or the reference shape placed without them.

A donor is a texture in template space (see :mod:`._donor`); placing it needs
the original face's 478 FaceMesh points in the image. :func:`place` gives
them from the best evidence the face carries:

- ``"mesh"``: FaceMesh's own points (``Face.mesh``), for faces large enough
  to show their expression (the eyes' openness, an open mouth);
- ``"landmarks"``: the reference 3-D shape posed on the detector's five
  landmarks (eyes, nose tip, mouth corners): the pose (turn, tilt, roll,
  size) whose projection of those five points is nearest, searched over a
  grid of turns and tilts, each solved as a 2-D similarity;
- ``"box"``: the reference shape upright and frontal, fitted into the
  detector's box (a detector that gives no landmarks, or landmarks that do
  not fit a face).

The expression of a face placed without its mesh is the reference's (eyes
open, lips closed): at the sizes where that happens (under ``min_size``,
32 px by default) FaceMesh cannot read it either.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from .._geometry import Face
from ._donor import mean_face
from ._warp import Pose, fit_pose

__all__ = ["Placement", "SOURCES", "place", "pose_from_landmarks", "pose_in_box"]

SOURCES = ("mesh", "landmarks", "box")  # what a placement was made from, best first

# The detector's five landmarks (facesafe's names, "left" = the subject's left) and the
# reference shape's points for them: iris centres, nose tip, mouth corners.
_LANDMARK_POINTS = (("right_eye", 468), ("left_eye", 473), ("nose", 1), ("mouth_right", 61), ("mouth_left", 291))
_TURNS = np.arange(-60.0, 60.1, 5.0)  # yaw grid searched for the five landmarks, degrees
_TILTS = np.arange(-30.0, 30.1, 7.5)  # pitch grid, degrees
_MAX_LANDMARK_ERROR = 0.12  # RMS misfit (face widths) above which the five landmarks are not trusted
# The reference shape in a detector box: its face oval's width as a share of the box width, and
# the oval's centre below the box centre as a share of the box height (CenterFace's boxes run
# from the brows' top to the chin; measured on meshed faces, see docs/synthetic.md).
_BOX_WIDTH = 0.9
_BOX_DROP = 0.05


@dataclass(frozen=True)
class Placement:
    """The original face's 478 points (image pixels) and what they were made from.

    Attributes:
        points: ``(478, 2)`` float array, image pixels.
        source: one of :data:`SOURCES`.
    """

    points: np.ndarray = field(repr=False)
    source: str


def place(face: Face, *, min_size: float, max_yaw: float) -> tuple[Placement | None, str]:
    """The points to place a donor on ``face`` by, and ``""``; or ``None`` and why the mesh was not used.

    A face at least ``min_size`` wide and high with a FaceMesh that fits it
    (on the face, the box's size, a face shape) is placed by its mesh; a
    face whose mesh says it is turned more than ``max_yaw`` degrees gets
    ``None`` (a frontal donor cannot stand for a profile). Any other face is
    placed by its five landmarks when they fit a face, else by its box.
    """
    if face.box.width >= min_size and face.box.height >= min_size and face.mesh is not None:
        reason = _mesh_misfit(face, max_yaw)
        if not reason:
            return Placement(np.asarray(face.mesh, dtype=np.float64), "mesh"), ""
        if reason.startswith("turned"):
            return None, reason
    pose = pose_from_landmarks(face, max_yaw=max_yaw)
    if pose is not None:
        return Placement(pose.project(mean_face()), "landmarks"), ""
    return Placement(pose_in_box(face).project(mean_face()), "box"), ""


def _mesh_misfit(face: Face, max_yaw: float) -> str:
    """Why ``face.mesh`` cannot place a donor on this face, or ``""``."""
    mesh = face.mesh
    if mesh is None or len(mesh) != 478 or not np.isfinite(mesh).all():
        return "no FaceMesh landmarks"
    # the mesh must be this face, not a neighbour
    cx, cy = mesh.mean(axis=0)
    grown = face.box.expanded(1.5)
    if not (grown.x0 <= cx < grown.x1 and grown.y0 <= cy < grown.y1):
        return "FaceMesh landmarks off the face box"
    pose = fit_pose(mesh, mean_face())
    size = 2 * pose.scale
    if not 0.3 * face.box.width <= size <= 3.0 * face.box.width:
        return "FaceMesh landmarks do not fit the face box"
    if pose.error > _MAX_FIT_ERROR:
        return "FaceMesh landmarks do not fit a face shape"
    if abs(pose.yaw) > max_yaw or abs(pose.pitch) > max_yaw:
        return f"turned more than max_yaw={max_yaw:g} degrees"
    return ""


_MAX_FIT_ERROR = 0.06  # RMS pose-fit error (face widths) above which the mesh is not trusted


def pose_from_landmarks(face: Face, *, max_yaw: float = 60.0) -> Pose | None:
    """The pose of the reference shape whose five landmark points land nearest the detector's.

    ``None`` when the face lacks any of the five, when they lie off its box
    (grown by half), or when no pose fits them within ``_MAX_LANDMARK_ERROR``
    face widths. Turns are searched up to ``max_yaw`` (and 60) degrees.
    """
    found = [face.landmark(name) for name, _ in _LANDMARK_POINTS]
    if any(p is None for p in found):
        return None
    target = np.array(found, dtype=np.float64)
    grown = face.box.expanded(1.5)
    if not ((target[:, 0] >= grown.x0) & (target[:, 0] <= grown.x1)
            & (target[:, 1] >= grown.y0) & (target[:, 1] <= grown.y1)).all():  # fmt: skip
        return None
    best = _similarity_poses(_rotations(min(float(max_yaw), 60.0)), target)
    if best.error > _MAX_LANDMARK_ERROR or not 0.2 * face.box.width <= 2 * best.scale <= 3.0 * face.box.width:
        return None
    return best


@functools.cache
def _rotations(limit: float) -> np.ndarray:
    """The ``(R, 3, 3)`` rotations searched: every turn of ``_TURNS`` up to ``limit`` degrees, by every tilt of ``_TILTS``."""
    turns = _TURNS[np.abs(_TURNS) <= limit + 1e-9]
    rotations = np.array([_turned(float(y), float(p)) for y in turns for p in _TILTS])
    rotations.setflags(write=False)
    return rotations


def _turned(yaw: float, pitch: float) -> np.ndarray:
    """The rotation turning the reference shape by ``yaw`` then tilting it by ``pitch`` (degrees), ``(3, 3)``."""
    a, b = math.radians(yaw), math.radians(pitch)
    turn = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(b), math.sin(b)], [0.0, -math.sin(b), math.cos(b)]])
    return tilt @ turn


def _similarity_poses(rotations: np.ndarray, target: np.ndarray) -> Pose:
    """Of the reference shape turned by each of ``rotations``, the 2-D similarity fit of its five points to ``target``
    with the least misfit, as a weak-perspective pose (the similarity's rotation is the roll)."""
    source = np.einsum("pj,rij->rpi", mean_face()[[i for _, i in _LANDMARK_POINTS]], rotations)[:, :, :2]  # (R, 5, 2)
    sc, tc = source.mean(axis=1, keepdims=True), target.mean(axis=0)
    s, t = source - sc, target - tc
    norm = np.maximum((s**2).sum(axis=(1, 2)), 1e-12)
    a = (s * t).sum(axis=(1, 2)) / norm  # scale * cos(roll)
    b = (s[:, :, 0] * t[:, 1] - s[:, :, 1] * t[:, 0]).sum(axis=1) / norm  # scale * sin(roll)
    fitted = np.stack([a[:, None] * s[:, :, 0] - b[:, None] * s[:, :, 1], b[:, None] * s[:, :, 0] + a[:, None] * s[:, :, 1]], axis=2)
    scale = np.maximum(np.hypot(a, b), 1e-9)
    error = np.sqrt(((fitted - t) ** 2).sum(axis=2).mean(axis=1)) / (2 * scale)
    k = int(np.argmin(error))
    c, si = a[k] / scale[k], b[k] / scale[k]
    roll = np.array([[c, -si, 0.0], [si, c, 0.0], [0.0, 0.0, 1.0]])
    full = roll @ rotations[k]
    shift = tc - scale[k] * sc[k, 0] @ roll[:2, :2].T
    return Pose(float(scale[k]), full, shift, float(error[k]))


def pose_in_box(face: Face) -> Pose:
    """The reference shape upright and frontal in the face's box: oval ``_BOX_WIDTH`` of its width (or height)."""
    mean = mean_face()
    box = face.box
    oval_height = float(np.ptp(mean[:, 1]))
    scale = max(min(_BOX_WIDTH * box.width / 2, _BOX_WIDTH * box.height / oval_height), 1e-3)
    cx, cy = box.center
    centre = np.array([cx, cy + _BOX_DROP * box.height]) - scale * (mean[:, :2].max(axis=0) + mean[:, :2].min(axis=0)) / 2
    return Pose(scale, np.eye(3), centre, 0.0)
