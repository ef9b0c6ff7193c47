"""Donors for synthetic replacement: faces that belong to nobody.

Everything lives in *template space*: a ``SIZE x SIZE`` canvas on which the
reference FaceMesh shape (``mean_face.npz``, built by
``scripts/make_mean_face.py`` from the public-domain astronaut photo,
symmetrised) is drawn frontally.

- :func:`render_donor` paints a face procedurally in template space: shaded
  skin from the mean 3-D shape, eyes, brows, nose and lips drawn from their
  landmark contours, skin grain; every choice is drawn from the seeded
  generator within natural ranges. No photograph is involved.
- :class:`KSamePool` holds faces of a batch aligned to template space (in
  memory only) and returns the average of at least ``k`` of them, after
  Newton, Sweeney and Malin's k-Same.
- :func:`target_geometry` places a donor on a real face: the reference shape
  posed like the original, with the original's expression (eye openness, an
  open mouth) and only ``identity`` of its own shape.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from ._warp import Pose, fit_pose, interpolate, piecewise_warp, polygon_mask

__all__ = [
    "SIZE",
    "KSamePool",
    "template_points",
    "render_donor",
    "target_geometry",
    "shape_deviation",
    "ring",
    "skin_mask",
    "feature_polygons",
    "align_to_template",
    "paint_mouth",
]

SIZE = 256  # template canvas side, pixels
_SPAN = 0.36  # the mean face's half-width as a share of the canvas
RING_GROW = 1.3  # padding ring around the face oval, so the donor covers the blend zone

# MediaPipe FaceMesh contours (indices into the 478 points). "Right" is the
# subject's right, on the image's left.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
UPPER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191, 78)
_INNER_UPPER = (191, 80, 81, 82, 13, 312, 311, 310, 415)  # paired with the point below each
_INNER_LOWER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_UPPER_LID = (33, 246, 161, 160, 159, 158, 157, 173, 133)
LEFT_UPPER_LID = (263, 466, 388, 387, 386, 385, 384, 398, 362)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)
NOSTRILS = ((98, 64, 240, 97), (327, 294, 460, 326))  # around each nostril
# Expression is kept as a few numbers per feature (a least-squares fit of the
# original's deviation from the posed mean to these displacement fields), not
# as the feature's own shape: lid curves, lip thickness and brow arches are
# identity. Each field has the share of it that is kept (``identity`` raises
# every share to at least ``identity``).
_MOUTH_WIDTH = 0.0  # share of the mouth's widening kept (a smile widens the mouth; so does a wide mouth)
_SMILE_GAP = 0.08  # mouth openings up to this (face widths) are a smile's, and closed
_SMILE = 0.0  # share of the corners' lift kept (a smile is often the same in every photo of a person)
_BROW_RAISE = 0.0  # share of the brows' vertical shift kept (a raise, or a high-set brow)


@functools.cache
def _mean_face() -> np.ndarray:
    """The mean FaceMesh shape, ``(478, 3)``: x in [-1, 1] right, y down, z away from the viewer."""
    with resources.files(__package__).joinpath("mean_face.npz").open("rb") as handle:
        mean = np.load(handle)["mean"].astype(np.float64)
    mean.setflags(write=False)
    return mean


def mean_face() -> np.ndarray:
    """The mean 3-D FaceMesh shape shipped with facesafe (read-only)."""
    return _mean_face()


def template_points() -> np.ndarray:
    """The mean shape drawn frontally on the template canvas, ``(478, 2)`` pixels."""
    return _mean_face()[:, :2] * _SPAN * SIZE + SIZE / 2


def ring(points: np.ndarray, grow: float = RING_GROW) -> np.ndarray:
    """Points of the face oval pushed out by ``grow`` about its centre (the blend zone's outer edge)."""
    oval = points[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    return centre + (oval - centre) * grow


def feature_polygons(points: np.ndarray) -> dict[str, list[np.ndarray]]:
    """The polygons of each facial feature for 478 ``points``."""
    p = np.asarray(points, dtype=np.float64)
    pick = lambda idx: p[list(idx)]  # noqa: E731
    return {
        "oval": [pick(FACE_OVAL)],
        "eyes": [pick(RIGHT_EYE), pick(LEFT_EYE)],
        "brows": [pick(RIGHT_BROW), pick(LEFT_BROW)],
        "lips": [pick(LIPS_OUTER)],
        "mouth": [pick(LIPS_INNER)],
        "nostrils": [pick(n) for n in NOSTRILS],
    }


def skin_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """1 on the skin of the face (oval without eyes, brows, lips, nostrils), else 0."""
    import cv2

    polys = feature_polygons(points)
    skin = polygon_mask(shape, polys["oval"])
    features = polygon_mask(shape, polys["eyes"] + polys["brows"] + polys["lips"] + polys["nostrils"])
    size = max(np.ptp(points[:, 0]), 1.0)
    k = max(int(size * 0.06) | 1, 3)
    features = cv2.dilate(features, np.ones((k, k), np.uint8))
    return skin * (1.0 - features)


# --------------------------------------------------------------------------- geometry


def target_geometry(
    points: np.ndarray,
    *,
    identity: float,
    rng: np.random.Generator | None,
    variation: float = 0.04,
    shape: np.ndarray | None = None,
) -> tuple[np.ndarray, Pose]:
    """Where a donor's 478 points go on a face whose FaceMesh points are ``points``.

    The mean 3-D shape is posed like the original (weak perspective); of the
    original's own shape (what the pose does not explain) only ``identity``
    (0..1) is kept. The expression is kept as a few numbers fitted to each
    feature's deviation (see :func:`_expression_fields`): the eyes' openness
    and the mouth's opening beyond a smile's. Lid curves, lip thickness,
    brow height and arch, the smile, the gaze, the features' positions and
    the jaw, nose and face outline are the mean's. ``rng`` adds a random,
    left-right symmetric shape of up to ``variation`` face widths, so that
    each seed gives a different synthetic person. ``shape`` (``(478, 2)``,
    mean-face units, as :func:`shape_deviation` gives) moves the mean's
    points before it is posed: a donor pool's mix of its faces' shapes.
    Returns ``(points, pose)``.
    """
    mean = _mean_face()
    pts = np.asarray(points, dtype=np.float64)
    pose = fit_pose(pts, mean)
    own = mean.copy()
    if shape is not None:
        own[:, :2] += np.asarray(shape, dtype=np.float64)
    if rng is not None and variation > 0:
        own = own + _random_shape(rng, mean) * variation * 2
    base = pose.project(own)
    residual = pts - pose.project(mean)
    # into the face's own frame (x along the eyes' line in the image)
    angle = math.radians(pose.roll)
    c, s = math.cos(angle), math.sin(angle)
    to_face = np.array([[c, -s], [s, c]])  # residual @ to_face -> face frame
    local = residual @ to_face
    kept = local * identity  # of the original's own shape, only ``identity``; then its expression
    for idx, fields, fit in _expression_fields(mean[:, :2] * pose.scale):
        basis = np.stack([f.ravel() for f, _ in fields], axis=1)
        share = np.array([max(identity, w) for _, w in fields])
        rows = np.repeat(fit, 2)  # fitted on these points only, applied to all
        coef, *_ = np.linalg.lstsq(basis[rows], local[idx][fit].ravel(), rcond=None)
        if idx[0] == LIPS_OUTER[0]:  # the mouth: coef[2] is how much more open it is than the mean's
            coef[2] = _opening(coef[2], pose.scale, identity)
        kept[idx] = (basis @ (coef * share)).reshape(-1, 2)
    target = base + kept @ to_face.T
    # the lips may meet, not cross: each lower inner-lip point stays below its upper partner
    local_target = target @ to_face
    upper, lower = list(_INNER_UPPER), list(_INNER_LOWER)
    local_target[lower, 1] = np.maximum(local_target[lower, 1], local_target[upper, 1])
    return local_target @ to_face.T, pose


def shape_deviation(points: np.ndarray) -> np.ndarray:
    """The face's own shape: how its FaceMesh ``points`` differ from the posed mean, less its expression.

    ``(478, 2)`` in mean-face units (the mean face is 2 wide), in the face's
    frame (pose and roll taken off). The expression fields of
    :func:`_expression_fields` (the eyes' openness and gaze; the mouth's
    opening, widening and corners) are fitted and taken off: what is left
    is the positions of the features and the outline, which a pool mixes
    into new shapes (the replaced face's expression is its original's).
    """
    mean = _mean_face()
    pts = np.asarray(points, dtype=np.float64)
    pose = fit_pose(pts, mean)
    angle = math.radians(pose.roll)
    c, s = math.cos(angle), math.sin(angle)
    local = (pts - pose.project(mean)) @ np.array([[c, -s], [s, c]]) / max(pose.scale, 1e-9)
    for idx, fields, fit in _expression_fields(mean[:, :2]):
        if idx[0] in (LEFT_BROW[0], RIGHT_BROW[0]):
            continue  # the brows' height and tilt are the face's own
        expression = np.stack([f.ravel() for f, _ in fields[2:]], axis=1)  # all but the feature's shift
        basis = np.hstack([np.stack([f.ravel() for f, _ in fields[:2]], axis=1), expression])
        rows = np.repeat(fit, 2)
        coef, *_ = np.linalg.lstsq(basis[rows], local[idx][fit].ravel(), rcond=None)
        local[idx] -= (expression @ coef[2:]).reshape(-1, 2)
    return local


def _opening(change: float, scale: float, identity: float) -> float:
    """The mouth's opening change (pixels) kept: openings within a smile's are closed, wider ones kept less that.

    A smile showing the teeth is often the same in every photo of a person
    (measured: keeping it raised the re-identification AUC by about 0.02),
    while a mouth open to talk, shout or laugh opens well beyond it.
    """
    mean = _mean_face()
    gap = (float(np.mean(mean[[14, 87, 317], 1]) - np.mean(mean[[13, 82, 312], 1])) + change / scale) * scale
    width = 2 * scale
    kept = max(gap - _SMILE_GAP * width, 0.0)
    kept = identity * gap + (1.0 - identity) * kept
    return kept - (gap - change)


def _expression_fields(xy: np.ndarray) -> list[tuple[list[int], list[tuple[np.ndarray, float]], np.ndarray]]:
    """Per feature: its points, ``(displacement field, share kept)`` pairs, and the points fitted.

    On the mean points ``xy``. Eyes: openness (vertical scale of the lids
    about the eye's centre), kept; gaze (the iris moving), fitted but not
    kept. Mouth, fitted on the inner contour only (the outer one also tells
    the lips' thickness): the jaw dropping (lower lip and inside down), kept
    beyond a smile's opening (:func:`_opening`); the corners rising, kept at
    ``_SMILE``; widening, at ``_MOUTH_WIDTH``. Brows: raise, kept at
    ``_BROW_RAISE``; tilt, not kept. The position of each feature (a shift
    of all its points) is fitted and kept only as ``identity``. (Measured on
    identity-dev, keeping the smile or the brows' raise made the replaced
    faces measurably easier to link; the shares are constants to try others.)
    """
    out = []

    def shifts(n: int) -> list[tuple[np.ndarray, float]]:
        return [(np.tile([1.0, 0.0], (n, 1)), 0.0), (np.tile([0.0, 1.0], (n, 1)), 0.0)]

    for contour, iris in ((RIGHT_EYE, RIGHT_IRIS), (LEFT_EYE, LEFT_IRIS)):
        idx = list(contour) + list(iris)
        p = xy[idx]
        n, m = len(idx), len(contour)
        height = np.ptp(p[:m, 1]) / 2
        opening = np.zeros((n, 2))
        opening[:m, 1] = (p[:m, 1] - p[:m, 1].mean()) / max(height, 1e-9)
        gaze_x, gaze_y = np.zeros((n, 2)), np.zeros((n, 2))
        gaze_x[m:, 0] = 1.0
        gaze_y[m:, 1] = 1.0
        fields = [*shifts(n), (opening, 1.0), (gaze_x, 0.0), (gaze_y, 0.0)]
        out.append((idx, fields, np.ones(n, bool)))
    idx = list(LIPS_OUTER) + list(LIPS_INNER)
    p = xy[idx]
    n = len(idx)
    inner = np.arange(n) >= len(LIPS_OUTER)
    centre = p[inner].mean(axis=0)
    half = max(np.ptp(p[inner, 0]) / 2, 1e-9)
    profile = np.clip(1.0 - ((p[:, 0] - centre[0]) / half) ** 2, 0.0, 1.0)  # the corners stay put
    lower = (p[:, 1] > centre[1]) * profile
    drop = np.stack([np.zeros(n), lower], axis=1)
    widen = np.stack([np.clip((p[:, 0] - centre[0]) / half, -1.2, 1.2), np.zeros(n)], axis=1)
    corners = np.stack([np.zeros(n), -np.clip(((p[:, 0] - centre[0]) / half) ** 2, 0.0, 1.4)], axis=1)
    out.append((idx, [*shifts(n), (drop, 1.0), (widen, _MOUTH_WIDTH), (corners, _SMILE)], inner))
    for brow in (RIGHT_BROW, LEFT_BROW):
        idx = list(brow)
        p = xy[idx]
        n = len(idx)
        half = max(np.ptp(p[:, 0]) / 2, 1e-9)
        tilt = np.stack([np.zeros(n), (p[:, 0] - p[:, 0].mean()) / half], axis=1)
        (sx, _), (sy, _) = shifts(n)
        out.append((idx, [(sx, 0.0), (sy, _BROW_RAISE), (tilt, 0.0)], np.ones(n, bool)))
    return out


def _random_shape(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """A smooth, left-right symmetric displacement field on the mean shape (about unit size)."""
    xy = mean[:, :2]
    out = np.zeros_like(mean)
    for _ in range(5):
        centre = np.array([rng.uniform(0.0, 0.7), rng.uniform(-0.8, 0.9)])
        width = rng.uniform(0.35, 0.6)
        push = rng.normal(0.0, 0.4, size=2)
        for sign in (1.0, -1.0):  # the same bump on both halves, mirrored
            c = centre * np.array([sign, 1.0])
            weight = np.exp(-((xy - c) ** 2).sum(axis=1) / (2 * width**2))
            out[:, 0] += weight * push[0] * sign
            out[:, 1] += weight * push[1]
    return out


# --------------------------------------------------------------------------- procedural donor

_IRIS = (  # (weight, rgb) — natural iris colours, brown most common
    (0.55, (0.30, 0.18, 0.10)),
    (0.15, (0.42, 0.30, 0.16)),
    (0.12, (0.30, 0.42, 0.55)),
    (0.08, (0.35, 0.42, 0.30)),
    (0.10, (0.40, 0.42, 0.44)),
)


def _vertex_normals(points3d: np.ndarray, points2d: np.ndarray) -> np.ndarray:
    from scipy.spatial import Delaunay

    tri = Delaunay(points2d).simplices
    a, b, c = (points3d[tri[:, i]] for i in range(3))
    face_normals = np.cross(b - a, c - a)
    face_normals *= np.sign(-face_normals[:, 2:3] + 1e-12)  # face the viewer (z < 0)
    normals = np.zeros_like(points3d)
    for i in range(3):
        np.add.at(normals, tri[:, i], face_normals)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma) if sigma > 0 else image


def _paint(canvas: np.ndarray, mask: np.ndarray, colour, opacity: float = 1.0) -> None:
    m = np.clip(mask * opacity, 0.0, 1.0)[:, :, None]
    canvas *= 1.0 - m
    canvas += m * np.asarray(colour, dtype=np.float32)


def _stroke(shape: tuple[int, int], points: np.ndarray, width: float) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, dtype=np.float32)
    pts = np.round((np.asarray(points) - 0.5) * 16).astype(np.int32)
    cv2.polylines(mask, [pts], False, 1.0, thickness=max(int(round(width)), 1), lineType=cv2.LINE_AA, shift=4)  # type: ignore[call-overload]  # cv2's stubs want a Scalar sequence; one channel takes a float
    return mask


def render_donor(rng: np.random.Generator, *, tone: np.ndarray | None = None) -> np.ndarray:
    """A procedural face in template space: ``float32 (SIZE, SIZE, 3)`` RGB in [0, 1].

    Skin shaded from the mean 3-D shape under a soft frontal-top light, with
    grain, blush and shadows; eyes (sclera, iris, pupil, glint, lashes,
    crease), brows with hair strokes, nostrils and lips drawn from the mean
    contours. Colours, sizes and strengths are drawn from ``rng``. ``tone``
    is the unshaded skin colour (RGB in [0, 1]); lips, blush and shadows are
    drawn relative to it.
    """
    t = template_points()
    # each part draws from rng in turn: the order of the calls is part of the output
    canvas, shading, grain, tone = _shaded_skin(rng, t, tone)
    polys = feature_polygons(t)
    _paint_nose(canvas, rng, t, polys, tone)
    _paint_lips(canvas, rng, t, polys, tone, shading, grain)
    _paint_sockets(canvas, rng, t, tone)
    _paint_eyes(canvas, rng, t, tone)
    _paint_brows(canvas, rng, t, tone)
    return np.clip(canvas, 0.0, 1.0)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """``(ys, xs)``: the row and column of every template pixel."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    return ys, xs


def _shaded_skin(
    rng: np.random.Generator, t: np.ndarray, tone: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(canvas, shading, grain, tone)``: skin of ``tone`` (drawn when None) with grain, blush, lit from the mean 3-D shape."""
    shape2 = (SIZE, SIZE)
    normals = _vertex_normals(_mean_face(), t)
    light = np.array([rng.uniform(-0.3, 0.3), -0.45, -1.0])
    light /= np.linalg.norm(light)
    lambert = np.clip(normals @ light, 0.0, 1.0)
    view = np.array([0.0, 0.0, -1.0])
    halfway = (light + view) / np.linalg.norm(light + view)
    sheen = np.clip(normals @ halfway, 0.0, 1.0) ** 12  # soft highlights: forehead, nose, cheekbones
    shade = 0.72 + 0.28 * lambert + rng.uniform(0.04, 0.09) * sheen
    outer = ring(t)
    edge_shade = np.full(len(outer), float(np.percentile(shade, 20)))
    field_, covered = interpolate(np.vstack([t, outer]), np.concatenate([shade, edge_shade]), shape2)
    field_ = np.where(covered > 0, field_[:, :, 0], edge_shade[0]).astype(np.float32)
    ys, xs = _grid()
    field_ = _blur(field_, 3.0)
    jitter = rng.uniform(0.9, 1.05)
    tone = np.array([0.80, 0.62, 0.52]) * jitter if tone is None else np.clip(np.asarray(tone, np.float64), 0.03, 1.0)
    skin = np.ones((SIZE, SIZE, 3), np.float32) * tone.astype(np.float32)
    grain = _blur(rng.normal(0, 1, shape2).astype(np.float32), 0.7) * rng.uniform(0.012, 0.025)
    blotch = _blur(rng.normal(0, 1, shape2).astype(np.float32), 5.0) * rng.uniform(0.05, 0.12)
    skin *= (1.0 + grain + blotch)[:, :, None]
    # blush on the cheeks, red on the nose tip
    for idx, strength in ((205, 0.5), (425, 0.5), (1, 0.35)):
        cx, cy = t[idx]
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * (SIZE * 0.05) ** 2)).astype(np.float32)
        _paint(skin, blob * strength * rng.uniform(0.2, 0.45), tone * np.array([1.0, 0.72, 0.7]))
    return skin * field_[:, :, None], field_, grain, tone


def _paint_nose(canvas: np.ndarray, rng: np.random.Generator, t: np.ndarray, polys: dict, tone: np.ndarray) -> None:
    """The shadow under the tip, nostrils and a soft nasolabial hint, on ``canvas`` (in place)."""
    shape2 = (SIZE, SIZE)
    under = polygon_mask(shape2, [t[[98, 2, 327, 326, 164, 97]] + [0, SIZE * 0.012]])
    _paint(canvas, _blur(under, 3.0), tone * 0.45, 0.35)
    nostrils = polygon_mask(shape2, polys["nostrils"])
    _paint(canvas, _blur(nostrils, 1.2), (0.16, 0.08, 0.07), rng.uniform(0.6, 0.8))
    for side in ((98, 203, 206), (327, 423, 426)):  # soft nasolabial hint
        _paint(canvas, _blur(_stroke(shape2, t[list(side)], 2), 2.0), tone * 0.5, rng.uniform(0.08, 0.2))


def _paint_lips(
    canvas: np.ndarray, rng: np.random.Generator, t: np.ndarray, polys: dict, tone: np.ndarray,
    shading: np.ndarray, grain: np.ndarray,
) -> None:
    """Closed lips on ``canvas`` (in place), shaded like the skin under them.

    The template's mouth is drawn closed: an open mouth is painted after
    warping, by :func:`paint_mouth`, where the replacement's lips part.
    """
    shape2 = (SIZE, SIZE)
    ys, xs = _grid()
    lip_colour = tone * np.array([0.92, 0.66, 0.64]) * rng.uniform(0.82, 0.95)
    outer = polys["lips"][0]
    lips = _blur(polygon_mask(shape2, [outer]), 1.3)
    lips_field = shading[:, :, None] * lip_colour.astype(np.float32) * (1.0 + grain[:, :, None] * 1.5)
    _paint(canvas, lips, (0, 0, 0), 1.0)
    canvas += lips_field * lips[:, :, None]
    upper = _blur(polygon_mask(shape2, [t[list(UPPER_LIP)]]), 1.2)
    _paint(canvas, upper, lip_colour * 0.7, 0.3)  # the upper lip faces down: darker
    lower_mid = (t[14] + t[17]) / 2
    gloss = np.exp(-((xs - lower_mid[0]) ** 2 / (SIZE * 0.035) ** 2 + (ys - lower_mid[1]) ** 2 / (SIZE * 0.01) ** 2))
    _paint(canvas, _blur(gloss.astype(np.float32), 1.0) * lips, np.minimum(lip_colour * 1.35, 1.0), 0.35)
    # where the lips meet: a soft dark line along the middle of the inner contour
    _paint(canvas, _blur(_stroke(shape2, _lip_seam(t), 1.2), 0.9), lip_colour * 0.35, 0.6)
    for corner in (61, 291):  # shadowed corners
        cx, cy = t[corner]
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * (SIZE * 0.008) ** 2)).astype(np.float32)
        _paint(canvas, blob, tone * 0.45, 0.5)


def _paint_sockets(canvas: np.ndarray, rng: np.random.Generator, t: np.ndarray, tone: np.ndarray) -> None:
    """A soft shadow between each upper lid and brow, and a light nose bridge, on ``canvas`` (in place)."""
    shape2 = (SIZE, SIZE)
    for lid, brow in ((RIGHT_UPPER_LID, RIGHT_BROW), (LEFT_UPPER_LID, LEFT_BROW)):
        socket = polygon_mask(shape2, [np.vstack([t[list(lid)], t[list(brow[5:])]])])
        _paint(canvas, _blur(socket, 4.0), tone * 0.7, rng.uniform(0.2, 0.35))
    bridge = _blur(_stroke(shape2, t[[168, 6, 197, 195, 5]], 3), 3.0)
    _paint(canvas, bridge, np.minimum(tone * 1.2, 1.0), 0.18)


def _paint_eyes(canvas: np.ndarray, rng: np.random.Generator, t: np.ndarray, tone: np.ndarray) -> None:
    """Both eyes on ``canvas`` (in place): sclera, iris, pupil, glint, the lid's shadow, lashes, crease."""
    shape2 = (SIZE, SIZE)
    ys, xs = _grid()
    _, iris_colour = _choice(rng, _IRIS)
    iris_colour = np.array(iris_colour) * rng.uniform(0.85, 1.15)
    lash_width = rng.uniform(1.5, 2.2)
    for contour, lid, iris in ((RIGHT_EYE, RIGHT_UPPER_LID, RIGHT_IRIS), (LEFT_EYE, LEFT_UPPER_LID, LEFT_IRIS)):
        eye = polygon_mask(shape2, [t[list(contour)]])
        sclera = np.array([0.8, 0.75, 0.71]) * rng.uniform(0.88, 0.98)
        corners_ = t[[contour[0], contour[8]]]
        mid, half_w = corners_.mean(axis=0), max(np.ptp(corners_[:, 0]) / 2, 1.0)
        towards = np.clip(np.abs(xs - mid[0]) / half_w, 0.0, 1.0) ** 2  # the eyeball turns away at the corners
        sclera_img = sclera[None, None, :] * (1.0 - 0.3 * towards)[:, :, None] * np.array([1.0, 0.97, 0.96])
        _paint(canvas, eye, (0, 0, 0), 1.0)
        canvas += sclera_img.astype(np.float32) * 0.92 * eye[:, :, None]
        centre = t[iris[0]]
        radius = float(np.mean(np.linalg.norm(t[list(iris[1:])] - centre, axis=1)))
        dist = np.sqrt((xs + 0.5 - centre[0]) ** 2 + (ys + 0.5 - centre[1]) ** 2).astype(np.float32)
        disc = np.clip(radius + 0.5 - dist, 0.0, 1.0)
        rim = np.clip(dist / radius, 0, 1) ** 3
        angle = np.arctan2(ys - centre[1], xs - centre[0])
        fibres = 1.0 + 0.12 * np.sin(angle * rng.integers(17, 29) + rng.uniform(0, 6.28)).astype(np.float32)
        iris_img = iris_colour[None, None, :] * (1.0 - 0.55 * rim)[:, :, None] * fibres[:, :, None]
        iris_mask = disc * eye
        _paint(canvas, iris_mask, (0, 0, 0), 1.0)
        canvas += iris_img.astype(np.float32) * iris_mask[:, :, None]
        pupil = np.clip(radius * rng.uniform(0.35, 0.45) + 0.5 - dist, 0.0, 1.0) * eye
        _paint(canvas, pupil, (0.03, 0.02, 0.02), 1.0)
        glint_c = centre + np.array([radius * 0.35, -radius * 0.35])
        glint = np.exp(-((xs - glint_c[0]) ** 2 + (ys - glint_c[1]) ** 2) / (2 * (radius * 0.15) ** 2))
        _paint(canvas, glint.astype(np.float32) * eye, (1, 1, 1), 0.8)
        # shadow of the upper lid on the eyeball, lashes, crease
        lid_pts = t[list(lid)]
        lid_shadow = _blur(_stroke(shape2, lid_pts + [0, radius * 0.25], radius * 0.5), radius * 0.3) * eye
        _paint(canvas, lid_shadow, (0.2, 0.12, 0.1), 0.45)
        _paint(canvas, _blur(_stroke(shape2, lid_pts, lash_width), 0.8), (0.08, 0.05, 0.04), 0.7)
        lower_lid = t[list(contour[:9])]
        _paint(canvas, _blur(_stroke(shape2, lower_lid, 1.0), 0.6), tone * 0.5, 0.35)
        crease = lid_pts[1:-1] + [0, -radius * 0.55]
        _paint(canvas, _blur(_stroke(shape2, crease, 1.5), 1.2), tone * 0.45, rng.uniform(0.25, 0.45))


def _paint_brows(canvas: np.ndarray, rng: np.random.Generator, t: np.ndarray, tone: np.ndarray) -> None:
    """Brows of hair strokes on ``canvas`` (in place), thick at the inner end and tapering outwards."""
    import cv2

    shape2 = (SIZE, SIZE)
    _, xs = _grid()
    brow_colour = tone * rng.uniform(0.22, 0.42) * np.array([1.0, 0.85, 0.75])
    noise = rng.normal(0, 1, shape2).astype(np.float32)
    hairs = cv2.GaussianBlur(noise, (0, 0), sigmaX=2.0, sigmaY=0.35)  # strokes along x
    hairs = np.clip(0.85 + 0.3 * hairs / max(float(hairs.std()), 1e-6), 0.0, 1.0)
    thickness = rng.uniform(0.8, 1.2)
    brows = np.zeros(shape2, np.float32)
    for brow in (RIGHT_BROW, LEFT_BROW):
        p = t[list(brow)]
        inner_end = p[4]  # the inner upper corner (107 or 336)
        span = max(float(np.ptp(p[:, 0])), 1.0)
        mask = polygon_mask(shape2, [p])
        taper = np.clip(1.15 - np.abs(xs - inner_end[0]) / span * 0.6, 0.4, 1.0).astype(np.float32)
        brows += mask * taper
    brows = _blur(np.clip(brows * thickness, 0, 1), 1.4)
    _paint(canvas, np.clip(brows * 1.4, 0, 1) * hairs, brow_colour, rng.uniform(0.65, 0.85))

def _lip_seam(points: np.ndarray) -> np.ndarray:
    """Where closed lips meet: from corner to corner, midway between each upper inner-lip point and the one below."""
    pts = np.asarray(points, dtype=np.float64)
    return np.vstack([pts[[78]], (pts[list(_INNER_UPPER)] + pts[list(_INNER_LOWER)]) / 2, pts[[308]]])


def paint_mouth(canvas: np.ndarray, points: np.ndarray, face_width: float, rng: np.random.Generator) -> None:
    """Paint the inside of an open mouth (dark, teeth under the upper lip), or the line where closed lips meet.

    On ``canvas`` (float RGB, in place).

    Drawn where the face is, after warping: the template's closed mouth has no
    inside to stretch.
    """
    inner = np.asarray(points, dtype=np.float64)[list(LIPS_INNER)]
    gap = float(np.linalg.norm(points[13] - points[14]))
    shape2 = (canvas.shape[0], canvas.shape[1])
    if gap < 0.03 * face_width:  # lips apart by less than this: closed, a dark line where they meet
        line = _blur(_stroke(shape2, _lip_seam(points), max(face_width * 0.006, 0.8)), max(face_width * 0.003, 0.4))
        _paint(canvas, line, (0.25, 0.1, 0.09), 0.55)
        return
    soft = max(face_width * 0.006, 0.5)
    mouth = _blur(polygon_mask(shape2, [inner]), soft)
    _paint(canvas, mouth, (0.2, 0.08, 0.07), 0.95)
    # teeth: the upper inner contour moved down by part of the opening, darker towards the corners
    top = points[[78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]]
    down = (points[14] - points[13]) * min(0.7, 0.14 * face_width / max(gap, 1e-6))
    teeth_poly = np.vstack([top, top[::-1] + down])
    teeth = _blur(polygon_mask(shape2, [teeth_poly]), soft * 1.3) * mouth
    ys, xs = np.mgrid[0 : shape2[0], 0 : shape2[1]]
    centre = (points[78] + points[308]) / 2
    axis = (points[308] - points[78]) / max(float(np.linalg.norm(points[308] - points[78])), 1e-6)
    along = np.abs((xs - centre[0]) * axis[0] + (ys - centre[1]) * axis[1])
    half = max(float(np.linalg.norm(points[308] - points[78])) / 2, 1.0)
    fade = np.clip(1.0 - (along / half) ** 2, 0.0, 1.0).astype(np.float32)
    shade = rng.uniform(0.72, 0.82)
    colour = np.array([shade, shade * 0.94, shade * 0.84], np.float32)
    _paint(canvas, teeth * (0.35 + 0.55 * fade), colour, 1.0)


def _choice(rng: np.random.Generator, options):
    weights = np.array([w for w, _ in options], dtype=np.float64)
    return options[int(rng.choice(len(options), p=weights / weights.sum()))]


# --------------------------------------------------------------------------- k-Same pool


def align_to_template(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face whose FaceMesh ``points`` are given, warped to template space: ``float32 (SIZE, SIZE, 3)``."""
    t = template_points()
    src = np.vstack([np.asarray(points, np.float64), ring(np.asarray(points, np.float64))])
    dst = np.vstack([t, ring(t)])
    warped, _ = piecewise_warp(np.asarray(image, np.float32) / 255.0, src, dst, (SIZE, SIZE))
    return warped


@dataclass(eq=False)
class KSamePool:
    """Faces of a batch aligned to the mean shape, kept in memory, averaged k at a time (k-Same).

    Add every face of the batch with :meth:`add` (faces need a FaceMesh
    ``mesh``), then pass the pool as ``Synthesize(donor=pool)``. Each face is
    replaced by the average of the ``k`` pool faces in its k-Same cluster
    (Newton, Sweeney & Malin, 2005): the pool is partitioned into groups of
    at least ``k + 1`` faces, and every face of a group gets the average of
    the *other* faces of its group — at least ``k`` of them, never its own
    texture (measured: even a 1/k share of the face's own texture lets a
    recogniser re-identify it). Groups are drawn at random
    (seeded) rather than by similarity, so that many photos of one person do
    not end up averaged together (k counts faces, not people). A face not in
    the pool is treated as its nearest pool face (which may be the same face,
    aligned a little differently): it gets the average of that face's group
    without that face.

    The aligned textures live only in this object's memory: nothing is ever
    written to disk. Call :meth:`clear` (or drop the pool) when the batch is
    done.

    Args:
        k: faces averaged per replacement (>= 2; default 10). With fewer than
            ``k + 1`` faces in the pool :meth:`average` raises ``ValueError``, and
            :class:`Synthesize` uses the built-in synthetic donor instead
            (and says so in its plan).
        size: side of the aligned textures (template pixels, default 64; the
            average is smooth, so small is enough).
        seed: seeds the random grouping.
    """

    k: int = 10
    size: int = 64
    seed: int = 0
    _faces: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    _clusters: list[int] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.k, (int, np.integer)) or isinstance(self.k, bool) or self.k < 2:
            raise ValueError(f"k must be an integer >= 2, got {self.k!r}")
        if not isinstance(self.size, (int, np.integer)) or not 16 <= self.size <= SIZE:
            raise ValueError(f"size must be an integer in 16..{SIZE}, got {self.size!r}")

    def __len__(self) -> int:
        return len(self._faces)

    def add(self, image: np.ndarray, faces) -> int:
        """Align and keep every face of ``image`` that has a FaceMesh ``mesh``; return how many were added."""
        added = 0
        for face in faces:
            if face.mesh is None or len(face.mesh) != 478:
                continue
            self._faces.append(self._small(align_to_template(image, face.mesh)))
            added += 1
        self._clusters = None
        return added

    def clear(self) -> None:
        """Forget every face."""
        self._faces.clear()
        self._clusters = None

    label = "k-same"  # what Replacement.donors says for a face this donor replaced

    def texture(self, image: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The k-Same replacement for the face of ``image`` whose FaceMesh points are ``mesh`` (see :meth:`average`)."""
        return self.average(align_to_template(image, mesh))

    def fingerprint(self) -> str:
        """The settings and a hash of the faces held: equal exactly when the pool gives equal averages.

        Part of :meth:`facesafe.Synthesize.fingerprint`, so a batch run with
        a pool of other faces does not resume from one with these.
        """
        digest = hashlib.sha256()
        for texture in self._faces:
            digest.update(np.ascontiguousarray(texture, dtype=np.float32).tobytes())
        return f"KSamePool(k={self.k!r}, size={self.size!r}, seed={self.seed!r}, faces={len(self._faces)}:{digest.hexdigest()[:16]})"

    def _small(self, texture: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.resize(texture, (self.size, self.size), interpolation=cv2.INTER_AREA).astype(np.float32)

    def _features(self) -> np.ndarray:
        # compare faces by their lighting-normalised grey texture
        stack = np.stack(self._faces).mean(axis=3).reshape(len(self._faces), -1)
        stack = stack - stack.mean(axis=1, keepdims=True)
        return stack / np.maximum(stack.std(axis=1, keepdims=True), 1e-6)

    def _cluster(self) -> list[int]:
        """The k-Same partition: groups of ``k + 1`` (the last one up to ``2k + 1``) drawn at random with ``seed``.

        Newton et al. group each face with its nearest neighbours, which puts
        several photos of one person in the same group, where they dominate
        the average; random groups spread them out.
        """
        n, size = len(self._faces), self.k + 1
        order = np.random.default_rng(self.seed).permutation(n)
        labels = [0] * n
        groups = max(n // size, 1)
        for rank, face in enumerate(order):
            labels[int(face)] = min(rank // size, groups - 1)
        return labels

    def average(self, texture: np.ndarray) -> np.ndarray:
        """The k-Same replacement for an aligned ``texture`` (``float32 (SIZE, SIZE, 3)``), upscaled to SIZE.

        Raises ``ValueError`` when the pool holds fewer than ``k + 1`` faces.
        """
        import cv2

        if len(self._faces) < self.k + 1:
            raise ValueError(
                f"the k-Same pool holds {len(self._faces)} faces, fewer than k + 1 = {self.k + 1} "
                f"(each face is replaced by the average of k={self.k} others)"
            )
        if self._clusters is None:
            self._clusters = self._cluster()
        small = self._small(texture)
        feats = self._features()
        probe = small.mean(axis=2).ravel()
        probe = (probe - probe.mean()) / max(probe.std(), 1e-6)
        dist = ((feats - probe) ** 2).sum(axis=1)
        # the group of the nearest pool face, without that face: for a pooled face, its own group
        # without itself; for any other face the same, because the nearest pool face may be the
        # same face aligned a little differently (its own texture must not enter its average)
        nearest = int(np.argmin(dist))
        members = [i for i, c in enumerate(self._clusters) if c == self._clusters[nearest] and i != nearest]
        mean = np.mean([self._faces[i] for i in members], axis=0)
        return cv2.resize(mean, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
