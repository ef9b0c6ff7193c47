"""A donor learnt from the release itself: mixes of many of its faces that are nobody's face.

:class:`DonorPool` keeps a bounded sample of a batch's faces, aligned to the
template (in memory only): each face's texture and its own shape (where its
features and outline lie, its expression taken off). Each replaced face gets
a new texture's brightness and a new shape, each a weighted sum of the ``n``
eligible pool faces (never a face of the same image, never the pool face
nearest the one replaced):

    new = sum_j w_j face_j,  w_j = 1/n + d_j,  |w_j| <= 1/k,  sum_j w_j = 1

where ``d`` is a draw from the Gaussian model of the eligible faces along
their ``_RANK`` main directions (what sampling a PCA model gives, at the
faces' own variance) plus a signed mix of ``k**2 / 2`` faces at half weight
(detail), scaled down as a whole wherever a weight would pass ``1/k``
(:func:`capped_weights`). No replacement carries more than a ``1/k`` share of
any real face (in its texture or its shape), and none of its own; the main
directions are found from the eligible faces alone. Two fixed filters, which
no face's weight can grow through, make the texture look like a photograph:
the mix changes brightness only (the mean's colours are kept; signed sums of
colours are blotchy), and its broad part (patches of light and shade) is
kept at 30%. See ``docs/synthetic.md`` for the argument and the
measurements.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._geometry import Face
from ._donor import SIZE, align_to_template, mean_face, shape_deviation
from ._warp import fit_pose

__all__ = ["DonorPool", "aligned_faces", "capped_weights", "image_digest", "mix_weights"]

_FEATURE = 32  # side of the grey textures compared to find a face's nearest pool face
_MAX_TURN = 30.0  # faces turned more than this (yaw or pitch, degrees) are not pooled
_MAX_FIT_ERROR = 0.05  # nor faces whose FaceMesh points fit a face shape worse than this (face widths)
_LIGHT = 0.25  # lighting is taken off each pooled face with a blur of this share of the template
_BROAD_SIGMA = 1 / 16  # the mix's broad part: a blur of this share of the template
_BROAD = 0.3  # share of the mix's broad part kept
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_RANK = 20  # a mix draws from the pool's Gaussian model along this many main directions (each at its full variance) ...
_SIGNED = 0.5  # ... plus a signed mix of k**2 / 2 faces (detail), at this share
_SHAPES = True  # the replacement's shape is a mix of the pool's shapes too
_KNOWN = 64  # main directions kept for this many sets of eligible faces


def image_digest(image: np.ndarray) -> str:
    """A short digest of an image's pixels: faces of one image are never mixed into each other's replacements."""
    rgb = np.ascontiguousarray(np.asarray(image)[..., :3]) if np.ndim(image) == 3 else np.ascontiguousarray(image)
    return hashlib.blake2b(rgb.tobytes(), digest_size=12).hexdigest()


def aligned_faces(
    image: np.ndarray, faces: Sequence[Face], *, size: int, min_width: float
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(index, texture, shape)`` of each face of ``image`` fit for a pool.

    ``texture``: the face aligned to the template, ``uint8 (size, size, 3)``;
    ``shape``: its own shape, ``float32 (478, 2)`` (:func:`._donor.shape_deviation`).

    A face is fit when it has 478 FaceMesh points, its box is at least
    ``min_width`` pixels wide, it is turned at most 30 degrees and its points
    fit a face shape. Its lighting is taken off (divided by a wide blur of
    itself, times the blur's mean), so that mixes of faces lit from different
    sides are not blotchy; the light of the replaced face is matched later.
    """
    import cv2

    out = []
    for index, face in enumerate(faces):
        mesh = face.mesh
        if mesh is None or len(mesh) != 478 or not np.isfinite(mesh).all() or face.box.width < min_width:
            continue
        pose = fit_pose(mesh, mean_face())
        if abs(pose.yaw) > _MAX_TURN or abs(pose.pitch) > _MAX_TURN or pose.error > _MAX_FIT_ERROR:
            continue
        texture = align_to_template(image, mesh)
        small = cv2.resize(texture, (size, size), interpolation=cv2.INTER_AREA)
        sigma = _LIGHT * size
        light = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
        flat = small / np.maximum(light, 1e-3) * light.reshape(-1, 3).mean(axis=0)
        texture = np.clip(np.rint(flat * 255.0), 0, 255).astype(np.uint8)
        out.append((index, texture, shape_deviation(mesh).astype(np.float32)))
    return out


@dataclass(eq=False)
class DonorPool:
    """Faces of a batch (a bounded sample, in memory only), mixed into replacement faces that belong to nobody.

    Pass it as ``Synthesize(donor=pool)``; batch runs with ``method="synthetic"``
    build one by default in a first pass over a sample of their images (see
    ``docs/synthetic.md``). Each replacement's texture and shape are the mean
    of the eligible pool faces plus a random draw from their appearance
    model and a signed mix of ``k**2 / 2`` of them; every real face weighs at
    most ``1/k`` in either, and faces of the image being redacted (and the
    pool face most like the face replaced) are left out, so no replaced face
    carries any of its own.

    Args:
        k: the privacy parameter: no real face weighs more than ``1/k`` in a
            replacement (>= 2; default 10). Faces count, not people: a person
            with ``p`` photos in the pool may weigh up to ``p/k``.
        capacity: at most this many faces are kept (default 400): when more
            are offered, those with the smallest keys (a seeded hash) stay, so
            the sample does not depend on the order they came in.
        size: side of the aligned textures (pixels, 32..256; default 128).
        seed: seeds the sample's keys.
        min_width: faces narrower than this (box, pixels) are not pooled (a
            small face is a blur of a face).

    With fewer than ``k + 1`` eligible faces :meth:`texture` raises
    ``ValueError`` and :class:`Synthesize` uses the built-in donor for that face
    (``Replacement.donors`` says ``"synthetic"``). Nothing is written to disk;
    call :meth:`clear` (or drop the pool) when the batch is done.
    """

    k: int = 10
    capacity: int = 400
    size: int = 128
    seed: int = 0
    min_width: float = 48.0
    _heap: list[tuple[int, int, str, np.ndarray, np.ndarray]] = field(default_factory=list, init=False, repr=False)
    _count: int = field(default=0, init=False, repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    label = "pool"  # what Replacement.donors says for a face this donor replaced

    def __post_init__(self) -> None:
        for name, low in (("k", 2), ("capacity", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.size, (int, np.integer)) or not 32 <= self.size <= SIZE:
            raise ValueError(f"size must be an integer in 32..{SIZE}, got {self.size!r}")
        if not isinstance(self.min_width, (int, float)) or not self.min_width >= 0:
            raise ValueError(f"min_width must be a number >= 0, got {self.min_width!r}")

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def offered(self) -> int:
        """Faces offered to the pool so far (kept or not)."""
        return self._count

    def key(self, name: str, index: int) -> int:
        """The sampling key of face ``index`` of the image called ``name`` (smallest keys stay)."""
        digest = hashlib.blake2b(f"{self.seed}\0{name}\0{index}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def add(self, image: np.ndarray, faces: Sequence[Face], *, name: str | None = None) -> int:
        """Offer every face of ``image`` fit for the pool (FaceMesh points set); return how many were fit.

        ``name`` (default: a digest of the pixels) keys the sample.
        """
        origin = image_digest(image)
        found = aligned_faces(image, faces, size=self.size, min_width=self.min_width)
        for index, texture, shape in found:
            self.keep(texture, shape, origin=origin, key=self.key(name or origin, index))
        return len(found)

    def keep(self, texture: np.ndarray, shape: np.ndarray, *, origin: str, key: int) -> None:
        """Offer one face of the image ``origin`` as :func:`aligned_faces` gives it: ``uint8 (size, size, 3)`` texture, ``(478, 2)`` shape."""
        texture = np.asarray(texture)
        if texture.shape != (self.size, self.size, 3) or texture.dtype != np.uint8:
            raise ValueError(f"texture must be uint8 of shape {(self.size, self.size, 3)}, got {texture.dtype} {texture.shape}")
        shape = np.asarray(shape, dtype=np.float32)
        if shape.shape != (478, 2) or not np.isfinite(shape).all():
            raise ValueError(f"shape must be 478 finite (x, y) points, got {shape.shape}")
        self._count += 1
        item = (-key, self._count, origin, texture, shape)  # a max-heap of keys: the largest is dropped first
        if len(self._heap) < self.capacity:
            heapq.heappush(self._heap, item)
        elif -key > self._heap[0][0]:
            heapq.heapreplace(self._heap, item)
        self._cache.clear()

    def clear(self) -> None:
        """Forget every face."""
        self._heap.clear()
        self._cache.clear()
        self._count = 0

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def _faces(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        """The kept faces in key order: float32 ``(n, size, size, 3)``, their origins, their grey features."""
        import cv2

        if "faces" not in self._cache:
            items = sorted(self._heap, key=lambda item: (-item[0], item[2]))
            stack = np.stack([item[3] for item in items]).astype(np.float32) / 255.0 if items else np.zeros((0, self.size, self.size, 3), np.float32)
            small = [cv2.resize(t, (_FEATURE, _FEATURE), interpolation=cv2.INTER_AREA).mean(axis=2).ravel() for t in stack]
            feats = _standardise(np.stack(small)) if small else np.zeros((0, _FEATURE * _FEATURE), np.float32)
            self._cache["faces"] = (stack, [item[2] for item in items], feats)
            self._cache["shapes"] = np.stack([item[4] for item in items]) if items else np.zeros((0, 478, 2), np.float32)
        return self._cache["faces"]

    def _total(self) -> np.ndarray:
        """The sum of every kept face (cached)."""
        if "total" not in self._cache:
            self._cache["total"] = self._faces()[0].sum(axis=0)
        return self._cache["total"]

    def _model(self, what: str) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, gram)``: the kept faces' brightness (``"luma"``) or shapes (``"shape"``) as rows, and their products."""
        if what not in self._cache:
            stack = self._faces()[0]
            rows = (stack @ _LUMA).reshape(len(stack), -1) if what == "luma" else self._cache["shapes"].reshape(len(stack), -1)
            self._cache[what] = (rows, rows.astype(np.float64) @ rows.T.astype(np.float64))
        return self._cache[what]

    def _draw(self, what: str, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A new face's brightness or shape (see :meth:`_model`): a weighted sum of the eligible faces' rows.

        The weights (:func:`capped_weights`) are ``1/n`` (the mean) plus a draw
        from the Gaussian model of the eligible faces along their ``_RANK``
        main directions (each at its full variance; found from the eligible
        faces alone, so a face left out has no say in them), plus a signed
        mix of :func:`mix_weights` at ``_SIGNED``; then scaled down where
        needed so that none is over ``1/k`` in size.
        """
        rows, gram = self._model(what)
        index = np.flatnonzero(eligible)
        n = len(index)
        key = (what, eligible.tobytes())  # faces of one image often leave out the same faces: reuse the directions
        known = self._cache.setdefault("components", {})
        if key not in known:
            if len(known) >= _KNOWN:
                known.pop(next(iter(known)))
            known[key] = _components(gram[np.ix_(index, index)], _RANK)
        components = known[key]
        spread = components @ rng.standard_normal(components.shape[1]) / math.sqrt(n)
        chosen, offsets = mix_weights(n, self.k, rng)
        spread[chosen] += _SIGNED * offsets
        weights = capped_weights(spread, self.k)
        drawn = weights.astype(np.float32) @ rows[index]
        return drawn.reshape((self.size, self.size) if what == "luma" else (478, 2))

    def fingerprint(self) -> str:
        """The settings and a hash of the faces held: equal exactly when the pool gives equal replacements.

        An empty pool (what a batch run fills in its first pass) is named by
        its settings alone: the recipe of the pool the run builds.
        """
        recipe = f"k={self.k!r}, capacity={self.capacity!r}, size={self.size!r}, seed={self.seed!r}, min_width={self.min_width!r}"
        if not self._heap:
            return f"DonorPool({recipe})"
        stack, origins, _ = self._faces()
        digest = hashlib.sha256(np.ascontiguousarray(stack).tobytes())
        digest.update("\0".join(origins).encode())
        return f"DonorPool({recipe}, faces={len(origins)}:{digest.hexdigest()[:16]})"

    def texture(self, image: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The texture of :meth:`mix` alone."""
        return self.mix(image, mesh, rng)[0]

    def mix(self, image: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A new face for the face of ``image`` whose FaceMesh points are ``mesh``: ``(texture, shape)``.

        ``texture``: ``float32 (SIZE, SIZE, 3)`` in template space; ``shape``:
        ``(478, 2)``, how its points differ from the reference shape (for
        :func:`._donor.target_geometry`). Raises ``ValueError`` when fewer
        than ``k + 1`` pool faces are eligible (faces of other images, less
        the one nearest this face).
        """
        import cv2

        stack, origins, feats = self._faces()
        origin = image_digest(image)
        eligible = np.array([o != origin for o in origins], dtype=bool)
        if eligible.any() and mesh is not None:
            probe = cv2.resize(align_to_template(image, mesh), (_FEATURE, _FEATURE), interpolation=cv2.INTER_AREA)
            dist = ((feats - _standardise(probe.mean(axis=2).ravel()[None])) ** 2).sum(axis=1)
            dist[~eligible] = np.inf
            eligible[int(np.argmin(dist))] = False  # the same face, aligned a little differently, perhaps
        n = int(eligible.sum())
        if n < self.k + 1:
            raise ValueError(
                f"the donor pool has {n} faces to mix for this face, fewer than k + 1 = {self.k + 1} "
                f"({len(origins)} held, those of this image and the nearest one left out)"
            )
        mean = (self._total() - stack[~eligible].sum(axis=0)) / n
        # the mix changes brightness only (the mean's colours kept): signed sums of colours are blotchy
        deviation = self._draw("luma", eligible, rng) - mean @ _LUMA
        # and mostly in its detail: broad patches of light and shade (half-lit faces) are kept at _BROAD
        broad = cv2.GaussianBlur(deviation, (0, 0), sigmaX=_BROAD_SIGMA * self.size)
        deviation = deviation - broad * (1.0 - _BROAD)
        mix = mean * (1.0 + deviation / np.maximum(mean @ _LUMA, 1e-3))[:, :, None]
        out = cv2.resize(np.clip(mix, 0.0, 1.0), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
        shape = self._draw("shape", eligible, rng).astype(np.float64) if _SHAPES else np.zeros((478, 2))
        return np.clip(out, 0.0, 1.0).astype(np.float32), shape


def capped_weights(spread: np.ndarray, k: int) -> np.ndarray:
    """Each of ``n`` faces' weight in a mix (``n > k``): ``1/n`` plus ``spread`` (centred), none over ``1/k`` in size.

    Where a weight would be over ``1/k`` in size, the whole spread is scaled
    down (by one factor) until none is: the weights always sum to 1.
    """
    n = len(spread)
    if n <= k:
        raise ValueError(f"a mix needs more than k = {k} faces, got {n}")
    d = np.asarray(spread, dtype=np.float64) - float(np.mean(spread))
    scale = 1.0
    if d.max() > 0:
        scale = min(scale, (1.0 / k - 1.0 / n) / d.max())
    if d.min() < 0:
        scale = min(scale, (1.0 / k + 1.0 / n) / -d.min())
    return 1.0 / n + scale * d


def _components(gram: np.ndarray, rank: int) -> np.ndarray:
    """The ``rank`` main directions ``n`` rows vary in, from their products ``gram``: ``(n, r)`` unit eigenvectors.

    With ``centred`` the rows less their mean, ``centred.T @ u_i`` is the
    i-th principal direction at the length of its singular value, so the
    weights ``u @ z / sqrt(n)`` (standard normal ``z``) give a draw with each
    direction's own variance (what sampling a PCA model gives).
    """
    from scipy.linalg import eigh

    n = len(gram)
    r = min(rank, n - 1)
    if r < 1:
        return np.zeros((n, 0))
    row = gram.mean(axis=0)
    centred = gram - row[None, :] - row[:, None] + row.mean()  # the products of the rows less their mean
    values, vectors = eigh(centred, subset_by_index=[n - r, n - 1])
    return vectors[:, values > 1e-9 * max(float(values.max()), 1e-30)]


def mix_weights(n: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``n`` eligible faces (``n > k``) a signed mix draws, and the weight each gets on top of ``1/n``.

    ``m = k**2 / 2`` faces are drawn (rounded down to even, at most ``n``),
    half with ``+c`` and half with ``-c``, ``c = 1/k - 1/n``: every face's
    weight (``1/n``, the mean, plus its offset) is at most ``1/k`` in size and
    the weights sum to 1. Returns ``(indices, offsets)``.
    """
    if n <= k:
        raise ValueError(f"a mix needs more than k = {k} faces, got {n}")
    m = min(k * k // 2, n) // 2 * 2
    chosen = rng.choice(n, size=m, replace=False)
    offsets = (1.0 / k - 1.0 / n) * rng.permutation(np.repeat([1.0, -1.0], m // 2))
    return chosen, offsets.astype(np.float32)


def _standardise(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=1, keepdims=True)
    return (rows / np.maximum(rows.std(axis=1, keepdims=True), 1e-6)).astype(np.float32)
