"""FaceDetector: CenterFace passes chosen per image, merged into faces.

How one image is processed (see :mod:`._presets` for the knobs):

0. with ``orient`` (``balanced``): which quarter turn stands the photo
   up (:mod:`._orient`); the passes below then run on the photo turned that
   way (and as stored too when the turn is doubtful), and the faces are
   turned back;
1. *base* pass: the whole image (shrunk to ``max_side`` if larger);
2. *half* pass at half that scale, for large faces;
3. optional *mirror* and *rotated* passes of the base image;
4. *upscaled* pass: the base image is cut in tiles, and the tiles that hold a
   small or uncertain candidate (or all tiles, in ``thorough``) are enlarged
   and run through the network, batched by shape;
5. all candidates are clustered across passes (:mod:`._merge`); with
   ``mirror_weak`` (``balanced``) the large clusters just short of their
   threshold are looked at again in a mirrored window (:mod:`._mirror`);
   a cluster is a face when its summed evidence reaches the threshold for
   its size, and is protected over its extent (:mod:`._cover`); with
   ``verify`` (``balanced``) a large face no pass was sure of is dropped
   when no close look at it sees it at all (:mod:`._verify`);
6. with ``tilt`` (``balanced``): when the clear faces found agree that the
   photo is tilted between quarter turns, it is searched again (steps 1-5)
   turned upright by their roll, and the faces of both searches are kept
   (:mod:`._tilt`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from .._errors import DetectionError
from .._geometry import Box, Face
from .._protocols import Closeable
from ._centerface import LANDMARK_NAMES, CenterFaceNet, Raw, decode
from ._cover import protected_box
from ._merge import Candidates, Cluster, cluster, pair_iou
from ._mirror import Window, confirmed, windows
from ._orient import (
    BASE_HINT,
    BASE_LOCK,
    PROBE_SIDE,
    SECOND_MARGIN,
    SECOND_MIN,
    best_quarter,
    check,
    faint,
    locked,
    second_turns,
    stands_up,
)
from ._presets import PRESETS, Preset
from ._tilt import faces_back, tilt_of, turned_upright
from ._verify import LOOKS, looks, seen, unsure

__all__ = ["FaceDetector", "detect_faces"]

_MARGIN = 24  # base-pass px of context around each upscaled tile
_MAX_TILE_NET = 1024  # longest side (net px) of one upscaled tile
_BATCH = 8  # tiles per network call


def _check_image(image: object) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 RGB of shape (H, W, 3), got {image.dtype} {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must not be empty, got shape {image.shape}")
    return image


@contextmanager
def _failing_closed(what: str) -> Iterator[None]:
    """Let a :class:`DetectionError` through and turn any other error into one
    that says ``what`` failed and why: a bug or a runtime failure fails closed, loudly."""
    try:
        yield
    except DetectionError:
        raise
    except Exception as exc:
        raise DetectionError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def _resize(image: np.ndarray, w: int, h: int) -> np.ndarray:
    if (w, h) == (image.shape[1], image.shape[0]):
        return image
    import cv2  # here, not at import: the batch coordinator imports this package too

    interp = cv2.INTER_AREA if w < image.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(image, (max(w, 1), max(h, 1)), interpolation=interp)


def _blob(images: list[np.ndarray]) -> np.ndarray:
    """Stack uint8 HWC images into a float32 NCHW batch padded to multiples of 32."""
    h = max(i.shape[0] for i in images)
    w = max(i.shape[1] for i in images)
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    blob = np.zeros((len(images), 3, ph, pw), np.float32)
    for k, img in enumerate(images):
        blob[k, :, : img.shape[0], : img.shape[1]] = img.transpose(2, 0, 1)
    return blob


class _Way(NamedTuple):
    """Which way up a photo is, and the half passes run to find out (see :meth:`FaceDetector._quarter`)."""

    k: int  # quarter turn (np.rot90's k) to run the passes at
    stored: Raw | None  # half pass of the photo as stored (half px), when run
    hedge: Raw | None  # the same in the photo's pixels, when k != 0
    turned: Raw | None  # half pass of the turned photo (its half px), when k != 0
    both: bool  # a doubtful turn: search the photo as stored too, keep both's faces
    base: Raw | None = None  # base pass of the photo as stored (base px), when run


class FaceDetector(Closeable):
    """Finds faces with CenterFace (onnxruntime), several passes per image.

    >>> with FaceDetector(preset="fast") as detector:      # doctest: +SKIP
    ...     faces = detector(image)

    Args:
        preset: ``"fast"``, ``"balanced"`` (default) or ``"thorough"`` (see
            :data:`facesafe.PRESETS`), or a :class:`Preset`.
        threads: onnxruntime intra-op threads (``None``: one per core). Batch
            workers use 1 each.

    A detector is thread-safe: one instance can serve a thread pool over many
    images. Built with ``threads=1`` and one pool thread per core, the passes,
    merging and masking between network calls keep every core busy, which
    gets more photos per second than one call at a time with every core
    inside the network (figures in docs/detection.md).

    Loads the model once, in the constructor. Calling returns a tuple of
    :class:`~facesafe.Face` in image pixels; any model or runtime failure
    raises :class:`~facesafe.DetectionError` (never an empty result).
    Pickling keeps only the settings; the model is reloaded on unpickling.
    """

    def __init__(self, *, preset: str | Preset = "balanced", threads: int | None = None) -> None:
        if isinstance(preset, Preset):
            self._preset = preset
        elif isinstance(preset, str):
            if preset not in PRESETS:
                raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
            self._preset = PRESETS[preset]
        else:
            raise TypeError(f"preset must be a str or Preset, got {type(preset).__name__}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be None or an int >= 1, got {threads!r}")
        self.threads = threads
        self._net: CenterFaceNet | None = CenterFaceNet(threads=threads)

    @property
    def preset(self) -> Preset:
        """The :class:`Preset` in use."""
        return self._preset

    # -- public protocol ---------------------------------------------------

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        """Faces in ``image`` (uint8 RGB ``(H, W, 3)``), best score first."""
        image = _check_image(image)
        with _failing_closed("face detection"):
            faces = self._search(image)
            return self._tilted(image, faces) if self._preset.tilt else faces

    def _search(self, image: np.ndarray) -> tuple[Face, ...]:
        """Steps 0-5 of the module docstring: the faces of ``image``, turned by the quarter that stands it up."""
        way = self._quarter(image) if self._preset.orient else _Way(0, None, None, None, False)
        k, seen = way.k, way.stored
        H, W = image.shape[:2]
        if k == 0:
            clusters, scale, views = self._clusters(image, seen, base_seen=way.base)
            return self._faces(clusters, scale, views, W, H)
        turned = np.ascontiguousarray(np.rot90(image, k))
        clusters, scale, views = self._clusters(turned, way.turned, hedge=_turned_half(way.hedge, k, image))
        faces = self._faces(clusters, scale, views, turned.shape[1], turned.shape[0])
        faces = tuple(_turned_back(f, k, W, H) for f in faces)
        if not way.both:
            return faces
        # A doubtful turn: the photo as stored is searched too, and the faces of both kept.
        clusters, scale, views = self._clusters(image, seen, base_seen=way.base)
        return _union(faces, self._faces(clusters, scale, views, W, H))

    def _tilted(self, image: np.ndarray, faces: tuple[Face, ...]) -> tuple[Face, ...]:
        """``faces`` and, when their clear faces agree that ``image`` is tilted
        (:func:`._tilt.tilt_of`), those of ``image`` searched again turned upright (step 6)."""
        angle = tilt_of(faces)
        if angle is None:
            return faces
        # The passes read the turned photo at no more than ``upscale`` x its base scale, so a
        # photo larger than that is shrunk first: the same pixels reach the network, and a
        # 50 MP photo's turned canvas (up to twice its pixels) is never built.
        H, W = image.shape[:2]
        p = self._preset
        f = min(1.0, p.max_side * max(p.upscale, 1.0) / max(H, W))
        small = image if f == 1.0 else _resize(image, max(1, round(W * f)), max(1, round(H * f)))
        turned, matrix = turned_upright(small, angle)
        clusters, scale, views = self._clusters(turned)
        found = self._faces(clusters, scale, views, turned.shape[1], turned.shape[0])
        matrix[:, 0] *= small.shape[1] / W  # from the photo's own pixels, not the shrunk copy's
        matrix[:, 1] *= small.shape[0] / H
        return _union(faces, faces_back(found, matrix, angle, width=W, height=H))

    def close(self) -> None:
        """Release the model; the detector cannot be called afterwards."""
        self._net = None

    def __getstate__(self) -> dict:
        return {"preset": self._preset, "threads": self.threads}

    def __setstate__(self, state: dict) -> None:
        self.__init__(preset=state["preset"], threads=state["threads"])  # type: ignore[misc]  # rebuilt as the class it was pickled from

    def __repr__(self) -> str:
        return f"FaceDetector(preset={self._preset.name!r}, threads={self.threads!r})"

    # -- passes ------------------------------------------------------------

    def _run(self, images: list[np.ndarray]) -> list:
        if self._net is None:
            raise DetectionError("the detector was closed")
        return self._net.run(_blob(images))

    def _base(self, image: np.ndarray) -> tuple[float, np.ndarray, np.ndarray | None]:
        """The base-pass scale, base image and half image (None without a half pass)."""
        p = self._preset
        H, W = image.shape[:2]
        s = min(1.0, p.max_side / max(H, W))
        base = _resize(image, max(1, round(W * s)), max(1, round(H * s)))
        Hb, Wb = base.shape[:2]
        half = _resize(base, round(Wb / 2), round(Hb / 2)) if p.coarse and max(Hb, Wb) >= 128 else None
        return s, base, half

    def _quarter(self, image: np.ndarray) -> _Way:
        """Which way up ``image`` is (see :mod:`._orient`) and the half passes run to find out."""
        _, base, half = self._base(image)
        if half is None:  # too small for a half pass: the probe alone decides
            return _Way(best_quarter(self._probe(image)), None, None, None, False)
        seen = decode(self._run([half]), 0, self._preset.floor)
        halves: dict[int, Raw] = {0: seen}
        both = False
        k = locked(seen)
        stored = None  # the base pass of the photo as stored, when run here
        if k is None and stands_up(seen, BASE_HINT):
            # Leaning upright: the base pass (needed anyway if the photo stays as it is) may settle it.
            stored = decode(self._run([base]), 0, self._preset.floor)
            if stands_up(stored, BASE_LOCK):
                return _Way(0, seen, None, None, False, stored)
        if k is None:
            probes = self._probe(image)
            k = best_quarter(probes)
            if k == 0 and faint(probes):
                # Second look: nothing showed at 320 px (a crowd of small faces?): the half pass two more ways.
                halves.update(self._turns(half, second_turns(probes), stored=False))
                k = best_quarter([halves.get(q) for q in range(4)], margin=SECOND_MARGIN, least=SECOND_MIN)
                both = True
        if k == 0:
            return _Way(0, seen, None, None, False, stored)
        if k not in halves:
            halves[k] = self._turns(half, (k,), stored=False)[k]
        verdict = check(seen, halves[k])
        if verdict == "stay":
            return _Way(0, seen, None, None, False, stored)
        # What the half pass saw, in the photo's own pixels: a hedge against a wrong turn.
        H, W = image.shape[:2]
        boxes, lms = _scaler(W / half.shape[1], H / half.shape[0], 0, 0)(seen.boxes, seen.landmarks)
        return _Way(k, seen, Raw(boxes, seen.scores, lms), halves[k], both or verdict == "both", stored)

    def _probe(self, image: np.ndarray) -> list[Raw]:
        """Candidates of ``image`` shrunk to :data:`PROBE_SIDE` px and turned by 0-3 quarters (step 2)."""
        H, W = image.shape[:2]
        f = min(1.0, PROBE_SIDE / max(H, W))
        turns = self._turns(_resize(image, max(1, round(W * f)), max(1, round(H * f))), (1, 2, 3))
        return [turns[4], turns[1], turns[2], turns[3]]

    def _turns(self, image: np.ndarray, ks: tuple[int, ...], *, stored: bool = True) -> dict[int, Raw]:
        """Candidates of ``image`` turned by each of ``ks`` quarters (and, with
        ``stored``, as it is, under the key 4), each in its turned pixels;
        images of the same shape share a network call."""
        by_shape: dict[bool, list[int]] = {}
        for k in (*ks, 4) if stored else ks:
            by_shape.setdefault(k % 2 == 1, []).append(k)
        out: dict[int, Raw] = {}
        for group in by_shape.values():
            raw = self._run([np.rot90(image, k % 4) for k in group])
            for i, k in enumerate(group):
                out[k] = decode(raw, i, self._preset.floor)
        return out

    def _clusters(
        self, image: np.ndarray, seen: Raw | None = None, hedge: Raw | None = None, base_seen: Raw | None = None
    ) -> tuple[list[Cluster], float, list[str]]:
        """All merged candidates of ``image``, the base-pass scale, pass names.

        ``seen``, ``base_seen``: the half and base passes' candidates, when already run. ``hedge``: the
        half pass of the photo as it was stored, turned into ``image``'s pixels,
        when ``image`` is that photo turned: kept as a rotated view, so a face
        it saw clearly survives a wrong turn."""
        p = self._preset
        s, base, half = self._base(image)
        Hb, Wb = base.shape[:2]
        parts: list[Candidates] = []
        views: list[str] = []

        def add(name: str, raw, to_base, upright: bool) -> None:
            view = len(views)
            views.append(name)
            boxes, lms = to_base(raw.boxes, raw.landmarks)
            parts.append(
                Candidates(
                    boxes / s,
                    raw.scores,
                    lms / s,
                    np.full(len(raw.scores), view, np.int32),
                    np.full(len(raw.scores), upright),
                )
            )

        ident = lambda b, lms: (b, lms)  # noqa: E731
        add("base", base_seen if base_seen is not None else decode(self._run([base]), 0, p.floor), ident, True)
        if half is not None:
            fx, fy = Wb / half.shape[1], Hb / half.shape[0]
            add("half", seen if seen is not None else decode(self._run([half]), 0, p.floor), _scaler(fx, fy, 0, 0), True)
        if p.flip:
            add("mirror", decode(self._run([base[:, ::-1]]), 0, p.floor), _unflip(Wb), True)
            if half is not None:
                unflip, up = _unflip(half.shape[1]), _scaler(fx, fy, 0, 0)
                add(
                    "mirror-half",
                    decode(self._run([half[:, ::-1]]), 0, p.floor),
                    lambda b, lms: up(*unflip(b, lms)),
                    True,
                )
        if hedge is not None:
            add("stored-half", hedge, lambda b, lms: (b * s, lms * s), False)
        for deg in p.rotations:
            k = deg // 90
            add(f"rot{deg}", decode(self._run([np.rot90(base, k)]), 0, p.floor), _unrotate(k, Wb, Hb), False)

        if p.upscale > 0:
            if p.upscale_everywhere:
                cells = np.ones((math.ceil(Hb / p.tile), math.ceil(Wb / p.tile)), bool)
            else:
                cells = self._trigger(cluster(Candidates.concat(parts)), s, Wb, Hb)
            view = len(views)
            views.append("upscaled")
            for boxes, scores, lms in self._upscaled(image, s, cells):
                n = len(scores)
                parts.append(Candidates(boxes, scores, lms, np.full(n, view, np.int32), np.ones(n, bool)))
        clusters = cluster(Candidates.concat(parts))
        if p.mirror_weak:
            clusters = self._mirrored(image, clusters, s)
        if p.verify:
            clusters = self._verified(image, clusters, s)
        return clusters, s, views

    def _window(self, image: np.ndarray, w: Window, *, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
        """Candidate boxes (image px) and scores of the network run on
        ``image``'s window ``w``, resized by its scale, ``mirrored`` or not."""
        x0, y0, x1, y1 = w.rect
        tw, th = max(1, round((x1 - x0) * w.scale)), max(1, round((y1 - y0) * w.scale))
        crop = _resize(image[y0:y1, x0:x1], tw, th)
        raw = decode(self._run([crop[:, ::-1] if mirrored else crop]), 0, self._preset.floor)
        boxes, lms = _unflip(tw)(raw.boxes, raw.landmarks) if mirrored else (raw.boxes, raw.landmarks)
        boxes, _ = _scaler((x1 - x0) / tw, (y1 - y0) / th, x0, y0)(boxes, lms)
        return boxes, raw.scores

    def _mirrored(self, image: np.ndarray, clusters: list[Cluster], s: float) -> list[Cluster]:
        """``clusters`` with the large ones short of their threshold looked at
        again in a mirrored window each (:mod:`._mirror`)."""
        H, W = image.shape[:2]
        weak = windows(clusters, s, lambda h: _threshold(self._preset, h), width=W, height=H)
        if not weak:
            return clusters
        clusters = list(clusters)
        for w in weak:
            boxes, scores = self._window(image, w, mirrored=True)
            clusters[w.index] = confirmed(clusters[w.index], boxes, scores)
        return clusters

    def _verified(self, image: np.ndarray, clusters: list[Cluster], s: float) -> list[Cluster]:
        """``clusters`` without the large, unsure ones that no close look sees (:mod:`._verify`)."""
        H, W = image.shape[:2]

        def kept(c: Cluster) -> bool:
            if not unsure(c, s, lambda h: _threshold(self._preset, h)):
                return True
            around = looks(c, width=W, height=H)
            if not around:  # nothing of it inside the image to look at: it stays, as found
                return True
            return any(seen(c, *self._window(image, w, mirrored=LOOKS[w.index].mirrored)) for w in around)

        return [c for c in clusters if kept(c)]

    def _trigger(self, clusters: list[Cluster], s: float, Wb: int, Hb: int) -> np.ndarray:
        """Tiles (base px grid) holding a small candidate worth a closer look."""
        p = self._preset
        cells = np.zeros((math.ceil(Hb / p.tile), math.ceil(Wb / p.tile)), bool)
        for c in clusters:
            x0, y0, x1, y1 = c.box * s
            if (y1 - y0) < p.trigger_height and c.evidence >= p.trigger_score:
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                r = min(max(int(cy // p.tile), 0), cells.shape[0] - 1)
                q = min(max(int(cx // p.tile), 0), cells.shape[1] - 1)
                cells[r, q] = True
        return cells

    def _upscaled(self, image: np.ndarray, s: float, cells: np.ndarray):
        """Run the marked tiles enlarged by ``upscale``; yield candidates
        (original px) whose centre falls in the tile proper (not its margin)."""
        p = self._preset
        H, W = image.shape[:2]
        Hb, Wb = round(H * s), round(W * s)
        f = p.upscale
        run_len = max(1, int(_MAX_TILE_NET / f - 2 * _MARGIN) // p.tile)
        tiles = []  # (core rect, padded rect) in base px
        for r in range(cells.shape[0]):
            q = 0
            while q < cells.shape[1]:
                if not cells[r, q]:
                    q += 1
                    continue
                q1 = q
                while q1 < cells.shape[1] and cells[r, q1] and q1 - q < run_len:
                    q1 += 1
                core = (q * p.tile, r * p.tile, min(q1 * p.tile, Wb), min((r + 1) * p.tile, Hb))
                pad = (
                    max(core[0] - _MARGIN, 0), max(core[1] - _MARGIN, 0),
                    min(core[2] + _MARGIN, Wb), min(core[3] + _MARGIN, Hb),
                )
                tiles.append((core, pad))
                q = q1
        # Crop each tile from the original image and enlarge it to f x base scale.
        crops = []
        for core, (x0, y0, x1, y1) in tiles:
            ox0, oy0 = math.floor(x0 / s), math.floor(y0 / s)
            ox1, oy1 = min(math.ceil(x1 / s), W), min(math.ceil(y1 / s), H)
            crop = image[oy0:oy1, ox0:ox1]
            tw, th = max(1, round((ox1 - ox0) * s * f)), max(1, round((oy1 - oy0) * s * f))
            crops.append((core, (ox0, oy0), (ox1 - ox0) / tw, (oy1 - oy0) / th, _resize(crop, tw, th)))
        # Batch tiles of the same padded shape.
        groups: dict[tuple[int, int], list] = {}
        for c in crops:
            h, w = c[4].shape[:2]
            groups.setdefault((-(-h // 32), -(-w // 32)), []).append(c)
        for group in groups.values():
            for i in range(0, len(group), _BATCH):
                chunk = group[i : i + _BATCH]
                out = self._run([c[4] for c in chunk])
                for k, (core, (ox, oy), fx, fy, _) in enumerate(chunk):
                    raw = decode(out, k, p.floor)
                    boxes, lms = _scaler(fx, fy, ox, oy)(raw.boxes, raw.landmarks)
                    cx = (boxes[:, 0] + boxes[:, 2]) / 2 * s
                    cy = (boxes[:, 1] + boxes[:, 3]) / 2 * s
                    keep = (cx >= core[0]) & (cx < core[2]) & (cy >= core[1]) & (cy < core[3])
                    yield boxes[keep], raw.scores[keep], lms[keep]

    def _faces(self, clusters: list[Cluster], s: float, views: list[str], W: int, H: int) -> tuple[Face, ...]:
        p = self._preset
        faces = []
        for c in clusters:
            if c.evidence < _threshold(p, (c.box[3] - c.box[1]) * s) and c.rotated_best < p.rotated_threshold:
                continue
            box = protected_box(c.extent, s, score=c.best, width=W, height=H)
            if box.area <= 0:
                continue
            lms = tuple(
                (name, float(min(max(x, 0.0), W)), float(min(max(y, 0.0), H)))
                for name, (x, y) in zip(LANDMARK_NAMES, c.landmarks, strict=True)
            )
            faces.append(
                Face(
                    box=box,
                    score=float(min(max(c.best, 0.0), 1.0)),
                    landmarks=lms,
                    detector=f"centerface/{views[c.view]}",
                )
            )
        faces.sort(key=lambda f: -f.score)
        return tuple(faces)


def _threshold(p: Preset, h: float) -> float:
    """The evidence ``p`` needs to keep a cluster ``h`` base-pass px tall."""
    return p.thresholds[0 if h < 32 else 1 if h < 64 else 2 if h < 128 else 3]


def _scaler(fx: float, fy: float, ox: float, oy: float):
    def f(boxes: np.ndarray, lms: np.ndarray):
        b = boxes * np.array([fx, fy, fx, fy], np.float32) + np.array([ox, oy, ox, oy], np.float32)
        l_ = lms * np.array([fx, fy], np.float32) + np.array([ox, oy], np.float32)
        return b, l_

    return f


def _unflip(Wb: int):
    def f(boxes: np.ndarray, lms: np.ndarray):
        b = np.stack([Wb - boxes[:, 2], boxes[:, 1], Wb - boxes[:, 0], boxes[:, 3]], axis=1)
        l_ = lms.copy()
        l_[..., 0] = Wb - l_[..., 0]
        # Mirroring swaps the subject's left and right: swap the named points back.
        l_ = l_[:, [1, 0, 2, 4, 3]]
        return b, l_

    return f


def _unrotate(k: int, Wb: int, Hb: int):
    """Map points of ``np.rot90(base, k)`` back to ``base`` coordinates."""

    def pt(x: np.ndarray, y: np.ndarray):
        if k == 1:
            return Wb - y, x
        if k == 2:
            return Wb - x, Hb - y
        return y, Hb - x

    def f(boxes: np.ndarray, lms: np.ndarray):
        xa, ya = pt(boxes[:, 0], boxes[:, 1])
        xb, yb = pt(boxes[:, 2], boxes[:, 3])
        b = np.stack([np.minimum(xa, xb), np.minimum(ya, yb), np.maximum(xa, xb), np.maximum(ya, yb)], axis=1)
        lx, ly = pt(lms[..., 0], lms[..., 1])
        return b, np.stack([lx, ly], axis=-1)

    return f


def _turned_half(half: Raw | None, k: int, image: np.ndarray) -> Raw | None:
    """The half pass's candidates of ``image`` (in ``image``'s pixels) in ``np.rot90(image, k)``'s pixels."""
    if half is None:
        return None
    H, W = image.shape[:2]
    # Points of np.rot90(turned, 4 - k), which is image, back to turned's pixels.
    boxes, lms = _unrotate(4 - k, *((H, W) if k % 2 else (W, H)))(half.boxes, half.landmarks)
    return Raw(boxes, half.scores, lms)


def _turned_back(face: Face, k: int, W: int, H: int) -> Face:
    """``face`` found in ``np.rot90(image, k)`` (``image`` ``W x H``), in ``image``'s pixels."""
    back = _unrotate(k, W, H)
    b = face.box
    boxes, lms = back(
        np.array([[b.x0, b.y0, b.x1, b.y1]], np.float64),
        np.array([[(x, y) for _, x, y in face.landmarks]], np.float64).reshape(1, -1, 2),
    )
    box = Box(*(float(v) for v in boxes[0])).clipped(width=W, height=H)
    landmarks = tuple((name, float(x), float(y)) for (name, _, _), (x, y) in zip(face.landmarks, lms[0], strict=True))
    return Face(box=box, score=face.score, landmarks=landmarks, detector=f"{face.detector}/turned{90 * k}")


def _union(first: tuple[Face, ...], second: tuple[Face, ...]) -> tuple[Face, ...]:
    """The faces of two searches of one photo: a face of ``second`` overlapping
    one of ``first`` (IoU >= 0.3) widens that face's box to hold both (the mask
    covers every place either search put the face); the others are added."""
    faces = list(first)
    boxes = np.array([[f.box.x0, f.box.y0, f.box.x1, f.box.y1] for f in faces], np.float64).reshape(-1, 4)
    for face in second:
        b = np.array([face.box.x0, face.box.y0, face.box.x1, face.box.y1], np.float64)
        iou = pair_iou(boxes, b[None, :]) if len(boxes) else np.zeros(0)
        if len(iou) and iou.max() >= 0.3:
            j = int(np.argmax(iou))
            boxes[j] = [min(boxes[j, 0], b[0]), min(boxes[j, 1], b[1]), max(boxes[j, 2], b[2]), max(boxes[j, 3], b[3])]
            keep = faces[j] if faces[j].score >= face.score else face
            box = Box(*(float(v) for v in boxes[j]))
            faces[j] = Face(box=box, score=max(faces[j].score, face.score), landmarks=keep.landmarks, detector=keep.detector)
        else:
            faces.append(face)
            boxes = np.vstack([boxes, b])
    faces.sort(key=lambda f: -f.score)
    return tuple(faces)


def detect_faces(image: np.ndarray, *, preset: str = "balanced") -> tuple[Face, ...]:
    """Faces in ``image`` (uint8 RGB ``(H, W, 3)``) with a one-off
    :class:`FaceDetector`; build a detector to process many images."""
    with FaceDetector(preset=preset) as detector:
        return detector(image)
