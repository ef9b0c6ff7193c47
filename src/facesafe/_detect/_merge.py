"""Merging the candidates of several passes into faces.

Each pass (a scale, a mirror, a rotation, upscaled tiles) yields candidate
boxes with a heatmap score. A real face tends to be seen by several passes,
a false alarm by one, so candidates are clustered across passes (greedy, by
IoU, best score first) and a cluster's *evidence* is the sum, over the
upright passes, of the best score each pass gave it. The cluster keeps the
landmarks of its best-scoring member and, as its *extent*, the box enclosing
every member that scored at least half as well: passes at different scales
often place a partly hidden or turned face differently, and protecting all
of those places is what privacy needs. Rotated passes do not add to the
evidence (their false alarms differ); they count through ``rotated_best``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Candidates", "Cluster", "cluster", "nms", "pair_iou", "EXTENT_SHARE"]

EXTENT_SHARE = 0.5  # members scoring at least this share of the best widen the extent


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidates of all passes, in original image pixels.

    ``boxes`` (N, 4) xyxy, ``scores`` (N,), ``landmarks`` (N, 5, 2),
    ``view`` (N,) index of the pass, ``upright`` (N,) whether that pass saw
    the image upright (unrotated).
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    view: np.ndarray
    upright: np.ndarray

    @staticmethod
    def concat(parts: list[Candidates]) -> Candidates:
        """All candidates of ``parts`` in one record."""
        if not parts:
            return Candidates(
                np.zeros((0, 4), np.float32),
                np.zeros(0, np.float32),
                np.zeros((0, 5, 2), np.float32),
                np.zeros(0, np.int32),
                np.zeros(0, bool),
            )
        return Candidates(*(np.concatenate([getattr(p, f) for p in parts]) for f in Candidates.__slots__))


@dataclass(frozen=True, slots=True)
class Cluster:
    """Candidates of several passes that are one face."""

    box: np.ndarray  # (4,) best member's box
    extent: np.ndarray  # (4,) box enclosing the members scoring >= EXTENT_SHARE x best
    landmarks: np.ndarray  # (5, 2) best member's landmarks
    best: float  # best member score
    evidence: float  # sum over upright passes of each pass's best score
    rotated_best: float  # best score among rotated passes (0 if none)
    view: int  # pass of the best member


def cluster(c: Candidates, *, iou: float = 0.3) -> list[Cluster]:
    """Group candidates across passes into clusters.

    Cluster heads are the candidates that survive non-maximum suppression over
    all passes together (IoU ``iou``); every candidate then joins the head it
    overlaps most (by IoU above ``iou``), so each pass adds at most its best
    score to a head's evidence.
    """
    n = len(c.scores)
    if n == 0:
        return []
    heads = nms(c.boxes, c.scores, iou)
    nviews = int(c.view.max()) + 1
    best = np.zeros((len(heads), nviews), np.float32)
    owner = np.full(n, -1, np.intp)
    owner_iou = np.full(n, iou, np.float32)
    for rows, cols in _near(c.boxes[heads], c.boxes):
        m = _iou(c.boxes[heads[rows]], c.boxes[cols])
        j = np.argmax(m, axis=0)
        top = m[j, np.arange(len(cols))]
        better = top > owner_iou[cols]
        owner[cols[better]] = rows[j[better]]
        owner_iou[cols[better]] = top[better]
    owner[heads] = np.arange(len(heads))  # a head always owns itself
    member = owner >= 0
    up = member & c.upright
    np.maximum.at(best, (owner[up], c.view[up]), c.scores[up])
    rotated = np.zeros(len(heads), np.float32)
    rot = member & ~c.upright
    np.maximum.at(rotated, owner[rot], c.scores[rot])
    evidence = best.sum(axis=1)
    extent = c.boxes[heads].copy()
    near = member & (c.scores >= EXTENT_SHARE * c.scores[heads][np.maximum(owner, 0)])
    for k in (0, 1):
        np.minimum.at(extent[:, k], owner[near], c.boxes[near, k])
        np.maximum.at(extent[:, k + 2], owner[near], c.boxes[near, k + 2])
    return [
        Cluster(
            box=c.boxes[h],
            extent=extent[k],
            landmarks=c.landmarks[h],
            best=float(c.scores[h]),
            evidence=float(evidence[k]),
            rotated_best=float(rotated[k]),
            view=int(c.view[h]),
        )
        for k, h in enumerate(heads)
    ]


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (xyxy ``boxes``),
    best score first: a box is dropped when a kept, better-scoring box
    overlaps it by IoU above ``iou``.

    Two exact shortcuts keep a crowd photo's thousands of candidates (or a
    close-up's blob of a thousand near-copies of one box) at milliseconds:
    while the best remaining box drops many others, it is kept and compared
    with the rest at once (:data:`_GREEDY_MIN`); the boxes left are swept
    through only the pairs that overlap (:func:`_overlapping`).
    """
    n = len(boxes)
    if n == 0:
        return np.zeros(0, np.intp)
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    while len(order) > 1:
        dropped = pair_iou(boxes[order[0]][None, :], boxes[order[1:]]) > iou
        if np.count_nonzero(dropped) < _GREEDY_MIN:
            break
        kept.append(int(order[0]))
        order = order[1:][~dropped]
    return np.concatenate([np.array(kept, np.intp), order[_sweep(boxes[order], iou)]])


_GREEDY_MIN = 16  # the best box is compared with all the rest while it drops at least this many


def _sweep(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS of ``boxes``, given best first: indices kept, in that order.

    Only boxes that overlap a worse box need the greedy sweep; every other
    box is kept exactly when no kept box suppressed it.
    """
    n = len(boxes)
    src, dst = [np.zeros(0, np.intp)], [np.zeros(0, np.intp)]
    for a, b, overlap in _overlapping(boxes):
        hit = overlap > iou
        a, b = a[hit], b[hit]
        src.append(np.minimum(a, b))  # each pair once: the better (earlier) box suppresses the worse
        dst.append(np.maximum(a, b))
    src_a, dst_a = np.concatenate(src), np.concatenate(dst)
    by = np.argsort(src_a, kind="stable")
    src_a, dst_a = src_a[by], dst_a[by]
    heads = np.unique(src_a)  # boxes that may suppress others, best first
    starts = np.searchsorted(src_a, heads, side="left")
    ends = np.searchsorted(src_a, heads, side="right")
    suppressed = np.zeros(n, bool)
    for k in range(len(heads)):
        if not suppressed[heads[k]]:
            suppressed[dst_a[starts[k] : ends[k]]] = True
    return np.nonzero(~suppressed)[0]


_PAIRS = 1 << 20  # pairs per IoU block


def _overlapping(boxes: np.ndarray):
    """Blocks ``(i, j, iou)`` covering every pair of boxes (``i != j``, each
    pair once) that overlap both ways, with their IoU.

    Boxes are sorted by left edge; each is paired with the boxes that start
    before its right edge (and after it in that order), then pairs that do
    not meet vertically are dropped: a crowd's boxes meet only their
    neighbours, so this is far fewer pairs than blocks of the image's width.
    """
    n = len(boxes)
    order = np.argsort(boxes[:, 0], kind="stable")
    b = boxes[order]
    counts = np.maximum(np.searchsorted(b[:, 0], b[:, 2], side="left") - np.arange(1, n + 1), 0)
    total = np.cumsum(counts)
    lo = 0
    while lo < n:
        hi = max(int(np.searchsorted(total, (total[lo - 1] if lo else 0) + _PAIRS, side="right")), lo + 1)
        c = counts[lo:hi]
        m = int(c.sum())
        if m:
            i = np.repeat(np.arange(lo, hi), c)
            j = i + 1 + np.arange(m) - np.repeat(np.cumsum(c) - c, c)
            meet = (b[j, 1] < b[i, 3]) & (b[i, 1] < b[j, 3])
            i, j = i[meet], j[meet]
            yield order[i], order[j], pair_iou(b[i], b[j])
        lo = hi


_CHUNK = 64  # heads per IoU block
_TIERS = (16.0, 32.0, 64.0, 128.0, 256.0)  # candidate width classes (px)


def _near(heads: np.ndarray, boxes: np.ndarray):
    """Blocks ``(rows, cols)`` of head and candidate indices covering every
    pair whose boxes may overlap, so IoU is computed block by block rather
    than for all pairs (a crowd photo yields thousands of candidates).

    Heads are taken in order of their left edge, ``_CHUNK`` at a time.
    Candidates are sorted by left edge within width classes; a block takes,
    from each class, those starting left of its heads' right edges and at
    most the class's widest width before its leftmost head (boxes wider than
    every class are taken whole).
    """
    order = np.argsort(heads[:, 0], kind="stable")
    width = boxes[:, 2] - boxes[:, 0]
    tiers = []
    lower = -np.inf
    for upper in (*_TIERS, np.inf):
        idx = np.nonzero((width > lower) & (width <= upper))[0]
        idx = idx[np.argsort(boxes[idx, 0], kind="stable")]
        if len(idx):
            tiers.append((upper, idx, boxes[idx, 0]))
        lower = upper
    for i in range(0, len(order), _CHUNK):
        rows = order[i : i + _CHUNK]
        left, right = heads[rows, 0].min(), heads[rows, 2].max()
        parts = []
        for upper, idx, x0 in tiers:
            lo = np.searchsorted(x0, left - upper, side="left") if np.isfinite(upper) else 0
            parts.append(idx[lo : np.searchsorted(x0, right, side="right")])
        cols = np.concatenate(parts)
        if len(cols):
            yield rows, cols


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of xyxy boxes."""
    return pair_iou(a[:, None, :], b[None, :, :])


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes ``a[..., :]`` and ``b[..., :]``, broadcast over the leading axes."""
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0).astype(np.float32)
