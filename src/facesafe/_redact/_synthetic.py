"""Synthetic face replacement: each face becomes a natural face that belongs to nobody.

For every face, :class:`Synthesize`

1. places it (:func:`._place.place`): by its 478 MediaPipe FaceMesh points
   (``Face.mesh``; faces of ``min_size`` and more are meshed here when the
   detector did not do it), or, for smaller faces and faces FaceMesh does not
   find, by the reference shape posed on the detector's five landmarks or
   fitted into its box;
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

Small faces are drawn at a working size of ``_MIN_WORK_WIDTH`` and shrunk to
the photo. Faces FaceMesh finds turned more than ``max_yaw``, and faces under
4 px, get the ``fallback`` redaction instead (never left untouched);
:meth:`Synthesize.replace` says which, and what each face was placed by.
"""

from __future__ import annotations

import functools
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
    LEFT_BROW,
    LEFT_EYE,
    LIPS_INNER,
    LIPS_OUTER,
    RIGHT_BROW,
    RIGHT_EYE,
    SIZE,
    KSamePool,
    paint_mouth,
    render_donor,
    ring,
    skin_mask,
    target_geometry,
    template_points,
)
from ._masks import face_masks, union_region
from ._methods import Pixelate, _check_number, _check_seed, _Masked, check_fallback
from ._place import Placement, place
from ._pool import DonorPool
from ._warp import piecewise_warp, polygon_mask

__all__ = ["Synthesize", "Replacement"]

_CONTEXT_RAMP = 0.1  # the context blur fades in over this share of the region
_CONTEXT_REACH = 0.1  # below the chin the context is filled up to this far (face widths) beyond either face outline ...
_CONTEXT_SOFT = 0.08  # ... fading out over this much more (the photo's own pixels beyond)
_BAND = 0.05  # width of the band along the outline whose skin the light is matched on, in face widths
_EDGE = 0.03  # the new face's edge is feathered over this (face widths), inside that band
_MEMBRANE_LIMIT = 0.3  # largest lighting correction from the outline (share of full scale)
_SHADE = 0.87  # mean shading of the painted donor's skin (its tone times this is its mean colour)
_WORK_WIDTH = 220.0  # faces wider than this (px) are synthesised at this width, then upscaled
_GRID = 48.0  # the harmonic fills are solved on a grid this many cells across the face (light, not texture)
_MIN_WORK_WIDTH = 48.0  # faces narrower than this are synthesised at this width, then downscaled
_MIN_LIGHT_WIDTH = 16.0  # faces narrower than this (px) get no lighting membrane
_MAX_UPSCALE = 12.0  # ... but enlarged at most this much (the window grows with the face's region)
_STOCK_DONORS = 4  # painted donors reused for faces placed without a mesh, per stock tone
_STOCK_TONES = np.array([[0.40, 0.27, 0.20], [0.62, 0.45, 0.36], [0.80, 0.62, 0.52], [0.95, 0.78, 0.68]])  # RGB
_MIN_FACE = 4.0  # faces smaller than this (px) fall back: too small to draw a face on
_SKIN_CHROMA = 0.012  # chromaticity distance from the skin's median within which a colour is skin, at least
_FILL_NOISE = 2.0  # grey levels of noise on the smooth context fill (as the blurs add), at least
_FILL_NOISE_MAX = 5.0  # ... and at most: the fill's grain follows the fine texture around it
# A detection is painted only when it is plausibly a face (see Synthesize._implausible): one scored under
# _DOUBT_SCORE and not placed by FaceMesh needs skin-coloured pixels in the core of its box (its central
# 60%), at least _SKIN_SHARE of them, or _SKIN_SHARE_DOUBTED where FaceMesh found no face on a face its
# size or the five landmarks fit no face; a region with under _MIN_CHROMA grey levels of colour (a grey
# photo, a colourless light) cannot be judged by its colour and is painted.
_DOUBT_SCORE = 0.3
_SKIN_SHARE = 0.02
_SKIN_SHARE_DOUBTED = 0.1
_MIN_CHROMA = 8.0


@dataclass(frozen=True)
class Replacement:
    """What :meth:`Synthesize.replace` did.

    Attributes:
        image: the new image.
        donors: one entry per input face: ``"synthetic"`` (built-in donor),
            ``"pool"`` (a :class:`DonorPool` mix), ``"k-same"`` (a :class:`KSamePool` average), ``"fallback"`` (the fallback
            redaction was applied) or ``"off-image"`` (nothing to do).
        reasons: per face, why it fell back (``""`` otherwise).
        placed: per face, what the synthetic face was placed by: ``"mesh"``
            (FaceMesh: pose and expression), ``"landmarks"`` (the detector's
            five landmarks: pose), ``"box"`` (the detector's box), or ``""``
            (fell back, or off the image).
    """

    image: np.ndarray = field(repr=False)
    donors: tuple[str, ...]
    reasons: tuple[str, ...]
    placed: tuple[str, ...] = ()

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
        min_size: faces at least this wide and high (pixels) are placed by
            FaceMesh (pose and expression); smaller ones, and faces FaceMesh
            does not find, by the detector's five landmarks, or its box
            (pose only; eyes open, lips closed). Only faces under 4 px fall
            back.
        max_yaw: faces whose FaceMesh says they are turned further than this
            (degrees) fall back.
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

    def __getstate__(self) -> dict:
        # what was loaded or painted on first need (the mesher, reused donors) is rebuilt where it is unpickled
        return {**self.__dict__, "_loaded": {}}

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
        return Redacted(done.image, fell_back=done.fell_back, donors=done.donors)

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
        placed: list[str] = []
        for index, face in enumerate(faces):
            placement, reason = self._placement(face)
            by_mesh = placement is not None and placement.source == "mesh"
            regions = self._region(face, width=width, height=height, by_mesh=by_mesh)
            if not regions:
                donors.append("off-image")
                reasons.append("")
                placed.append("")
                continue
            if placement is None:
                donors.append("fallback")
                reasons.append(reason)
                placed.append("")
                continue
            doubt = self._implausible(rgb, face, placement)
            if doubt:  # fail closed: it gets the fallback redaction, never nothing
                donors.append("fallback")
                reasons.append(doubt)
                placed.append("")
                continue
            window, allowed = regions[0]
            rng = K.noise_rng(self.seed, index, rgb[face.box.to_slices(width=width, height=height)])
            donor, reason, layer, near = self._one(rgb, placement, window, allowed, rng)
            placed.append(placement.source if layer is not None else "")
            if self.context == "fill":
                _fill_context(out, window, allowed, face.box.width, rng, layer, near)
            elif not isinstance(self.context, str) and self.context > 0:  # a number (checked in __post_init__)
                _blur_context(out, window, allowed, self.context * face.box.width, rng, near)
            if layer is not None:
                K.composite(out, window, *layer)
            donors.append(donor)
            reasons.append(reason)
        result = _from_rgb(out, image)
        fell_back = [faces[i] for i, d in enumerate(donors) if d == "fallback"]
        if fell_back:
            result = self.effective_fallback.redact(result, fell_back).image
        return Replacement(result, tuple(donors), tuple(reasons), tuple(placed))

    # ------------------------------------------------------------------ steps

    def _region(
        self, face: Face, *, width: int, height: int, by_mesh: bool
    ) -> list[tuple[tuple[slice, slice], np.ndarray]]:
        """The region that may change: the ``shape`` region, with ``mesh_region`` also the grown mesh outline.

        The mesh outline counts only for a face placed by its mesh (``by_mesh``).
        """
        regions = face_masks([face], width=width, height=height, shape=self.shape, grow=self.grow, feather=self.feather)
        if not (self.mesh_region and by_mesh and regions and self.shape != "outline"):
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

    def _placement(self, face: Face) -> tuple[Placement | None, str]:
        """Where the donor goes on this face (see :func:`._place.place`), or ``None`` and why it falls back."""
        if face.box.width < _MIN_FACE or face.box.height < _MIN_FACE:
            return None, f"smaller than {_MIN_FACE:g} px"
        return place(face, min_size=self.min_size, max_yaw=self.max_yaw)

    def _implausible(self, image: np.ndarray, face: Face, placement: Placement) -> str:
        """Why a detection is not plausibly a face to paint a new face on, or ``""``.

        A detection scored under ``_DOUBT_SCORE`` that FaceMesh did not
        place is doubted: it is painted only when the core of its box (the
        central 60%) holds skin-coloured pixels, at least ``_SKIN_SHARE`` of
        them, or ``_SKIN_SHARE_DOUBTED`` when there is more against it
        (FaceMesh found no face on a face at least ``min_size`` wide, or its
        five landmarks fit no face and it was placed by its box). Foliage,
        feathers, a sign, a shirt or hair that a detector scores low get
        the fallback redaction instead of a painted face. A core with under
        ``_MIN_CHROMA`` grey levels of colour (a grey photo) cannot be
        judged by its colour and is painted. (Measured on 60 wider-dev
        photos, docs/synthetic.md: none of the detections matching a
        labelled face is doubted, 105 of the 2,727 detections are.)
        """
        if face.score >= _DOUBT_SCORE or placement.source == "mesh":
            return ""
        height, width = image.shape[:2]
        core = image[face.box.expanded(0.6).to_slices(width=width, height=height)]
        if core.size == 0:
            return ""
        pixels = core.reshape(-1, 3).astype(np.float32)
        if float(np.abs(pixels - pixels.mean(axis=1, keepdims=True)).mean()) < _MIN_CHROMA:
            return ""
        share = float(_skin_coloured(core).mean())
        big = face.box.width >= self.min_size and face.box.height >= self.min_size
        against = "FaceMesh finds no face" if big else "its landmarks fit no face" if placement.source == "box" else ""
        if share >= (_SKIN_SHARE_DOUBTED if against else _SKIN_SHARE):
            return ""
        more = f", {against}" if against else ""
        return f"not plausibly a face: score {face.score:.2f}, {share:.0%} skin-coloured pixels{more}"

    def _mixed(self, image: np.ndarray, placement: Placement, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
        """A :class:`DonorPool`'s new face for this one, ``(texture, shape)``; ``None`` without a pool, or too few faces in it."""
        if not isinstance(self.donor, DonorPool):
            return None
        try:
            return self.donor.mix(image, placement.points, rng)
        except ValueError:
            return None  # documented: fewer than k + 1 faces in the pool -> built-in donor (reported in donors)

    def _texture(
        self, image: np.ndarray, placement: Placement, tone: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, str]:
        """The built-in or k-Same donor texture in template space (any side; the template scales with it) and its name."""
        if self.donor is not None:
            try:
                return self.donor.texture(image, placement.points, rng), self.donor.label
            except ValueError:
                pass  # documented: fewer than k + 1 faces in the pool -> built-in donor (reported in donors)
        if placement.source != "mesh":
            return self._stock_donor(int(rng.integers(_STOCK_DONORS)), tone), "synthetic"
        return render_donor(rng, tone=tone), "synthetic"

    def _stock_donor(self, which: int, tone: np.ndarray) -> np.ndarray:
        """Built-in donor ``which`` painted in the stock skin tone nearest ``tone``, at half the template size.

        For faces placed without a mesh (small in the photo): painting a
        donor per face would cost more than the rest of the replacement, and
        at these sizes a few painted faces, each warped onto its own random
        shape and pose, do not repeat visibly. There are ``_STOCK_DONORS``
        per stock tone (``_STOCK_TONES``, nearest by brightness; the
        per-channel gain then matches the face's own tone), each seeded by
        ``seed``, ``which`` and the tone, so the output does not depend on
        the order faces come in; painted once per ``Synthesize`` object.
        """
        import cv2

        level = int(np.argmin(np.abs(_STOCK_TONES.mean(axis=1) - float(np.mean(tone)))))
        stock = self._loaded.setdefault("stock", {})
        if (which, level) not in stock:
            painted = render_donor(np.random.default_rng([self.seed, which, level]), tone=_STOCK_TONES[level])
            stock[which, level] = cv2.resize(painted, (SIZE // 2, SIZE // 2), interpolation=cv2.INTER_AREA)
        return stock[which, level]

    def _one(
        self,
        image: np.ndarray,
        placement: Placement,
        window: tuple[slice, slice],
        allowed: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[str, str, tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
        """Synthesise one face at ``placement``: ``(donor, reason, (alpha, content), near)``.

        The layer is window-sized, alpha 0 outside ``allowed``; it is ``None``
        when the face falls back. ``near`` (window-sized, 0..1) is where the
        context may be filled: for a face placed by its mesh or its
        landmarks, both face outlines (the original's and the replacement's)
        grown by ``_CONTEXT_REACH`` face widths and fading out over
        ``_CONTEXT_SOFT`` more; ``None`` (all of the region) for a face
        placed by its box, whose own outline is not known.
        """
        import cv2

        original = np.asarray(placement.points, dtype=np.float64)
        mixed = self._mixed(image, placement, rng)  # a donor pool's new face: (texture, shape), or None
        target, pose = target_geometry(original, identity=self.identity, rng=rng, variation=self.variation, shape=mixed and mixed[1])
        # work inside the allowed window, at a bounded resolution
        rows, cols = window
        oy, ox = rows.start, cols.start
        h, w = rows.stop - rows.start, cols.stop - cols.start
        face_width = 2 * pose.scale
        # large faces are drawn at _WORK_WIDTH, small ones at _MIN_WORK_WIDTH, then resized to the photo
        scale = min(1.0, _WORK_WIDTH / max(face_width, 1.0))
        scale = max(scale, min(_MIN_WORK_WIDTH / max(face_width, 1.0), _MAX_UPSCALE))
        wh, ww = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
        sx, sy = ww / w, wh / h
        to_work = lambda p: (p - [ox, oy]) * [sx, sy]  # noqa: E731
        crop = image[rows, cols].astype(np.float32) / 255.0  # colour statistics from the original
        work = _resized(crop, ww, wh)
        p_work, q_work = to_work(original), to_work(target)
        skin_o = skin_mask((wh, ww), p_work)
        tone, skin_like = _original_tone(work, skin_o)
        texture, donor = (mixed[0], DonorPool.label) if mixed is not None else self._texture(image, placement, tone / _SHADE, rng)
        t = template_points() * (texture.shape[0] / SIZE)
        # a face placed without its mesh is small: its features' contours are enough to warp by
        pick = list(range(len(t))) if placement.source == "mesh" else _contour_points()
        try:
            warped, cover = piecewise_warp(
                texture, np.vstack([t[pick], ring(t)]), np.vstack([q_work[pick], ring(q_work)]), (wh, ww)
            )
        except Exception as exc:  # scipy's Qhull rejects degenerate point sets
            if type(exc).__name__ != "QhullError":
                raise
            return "fallback", "landmarks too degenerate to triangulate", None, None
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
        outline = polygon_mask((wh, ww), [cv2.convexHull(q_work[list(FACE_OVAL)].astype(np.float32))[:, 0, :]])
        alpha, known = _face_alpha(outline, cover, _resized(allowed, ww, wh), fw)
        known &= skin_like
        if face_width >= _MIN_LIGHT_WIDTH:  # a face of a few pixels has no light gradient to match: the gain did
            # (a face smaller in the photo than the membrane's grid needs no finer light than its own pixels)
            content = content + _membrane(work - content, ~known, fw, across=min(_GRID, face_width))
        content = np.clip(content, 0.0, 1.0)
        if scale < 1.0:
            content = cv2.resize(content, (w, h), interpolation=cv2.INTER_CUBIC)
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        elif scale > 1.0:
            content, alpha = _resized(content, w, h), _resized(alpha, w, h)
        alpha = np.clip(alpha, 0.0, 1.0) * allowed
        near = None
        if placement.source != "box":  # the face's own outline is known: from its mesh, or posed on its landmarks
            near = _resized(_near(outline, p_work, fw), w, h)
        return donor, "", (alpha.astype(np.float32), (content * 255.0).astype(np.float32)), near


def _face_alpha(
    outline: np.ndarray, cover: np.ndarray, allowed: np.ndarray, face_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Where the new face goes (alpha), and the band along its outline whose original skin the light is matched on.

    The face covers the replacement's own outline (the reference's, not the
    original's jaw line) where the donor and the allowed region reach, less
    a band ``_BAND`` face widths wide along the outline, feathered inwards
    over ``_EDGE``: the light is matched on the original's skin in that
    band, as Poisson blending does, and the context fill covers it. (A face
    drawn over the band too carries the original's band back, smoothed
    only to the membrane's grid: measured, dlib then links the replaced
    faces, AUC 0.64 instead of 0.54.)
    """
    import cv2

    soft = max(_EDGE * face_width, 0.7)
    inset = int(math.ceil(1.5 * soft + _BAND * face_width))
    region = cv2.erode(outline, np.ones((2 * inset + 1, 2 * inset + 1), np.uint8))
    alpha = np.clip(_blur(region, soft) * 2.0, 0.0, 1.0) * cover * (allowed >= 0.999)
    return alpha, (outline > 0.5) & (alpha <= 0.02)


@functools.cache
def _contour_points() -> list[int]:
    """The FaceMesh points of the face's and the features' contours, the irises' centres and the nose's ridge."""
    nose = (1, 2, 4, 5, 6, 168, 195, 197, 98, 327, 64, 294, 48, 278)
    parts = (FACE_OVAL, LIPS_OUTER, LIPS_INNER, RIGHT_EYE, LEFT_EYE, RIGHT_BROW, LEFT_BROW, (468, 473), nose)
    return sorted({i for part in parts for i in part})


def _near(outline: np.ndarray, original: np.ndarray, face_width: float) -> np.ndarray:
    """Where the context is filled: 1 level with the face and above it; below the chin only near the face outlines.

    Level with the chin and above it (the hair line, the ears, the sides of
    the head: what a recogniser links faces by), all of the region. Below
    it, within ``_CONTEXT_REACH`` face widths of either face outline
    (``outline``, and ``original``'s hull: the original's jaw line),
    fading out over ``_CONTEXT_SOFT`` more: the neck farther down and the
    collar stay the photo's own, rather than their colour being carried
    up under the chin.
    """
    import cv2

    oval = original[list(FACE_OVAL)]
    up = original[10] - original[152]  # chin to forehead top
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    hull = cv2.convexHull(oval.astype(np.float32))
    both = np.maximum(outline, polygon_mask((outline.shape[0], outline.shape[1]), [hull[:, 0, :]])) > 0.5
    distance = cv2.distanceTransform((~both).astype(np.uint8), cv2.DIST_L2, 3)
    reach, soft = _CONTEXT_REACH * face_width, max(_CONTEXT_SOFT * face_width, 1.0)
    near = np.clip((reach + soft - distance) / soft, 0.0, 1.0)
    ys, xs = np.mgrid[0 : outline.shape[0], 0 : outline.shape[1]] + 0.5
    along = (xs - original[152, 0]) * up[0] + (ys - original[152, 1]) * up[1]  # above the chin: > 0
    level = np.clip((along + reach + soft) / soft, 0.0, 1.0)
    return np.maximum(near, level).astype(np.float32)


def _resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` resized to ``width`` x ``height`` (area-averaged down, linear up; the same array when equal)."""
    import cv2

    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrink = width < image.shape[1]
    out = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out.reshape(height, width, *image.shape[2:])


def _fill_context(
    out: np.ndarray,
    window: tuple[slice, slice],
    allowed: np.ndarray,
    face_width: float,
    rng: np.random.Generator,
    layer: tuple[np.ndarray, np.ndarray] | None = None,
    near: np.ndarray | None = None,
) -> None:
    """Fill ``out`` inside ``allowed`` (and ``near``) smoothly from the colours at its edge (in place), fading in.

    A harmonic membrane of the pixels just outside the region and, when the
    synthetic face's ``(alpha, content)`` layer is given, of the face itself
    (where it is fully opaque): the fill runs from the new face's skin to
    the colours around the region, so the forehead fades into the hair and
    the chin into the neck, without a halo of the surroundings' colour at
    the face's edge. The hair line, ears and jaw line inside the region
    leave no trace. Grain of ``_FILL_NOISE`` grey levels is added. Where
    ``near`` is given, only there (fading out with it): the fill runs from
    the new face to the photo's own pixels beyond it.
    """
    import cv2

    inside = (allowed >= 0.999).astype(np.uint8)
    if not inside.any():
        return
    crop = out[window].astype(np.float32)
    unknown = inside > 0
    if near is not None:
        unknown &= near > 0
    if layer is not None:
        alpha, content = layer
        solid = alpha >= 0.98
        crop[solid] = content[solid]
        unknown &= ~solid
    fill = _harmonic_fill(crop, unknown, face_width)
    # grain as fine as the photo's around the filled part (hair, skin, cloth), so it is not a haze
    fine = crop - _blur(crop, 1.0).reshape(crop.shape)
    around = ~unknown & (cv2.dilate(unknown.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    level = 1.4826 * float(np.median(np.abs(fine[around]))) if around.sum() > 16 else 0.0  # robust std: edges aside
    level = min(max(level, _FILL_NOISE), _FILL_NOISE_MAX)
    grain = _blur(rng.standard_normal(size=fill.shape[:2], dtype=np.float32), 0.6)  # grey: luminance grain
    fill += (grain * np.float32(level / max(float(grain.std()), 1e-6)))[:, :, None]
    _fade_in(out, window, allowed, inside, fill, near)


def _harmonic_fill(image: np.ndarray, unknown: np.ndarray, face_width: float) -> np.ndarray:
    """``image`` (float, channels last) with ``unknown`` filled by the harmonic interpolation of the pixels around it.

    Without any known pixel, the window's mean colour.
    """
    import cv2

    h, w = unknown.shape
    small = _harmonic(image, unknown, face_width, threshold=0.01)
    if small is None:
        return np.broadcast_to(image.reshape(-1, image.shape[2]).mean(axis=0), image.shape).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, -1).astype(np.float32)


def _harmonic(
    image: np.ndarray, unknown: np.ndarray, face_width: float, *, threshold: float, across: float = _GRID
) -> np.ndarray | None:
    """The harmonic fill of ``image`` over ``unknown`` from the values around it, on a small grid.

    Solved on a grid about ``across`` px across the face (Laplace's equation
    on the unknown cells, the known ones as its boundary, the window's edge
    reflecting: one sparse solve); a grid pixel is unknown when more than
    ``threshold`` of it is. Returns the small ``(rows, cols, channels)``
    grid, or ``None`` when no pixel is unknown or none is known.
    """
    import cv2

    h, w = unknown.shape
    f = min(1.0, across / max(face_width, 1.0))
    sh, sw = max(int(round(h * f)), 3), max(int(round(w * f)), 3)
    small = cv2.resize(image.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA).reshape(sh, sw, -1)
    unk = cv2.resize(unknown.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > threshold
    if not unk.any() or unk.all():
        return None
    return _solve_laplace(small.astype(np.float64), unk).astype(np.float32)


def _solve_laplace(values: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """``values`` (rows, cols, channels) with the ``unknown`` cells replaced by the harmonic interpolation of the rest.

    Each unknown cell is the mean of its four neighbours (a neighbour past
    the grid's edge is the cell itself); a weak pull (1e-6) towards the
    known cells' mean keeps a region that touches no known cell defined.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    rows, cols = unknown.shape
    number = np.full(unknown.shape, -1, np.int64)
    ys, xs = np.nonzero(unknown)
    n = len(ys)
    number[ys, xs] = np.arange(n)
    flat = values.reshape(rows, cols, -1)
    diagonal = np.full(n, 1e-6)
    rhs = np.repeat(flat[~unknown].mean(axis=0)[None, :] * 1e-6, n, axis=0)
    i_list, j_list = [], []
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < rows) & (nx >= 0) & (nx < cols)
        diagonal += inside  # a neighbour past the edge is the cell itself: it cancels out
        ny, nx = ny[inside], nx[inside]
        here = np.nonzero(inside)[0]
        other = number[ny, nx]
        free = other >= 0
        i_list.append(here[free])
        j_list.append(other[free])
        np.add.at(rhs, here[~free], flat[ny[~free], nx[~free]])
    i = np.concatenate([np.arange(n), *i_list])
    j = np.concatenate([np.arange(n), *j_list])
    v = np.concatenate([diagonal, -np.ones(len(i) - n)])
    matrix = coo_matrix((v, (i, j)), shape=(n, n)).tocsc()
    solved = spsolve(matrix, rhs).reshape(n, -1)
    out = flat.copy()
    out[ys, xs] = solved
    return out


def _fade_in(
    out: np.ndarray,
    window: tuple[slice, slice],
    allowed: np.ndarray,
    inside: np.ndarray,
    content: np.ndarray,
    near: np.ndarray | None = None,
) -> None:
    """Composite ``content`` over ``out`` inside ``allowed``, fading in over a tenth of the region from its edge.

    And, where ``near`` is given, in the proportion it gives.
    """
    import cv2

    depth = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    ramp = np.clip(depth / max(_CONTEXT_RAMP * max(inside.shape), 1e-6), 0.0, 1.0).astype(np.float32)
    weight = ramp * (allowed >= 0.999)
    K.composite(out, window, weight if near is None else weight * near, content)


def _blur_context(
    out: np.ndarray,
    window: tuple[slice, slice],
    allowed: np.ndarray,
    sigma_px: float,
    rng: np.random.Generator,
    near: np.ndarray | None = None,
) -> None:
    """Blur ``out`` inside ``allowed`` (and ``near``, see :func:`_fill_context`; in place), fading in from its edge."""
    inside = (allowed >= 0.999).astype(np.uint8)
    if not inside.any():
        return
    content = K.blur_region(out, window, max(sigma_px, 0.5), _FILL_NOISE, rng)
    _fade_in(out, window, allowed, inside, content, near)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def _skin_tone(colour: np.ndarray) -> np.ndarray:
    """``colour`` if it can be a skin's (red >= green >= blue, give or take), else the stock tone of its brightness.

    A face placed by a stray detection or off the face (a hat, a shirt, a
    sign) would otherwise be painted blue or green.
    """
    r, g, b = (float(c) for c in colour)
    if r >= 0.95 * g and g >= 0.8 * b:
        return colour
    brightness = float(np.mean(colour))
    stock = _STOCK_TONES[int(np.argmin(np.abs(_STOCK_TONES.mean(axis=1) - brightness)))]
    return np.clip(stock * brightness / float(stock.mean()), 0.0, 1.0).astype(colour.dtype)


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


def _original_tone(work: np.ndarray, skin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The original's mean skin colour over its skin-coloured pixels (:func:`_skin_tone`), and where those are.

    Over all of ``skin`` when under a quarter of it is skin-coloured.
    """
    like = _skin_like(work, skin)
    counted = skin * like if (skin * like).sum() >= 0.25 * skin.sum() else skin
    return _skin_tone(_mean(work, counted)), like


def _skin_coloured(image: np.ndarray) -> np.ndarray:
    """Where ``image`` (uint8 RGB) has a colour human skin can have, whoever's: a fixed range of YCrCb.

    Chrominance Cr 133-180 and Cb 77-135 (the skin range of Chai and Ngan,
    1999, widened a little: it holds dark and light skin alike), luma over
    30. Unlike :func:`_skin_like` it is not relative to a face: it asks
    whether a region has any skin at all.
    """
    import cv2

    ycc = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycc[:, :, 0], ycc[:, :, 1], ycc[:, :, 2]
    return (cr >= 133) & (cr <= 180) & (cb >= 77) & (cb <= 135) & (y > 30)


def _skin_like(image: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Pixels whose colour is close to the face's skin (hair, background, clothes, a white cap are not).

    Close in chromaticity (the red and green shares of the colour: a white
    or grey cap, cloth or sky is not skin, however bright) to the median of
    ``skin``, within twice its 40th percentile distance (about 87% of a
    Gaussian spread of skin colours, however much else ``skin`` holds), and
    within half to 1.5 times its median brightness. (Until this version: a
    colour distance within 1.5 times the 75th percentile, which let a white
    cap brim or collar in where the face's skin region reached them, and
    the face was toned and lit towards white.)
    """
    inside = skin > 0.5
    if inside.sum() < 16:
        return np.ones(image.shape[:2], dtype=bool)
    total = image.sum(axis=2) + 1e-3
    chroma = image[:, :, :2] / total[:, :, None]
    centre = np.median(chroma[inside], axis=0)
    distance = np.linalg.norm(chroma - centre, axis=2)
    spread = float(np.percentile(distance[inside], 40))  # the skin's own spread, whatever else is in the region
    luma = total / 3.0
    level = float(np.median(luma[inside]))
    return (distance <= max(2.0 * spread, _SKIN_CHROMA)) & (luma >= 0.5 * level) & (luma <= 1.5 * level + 0.02)


def _membrane(difference: np.ndarray, unknown: np.ndarray, face_width: float, *, across: float = _GRID) -> np.ndarray:
    """The smooth (harmonic) fill of ``difference`` over ``unknown`` from its values around it.

    Outside ``unknown`` it equals a lightly smoothed ``difference``; each
    value is clipped to the largest lighting correction. Zero when there is
    nothing to fill or no edge to match (the whole window is face: keep the
    global tone).
    """
    import cv2

    h, w = unknown.shape
    small = _harmonic(difference, unknown, face_width, threshold=0.5, across=across)
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

