"""Merging the candidates of several passes into faces.

Each pass (a scale, a mirror, a rotation, upscaled tiles) yields candidate
boxes with a heatmap score. A real face tends to be seen by several passes,
a false alarm by one, so candidates are clustered across passes (greedy, by
IoU, best score first) and a cluster's *evidence* is the sum, over the
upright passes, of the best score each pass gave it. The cluster keeps the box
and landmarks of its best-scoring member. Rotated passes do not add to the
evidence (their false alarms differ); they count through ``rotated_best``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Candidates", "Cluster", "cluster"]


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
    from ._centerface import nms

    n = len(c.scores)
    if n == 0:
        return []
    heads = nms(c.boxes, c.scores, iou)
    nviews = int(c.view.max()) + 1
    best = np.zeros((len(heads), nviews), np.float32)
    owner = np.full(n, -1, np.intp)
    owner_iou = np.full(n, iou, np.float32)
    hb = c.boxes[heads]
    harea = (hb[:, 2] - hb[:, 0]) * (hb[:, 3] - hb[:, 1])
    area = (c.boxes[:, 2] - c.boxes[:, 0]) * (c.boxes[:, 3] - c.boxes[:, 1])
    chunk = max(1, 2_000_000 // n)  # bound the IoU matrix to ~8 MB
    for i in range(0, len(heads), chunk):
        b = hb[i : i + chunk]
        iw = np.minimum(b[:, None, 2], c.boxes[None, :, 2]) - np.maximum(b[:, None, 0], c.boxes[None, :, 0])
        ih = np.minimum(b[:, None, 3], c.boxes[None, :, 3]) - np.maximum(b[:, None, 1], c.boxes[None, :, 1])
        inter = np.maximum(iw, 0) * np.maximum(ih, 0)
        union = harea[i : i + chunk, None] + area[None, :] - inter
        m = np.where(union > 0, inter / np.maximum(union, 1e-9), 0).astype(np.float32)
        j = np.argmax(m, axis=0)
        better = m[j, np.arange(n)] > owner_iou
        owner[better] = i + j[better]
        owner_iou[better] = m[j[better], np.nonzero(better)[0]]
    owner[heads] = np.arange(len(heads))  # a head always owns itself
    member = owner >= 0
    up = member & c.upright
    np.maximum.at(best, (owner[up], c.view[up]), c.scores[up])
    rotated = np.zeros(len(heads), np.float32)
    rot = member & ~c.upright
    np.maximum.at(rotated, owner[rot], c.scores[rot])
    evidence = best.sum(axis=1)
    return [
        Cluster(
            box=c.boxes[h],
            landmarks=c.landmarks[h],
            best=float(c.scores[h]),
            evidence=float(evidence[k]),
            rotated_best=float(rotated[k]),
            view=int(c.view[h]),
        )
        for k, h in enumerate(heads)
    ]
