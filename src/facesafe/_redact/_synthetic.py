"""Synthetic face replacement: each face becomes a natural face that belongs to nobody.

For every face, :class:`Synthesize`

1. takes its 478 MediaPipe FaceMesh points (``Face.mesh``; the faces are meshed
   here when the detector did not do it);
2. fits the reference 3-D face shape to them (pose), keeps the expression (eye
   openness, an open mouth) and only ``identity`` of the original's own
   proportions, and adds a seeded random synthetic shape
   (:func:`._donor.target_geometry`);
3. takes a donor texture in template space: the built-in procedural face
   (:func:`._donor.render_donor`, seeded) or the k-Same average of the batch
   (:class:`._donor.KSamePool`);
4. warps it onto the new geometry with the landmark triangulation;
5. paints it in the original's skin tone, matches the lighting with a smooth
   membrane of the difference at the face outline (as Poisson blending does;
   nothing from inside the original face is used), adds grain up to the
   photo's noise level, fills the rest of the grown region smoothly between
   the new face's skin and the colours at the region's edge (``context``:
   hair line, ears and the original's jaw line inside it go) and blends the
   face inside the replacement's own outline with a feathered mask that
   stays inside the grown face region (the ``shape`` region and, with
   ``mesh_region``, the FaceMesh outline grown by ``grow``: forehead to the
   hair line whatever the detector's box).

Faces that are too small, too turned, or where FaceMesh finds no face get the
``fallback`` redaction instead (never left untouched); :meth:`Synthesize.replace`
says which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._geometry import Face
from .._protocols import Redacted, Redaction, as_redaction
from . import _kernels as K
from ._donor import (
    FACE_OVAL,
    KSamePool,
    mean_face,
    paint_mouth,
    render_donor,
    ring,
    skin_mask,
    target_geometry,
    template_points,
)
from ._masks import face_masks, union_region
from ._methods import Pixelate, _check_number, _check_seed, _Masked, check_fallback
from ._pool import DonorPool
from ._warp import fit_pose, piecewise_warp, polygon_mask

__all__ = ["Synthesize", "Replacement"]

_CONTEXT_RAMP = 0.1  # the context blur fades in over this share of the region
_BAND = 0.05  # width of the original's skin kept along the outline, in face widths
_MEMBRANE_LIMIT = 0.3  # largest lighting correction from the outline (share of full scale)
_SHADE = 0.87  # mean shading of the painted donor's skin (its tone times this is its mean colour)
_WORK_WIDTH = 220.0  # faces wider than this (px) are synthesised at this width, then upscaled
_MAX_FIT_ERROR = 0.06  # RMS pose-fit error (face widths) above which the mesh is not trusted
_FILL_NOISE = 2.0  # grey levels of noise on the smooth context fill (as the blurs add)


@dataclass(frozen=True)
class Replacement:
    """What :meth:`Synthesize.replace` did.

    Attributes:
        image: the new image.
        donors: one entry per input face: ``"synthetic"`` (built-in donor),
            ``"pool"`` (a :class:`DonorPool` mix), ``"k-same"`` (a :class:`KSamePool` average), ``"fallback"`` (the fallback
            redaction was applied) or ``"off-image"`` (nothing to do).
        reasons: per face, why it fell back (``""`` otherwise).
    """

    image: np.ndarray = field(repr=False)
    donors: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def fell_back(self) -> tuple[int, ...]:
        """Indices of the faces that got the fallback redaction."""
        return tuple(i for i, d in enumerate(self.donors) if d == "fallback")


@dataclass(frozen=True)
class Synthesize(_Masked):
    """Replace each face by a synthetic one that keeps pose, expression, skin tone and lighting.

    Args:
        seed: seeds the synthetic donor (and its random shape): same seed and
            input, same output; another seed, another synthetic person.
        identity: share of the original's own face proportions kept (0 = the
            mean shape, 1 = all of them); expression is always kept.
        variation: size of the seeded random synthetic shape, in face widths.
        context: what becomes of the rest of the grown region (hair line,
            ears, the original's jaw line), fading in from the region's edge:
            ``"fill"`` (default) fills it smoothly between the new face's
            skin and the colours at the region's edge (a harmonic membrane,
            as Poisson inpainting does), so nothing inside it is kept; a
            number blurs it with that std, as a share of the face box width;
            0 keeps it sharp. A recogniser links faces by that context too
            (see ``docs/synthetic.md``).
        mesh_region: the region that may change is the ``shape`` region and
            also the FaceMesh outline grown by ``grow`` (the forehead up to
            the hair line, whatever the detector's box covers); ``False``
            keeps it to the ``shape`` region alone.
        min_size: faces whose box is narrower than this (pixels) fall back.
        max_yaw: faces turned further than this (degrees) fall back.
        fallback: the redaction for faces that cannot be synthesised; ``None``
            means :class:`Pixelate` with this redaction's ``shape``, ``grow``,
            ``feather`` and ``seed``.
        donor: ``None`` for the built-in procedural donor, or a
            :class:`DonorPool` (mixes of the batch's faces; batch runs build
            one by default) or a :class:`KSamePool` holding the batch's faces;
            when the pool holds fewer than ``k + 1`` faces to use for a face,
            that face gets the built-in donor.
        mesher: ``(image, faces) -> faces`` filling ``Face.mesh`` for faces
            that have none; ``None`` uses MediaPipe FaceMesh (the ``synthetic``
            extra: :class:`~facesafe.MissingExtraError` without it), loaded
            once per ``Synthesize`` object when first needed.

    ``shape``, ``grow`` and ``feather`` bound the region that may change, as
    for every redaction; the synthetic face is blended inside it. A larger
    ``grow`` (1.6) also replaces the hair and ears nearest the face, which a
    recogniser uses to link replaced faces to each other (measured in
    ``docs/synthetic.md``), at the cost of more of the head filled.
    """

    name: ClassVar[str] = "synthetic"

    seed: int = 0
    identity: float = 0.0
    variation: float = 0.05
    context: float | str = "fill"
    mesh_region: bool = True
    min_size: float = 32.0
    max_yaw: float = 50.0
    fallback: Redaction | Callable[[np.ndarray, Sequence[Face]], np.ndarray] | None = None
    donor: DonorPool | KSamePool | None = None
    mesher: Callable[[np.ndarray, Sequence[Face]], Sequence[Face]] | None = field(default=None, compare=False)
    _loaded: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_seed(self.seed)
        for name in ("identity", "variation"):
            _check_number(name, getattr(self, name), low=0.0)
        if self.context != "fill":
            if isinstance(self.context, str):
                raise ValueError(f"context must be 'fill' or a number >= 0, got {self.context!r}")
            _check_number("context", self.context, low=0.0)
        if not isinstance(self.mesh_region, bool):
            raise TypeError(f"mesh_region must be a bool, got {type(self.mesh_region).__name__}")
        if self.identity > 1.0:
            raise ValueError(f"identity must be in [0, 1], got {self.identity!r}")
        _check_number("min_size", self.min_size, low=0.0)
        _check_number("max_yaw", self.max_yaw, low=0.0)
        if self.fallback is not None:
            check_fallback(self.fallback)
        if self.donor is not None and not isinstance(self.donor, (KSamePool, DonorPool)):
            raise TypeError(f"donor must be None, a DonorPool or a KSamePool, got {type(self.donor).__name__}")

    @property
    def effective_fallback(self) -> Redaction:
        """The redaction applied to faces that cannot be synthesised."""
        if self.fallback is not None:
            return as_redaction(self.fallback)
        return Pixelate(shape=self.shape, grow=self.grow, feather=self.feather, seed=self.seed)

    def __call__(self, image: np.ndarray, faces: Sequence[Face], /) -> np.ndarray:
        """Return a copy of ``image`` with every face replaced (or, failing that, the fallback)."""
        return self.replace(image, faces).image

    def redact(self, image: np.ndarray, faces: Sequence[Face], /) -> Redacted:
        """The new image and the faces that got the fallback redaction (see :meth:`replace` for why)."""
        done = self.replace(image, faces)
        return Redacted(done.image, fell_back=done.fell_back)

    def replace(self, image: np.ndarray, faces: Sequence[Face]) -> Replacement:
        """Like calling the redaction, and also say which donor each face got (see :class:`Replacement`)."""
        K.check_image(image)
        faces = tuple(faces)
        for face in faces:
            if not isinstance(face, Face):
                raise TypeError(f"faces must hold Face records, got {type(face).__name__}")
        rgb = _as_rgb(image)
        faces = self._meshed(rgb, faces)
        height, width = image.shape[:2]
        out = rgb.copy()
        donors: list[str] = []
        reasons: list[str] = []
        for index, face in enumerate(faces):
            regions = self._region(face, width=width, height=height)
            if not regions:
                donors.append("off-image")
                reasons.append("")
                continue
            reason = self._unsuitable(face)
            if reason:
                donors.append("fallback")
                reasons.append(reason)
                continue
            window, allowed = regions[0]
            rng = K.noise_rng(self.seed, index, rgb[face.box.to_slices(width=width, height=height)])
            donor, reason, layer = self._one(rgb, face, window, allowed, rng)
            if self.context == "fill":
                _fill_context(out, window, allowed, face.box.width, rng, layer)
            elif not isinstance(self.context, str) and self.context > 0:  # a number (checked in __post_init__)
                _blur_context(out, window, allowed, self.context * face.box.width, rng)
            if layer is not None:
                K.composite(out, window, *layer)
            donors.append(donor)
            reasons.append(reason)
        result = _from_rgb(out, image)
        fell_back = [faces[i] for i, d in enumerate(donors) if d == "fallback"]
        if fell_back:
            result = self.effective_fallback.redact(result, fell_back).image
        return Replacement(result, tuple(donors), tuple(reasons))

    # ------------------------------------------------------------------ steps

    def _region(self, face: Face, *, width: int, height: int) -> list[tuple[tuple[slice, slice], np.ndarray]]:
        """The region that may change: the ``shape`` region, with ``mesh_region`` also the grown mesh outline."""
        regions = face_masks([face], width=width, height=height, shape=self.shape, grow=self.grow, feather=self.feather)
        if not (self.mesh_region and regions and face.mesh is not None and self.shape != "outline"):
            return regions
        outline = face_masks([face], width=width, height=height, shape="outline", grow=self.grow, feather=self.feather)
        return [union_region(regions[0], outline[0])] if outline else regions

    def meshed(self, image: np.ndarray, faces: Sequence[Face]) -> tuple[Face, ...]:
        """``faces`` with ``Face.mesh`` filled by the mesher where it finds one (faces narrower than ``min_size`` as given)."""
        return self._meshed(_as_rgb(image), tuple(faces))

    def _meshed(self, image: np.ndarray, faces: tuple[Face, ...]) -> tuple[Face, ...]:
        todo = [i for i, f in enumerate(faces) if f.mesh is None and f.box.width >= self.min_size]
        if not todo:
            return faces
        mesher = self.mesher
        if mesher is None:  # loaded once per Synthesize object, on first need
            if "mesher" not in self._loaded:
                # here, not at import: a Synthesize given its own mesher (and the CLI's list of
                # methods) never loads detection
                from .._detect._mediapipe import FaceMesher, require_facemesh

                require_facemesh("Synthesize without mesher=")
                self._loaded["mesher"] = FaceMesher()
            mesher = self._loaded["mesher"]
        meshed = tuple(mesher(image, [faces[i] for i in todo]))
        if len(meshed) != len(todo):
            raise ValueError(f"mesher returned {len(meshed)} faces for {len(todo)}")
        out = list(faces)
        for i, face in zip(todo, meshed, strict=True):
            out[i] = face
        return tuple(out)

    def _unsuitable(self, face: Face) -> str:
        """Why this face cannot be synthesised, or ``""``."""
        if face.box.width < self.min_size or face.box.height < self.min_size:
            return f"smaller than min_size={self.min_size:g} px"
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
        if abs(pose.yaw) > self.max_yaw or abs(pose.pitch) > self.max_yaw:
            return f"turned more than max_yaw={self.max_yaw:g} degrees"
        if pose.error > _MAX_FIT_ERROR:
            return "FaceMesh landmarks do not fit a face shape"
        return ""

    def _texture(
        self, image: np.ndarray, mesh: np.ndarray, tone: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, str]:
        if self.donor is not None:
            try:
                return self.donor.texture(image, mesh, rng), self.donor.label
            except ValueError:
                pass  # documented: fewer than k + 1 faces in the pool -> built-in donor (reported in donors)
        return render_donor(rng, tone=tone), "synthetic"

    def _one(
        self,
        image: np.ndarray,
        face: Face,
        window: tuple[slice, slice],
        allowed: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[str, str, tuple[np.ndarray, np.ndarray] | None]:
        """Synthesise one face: ``(donor, reason, (alpha, content))``, window-sized, alpha 0 outside ``allowed``.

        The layer is ``None`` when the face falls back.
        """
        import cv2

        original = np.asarray(face.mesh, dtype=np.float64)
        target, pose = target_geometry(original, identity=self.identity, rng=rng, variation=self.variation)
        # work inside the allowed window, at a bounded resolution
        rows, cols = window
        oy, ox = rows.start, cols.start
        h, w = rows.stop - rows.start, cols.stop - cols.start
        face_width = 2 * pose.scale
        scale = min(1.0, _WORK_WIDTH / max(face_width, 1.0))
        wh, ww = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
        sx, sy = ww / w, wh / h
        to_work = lambda p: (p - [ox, oy]) * [sx, sy]  # noqa: E731
        crop = image[rows, cols].astype(np.float32) / 255.0  # colour statistics from the original
        work = cv2.resize(crop, (ww, wh), interpolation=cv2.INTER_AREA) if scale < 1.0 else crop
        p_work, q_work = to_work(original), to_work(target)
        skin_o = skin_mask((wh, ww), p_work)
        tone = _mean(work, skin_o)  # the original's mean skin colour
        texture, donor = self._texture(image, original, tone / _SHADE, rng)
        t = template_points()
        try:
            warped, cover = piecewise_warp(
                texture, np.vstack([t, ring(t)]), np.vstack([q_work, ring(q_work)]), (wh, ww)
            )
        except Exception as exc:  # scipy's Qhull rejects degenerate point sets
            if type(exc).__name__ != "QhullError":
                raise
            return "fallback", "landmarks too degenerate to triangulate", None
        fw = face_width * scale
        if donor == "synthetic":
            paint_mouth(warped, q_work, fw, rng)
        # skin tone: the donor is painted in it; one gain per channel corrects what remains
        skin_d = skin_mask((wh, ww), q_work) * cover
        gain = tone / np.maximum(_mean(warped, skin_d), 1e-3)
        content = warped * gain
        # grain: add noise up to the original skin's fine texture level (one number)
        extra = math.sqrt(max(_fine_std(work, skin_o) ** 2 - _fine_std(content, skin_d) ** 2, 0.0))
        if extra > 0:
            grain = _blur(rng.normal(0.0, extra * 0.5, content.shape[:2]).astype(np.float32), 0.5)
            content = content + grain[:, :, None]
        # the region replaced: inside the replacement's own outline (the reference's, not the
        # original's jaw line) and the allowed region, feathered inwards, less a band along the
        # outline whose original skin the light is matched on
        hull = cv2.convexHull(q_work[list(FACE_OVAL)].astype(np.float32))
        outline = polygon_mask((wh, ww), [hull[:, 0, :]])
        soft = max(0.03 * fw, 0.7)
        inset = int(math.ceil(1.5 * soft + _BAND * fw))
        region = cv2.erode(outline, np.ones((2 * inset + 1, 2 * inset + 1), np.uint8))
        allowed_work = cv2.resize(allowed, (ww, wh), interpolation=cv2.INTER_AREA) if scale < 1.0 else allowed
        alpha = np.clip(_blur(region, soft) * 2.0, 0.0, 1.0) * cover * (allowed_work >= 0.999)
        # lighting: a membrane (harmonic interpolation) of the difference on that band's skin,
        # as Poisson blending does; nothing inside the replaced region is used
        known = (outline > 0.5) & (alpha <= 0.02) & _skin_like(work, skin_o)
        content = content + _membrane(work - content, ~known, fw)
        content = np.clip(content, 0.0, 1.0)
        if scale < 1.0:
            content = cv2.resize(content, (w, h), interpolation=cv2.INTER_CUBIC)
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = np.clip(alpha, 0.0, 1.0) * allowed
        return donor, "", (alpha.astype(np.float32), (content * 255.0).astype(np.float32))


def _fill_context(
    out: np.ndarray,
    window: tuple[slice, slice],
    allowed: np.ndarray,
    face_width: float,
    rng: np.random.Generator,
    layer: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Fill ``out`` inside ``allowed`` smoothly from the colours at its edge (in place), fading in from it.

    A harmonic membrane of the pixels just outside the region and, when the
    synthetic face's ``(alpha, content)`` layer is given, of the face itself
    (where it is fully opaque): the fill runs from the new face's skin to
    the colours around the region, so the forehead fades into the hair and
    the chin into the neck, without a halo of the surroundings' colour at
    the face's edge. The hair line, ears and jaw line inside the region
    leave no trace. Grain of ``_FILL_NOISE`` grey levels is added.
    """
    inside = (allowed >= 0.999).astype(np.uint8)
    if not inside.any():
        return
    crop = out[window].astype(np.float32)
    unknown = inside > 0
    if layer is not None:
        alpha, content = layer
        solid = alpha >= 0.98
        crop[solid] = content[solid]
        unknown &= ~solid
    fill = _harmonic_fill(crop, unknown, face_width)
    fill += rng.standard_normal(size=fill.shape, dtype=np.float32) * np.float32(_FILL_NOISE)
    _fade_in(out, window, allowed, inside, fill)


def _harmonic_fill(image: np.ndarray, unknown: np.ndarray, face_width: float) -> np.ndarray:
    """``image`` (float, channels last) with ``unknown`` filled by the harmonic interpolation of the pixels around it.

    Without any known pixel, the window's mean colour.
    """
    import cv2

    h, w = unknown.shape
    small = _harmonic(image, unknown, face_width, threshold=0.01, iterations=300)
    if small is None:
        return np.broadcast_to(image.reshape(-1, image.shape[2]).mean(axis=0), image.shape).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, -1).astype(np.float32)


def _harmonic(
    image: np.ndarray, unknown: np.ndarray, face_width: float, *, threshold: float, iterations: int
) -> np.ndarray | None:
    """The harmonic fill of ``image`` over ``unknown`` from the values around it, on a small grid.

    Solved on a grid about 48 px across the face (Jacobi iterations from a
    normalised-blur start); a grid pixel is unknown when more than
    ``threshold`` of it is. Returns the small ``(rows, cols, channels)``
    grid, or ``None`` when no pixel is unknown or none is known.
    """
    import cv2

    h, w = unknown.shape
    f = min(1.0, 48.0 / max(face_width, 1.0))
    sh, sw = max(int(round(h * f)), 3), max(int(round(w * f)), 3)
    small = cv2.resize(image.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA).reshape(sh, sw, -1)
    unk = cv2.resize(unknown.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > threshold
    known = (~unk).astype(np.float32)
    if not unk.any() or known.sum() == 0:
        return None
    sigma = max(sh, sw) / 6
    start = _blur(small * known[:, :, None], sigma).reshape(small.shape)
    start = start / np.maximum(_blur(known, sigma), 1e-4)[:, :, None]
    m = np.where(unk[:, :, None], start, small).astype(np.float32)
    for _ in range(iterations):
        padded = np.pad(m, ((1, 1), (1, 1), (0, 0)), mode="edge")
        avg = 0.25 * (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:])
        m = np.where(unk[:, :, None], avg, m)
    return m


def _fade_in(
    out: np.ndarray, window: tuple[slice, slice], allowed: np.ndarray, inside: np.ndarray, content: np.ndarray
) -> None:
    """Composite ``content`` over ``out`` inside ``allowed``, fading in over a tenth of the region from its edge."""
    import cv2

    depth = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    ramp = np.clip(depth / max(_CONTEXT_RAMP * max(inside.shape), 1e-6), 0.0, 1.0).astype(np.float32)
    K.composite(out, window, ramp * (allowed >= 0.999), content)


def _blur_context(
    out: np.ndarray, window: tuple[slice, slice], allowed: np.ndarray, sigma_px: float, rng: np.random.Generator
) -> None:
    """Blur ``out`` inside ``allowed`` (in place), fading in over a tenth of the region from its edge."""
    inside = (allowed >= 0.999).astype(np.uint8)
    if not inside.any():
        return
    content = K.blur_region(out, window, max(sigma_px, 0.5), _FILL_NOISE, rng)
    _fade_in(out, window, allowed, inside, content)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def _mean(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean colour of ``image`` where ``mask`` (weights); the plain mean when the mask is empty."""
    total = float(mask.sum())
    if total < 1.0:
        return image.reshape(-1, image.shape[2]).mean(axis=0)
    return (image * mask[:, :, None]).sum(axis=(0, 1)) / total


def _fine_std(image: np.ndarray, mask: np.ndarray) -> float:
    """Std of the fine texture (image minus a 1.5 px blur) on the mask."""
    fine = (image - _blur(image, 1.5)).mean(axis=2)
    inside = mask > 0.5
    return float(fine[inside].std()) if inside.sum() > 16 else 0.0


def _skin_like(image: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Pixels whose colour is close to the face's skin (hair, background and clothes are not)."""
    inside = skin > 0.5
    if inside.sum() < 16:
        return np.ones(image.shape[:2], dtype=bool)
    colours = image[inside]
    centre = np.median(colours, axis=0)
    spread = np.percentile(np.linalg.norm(colours - centre, axis=1), 75)
    return np.linalg.norm(image - centre, axis=2) <= max(1.5 * spread, 0.03)


def _membrane(difference: np.ndarray, unknown: np.ndarray, face_width: float) -> np.ndarray:
    """The smooth (harmonic) fill of ``difference`` over ``unknown`` from its values around it.

    Outside ``unknown`` it equals a lightly smoothed ``difference``; each
    value is clipped to the largest lighting correction. Zero when there is
    nothing to fill or no edge to match (the whole window is face: keep the
    global tone).
    """
    import cv2

    h, w = unknown.shape
    small = _harmonic(difference, unknown, face_width, threshold=0.5, iterations=150)
    if small is None:
        return np.zeros_like(difference)
    m = np.clip(small, -_MEMBRANE_LIMIT, _MEMBRANE_LIMIT)
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, -1)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] in (1, 2):
        return np.repeat(image[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def _from_rgb(rgb: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``rgb`` back in the channel layout of ``like`` (grey from luma, alpha kept)."""
    if like.ndim == 3 and like.shape[2] == 3:
        return rgb
    grey = np.clip(np.rint(rgb @ np.array([0.299, 0.587, 0.114])), 0, 255).astype(np.uint8)
    if like.ndim == 2:
        return grey
    out = like.copy()
    if like.shape[2] in (1, 2):
        out[:, :, 0] = grey
    else:
        out[:, :, :3] = rgb
    return out

