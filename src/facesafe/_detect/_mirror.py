"""A mirrored second look at large faces seen too weakly.

CenterFace is not symmetric: a face, a profile above all, that it sees weakly
one way round it may see clearly in the mirror (``thorough`` runs a mirrored
pass of the whole image for that reason). A large face needs the most
evidence (``balanced`` keeps a cluster of >= 128 px at 0.30, since a large
false alarm masks many pixels), so a large profile seen at 0.1 is dropped.
Mirroring the whole image costs a second full pass; mirroring only the
window around each large cluster that is short of its threshold but not
far from it costs a few percent of one, and a mirrored window is another
upright pass of that region: its best score on the cluster, when it beats
every upright pass's, adds to the cluster's evidence (as a mirrored pass's
would in ``thorough``) and its box widens the cluster's extent. A window
that sees the cluster no better than the passes did adds nothing: on
wider-dev, adding such scores too kept four more large false alarms whose
evidence was just short of the threshold, and took the over-mask the look
costs from +0.09 to +0.16 points.

Only clusters of at least :data:`HEIGHT` base-pass px with evidence in
[:data:`LEAST`, threshold) are looked at again, each in a square window of
:data:`CONTEXT` times its longer side, at the base pass's scale (a face the
network saw at that size), shrunk when the window would exceed
:data:`MAX_SIDE` px. Figures on wider-dev are in docs/detection.md.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._merge import Cluster, pair_iou

__all__ = ["HEIGHT", "LEAST", "CONTEXT", "MAX_SIDE", "MATCH", "Window", "square", "windows", "on_cluster", "confirmed"]

HEIGHT = 128.0  # base-pass px: clusters at least this tall are looked at again...
LEAST = 0.10  # ...when their evidence reaches this, short of their threshold
CONTEXT = 2.0  # window side, in multiples of the cluster's longer side
MAX_SIDE = 512  # network px: a larger window is shrunk to this
MATCH = 0.3  # IoU with the cluster's box for a mirrored candidate to count for it


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """One cluster's window: image px ``(x0, y0, x1, y1)`` and the scale (network px per image px)."""

    index: int  # the cluster's (or the look's) index in the list it was made from
    rect: tuple[int, int, int, int]
    scale: float


def windows(clusters: list[Cluster], s: float, threshold, *, width: int, height: int) -> list[Window]:
    """Windows around the clusters of ``clusters`` (found at base-pass scale
    ``s``) worth a mirrored look: tall, short of ``threshold(height_px)`` but
    with evidence >= :data:`LEAST`."""
    out = []
    for i, c in enumerate(clusters):
        h = (c.box[3] - c.box[1]) * s
        if h < HEIGHT or not LEAST <= c.evidence < threshold(h):
            continue
        rect = square(c.box, CONTEXT, width=width, height=height)
        if rect is not None:
            out.append(Window(i, rect, min(s, MAX_SIDE / max(rect[2] - rect[0], rect[3] - rect[1]))))
    return out


def square(box: np.ndarray, context: float, *, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The square of side ``context`` x ``box``'s longer side centred on
    ``box`` (xyxy), clipped to a ``width`` x ``height`` image (None when
    less than 2 px is left).

    >>> square(np.array([10.0, 10.0, 30.0, 20.0]), 2.0, width=100, height=100)
    (0, 0, 40, 35)
    """
    side = max(box[2] - box[0], box[3] - box[1]) * context
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0, y0 = max(0, math.floor(cx - side / 2)), max(0, math.floor(cy - side / 2))
    x1, y1 = min(width, math.ceil(cx + side / 2)), min(height, math.ceil(cy + side / 2))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return (x0, y0, x1, y1)


def on_cluster(c: Cluster, boxes: np.ndarray) -> np.ndarray:
    """Which of ``boxes`` (xyxy, image px) lie on ``c``: IoU >= :data:`MATCH` with its box."""
    return pair_iou(boxes, c.box[None, :].astype(boxes.dtype)) >= MATCH


def confirmed(c: Cluster, boxes: np.ndarray, scores: np.ndarray) -> Cluster:
    """``c`` with the mirrored window's candidates (image px, already turned
    back) counted: the best one on ``c`` (IoU >= :data:`MATCH` with its box),
    when it scores above ``c``'s best, adds its score to the evidence and
    widens the extent."""
    if len(scores) == 0:
        return c
    on = on_cluster(c, boxes)
    if not on.any():
        return c
    k = int(np.argmax(np.where(on, scores, -1.0)))
    score, box = float(scores[k]), boxes[k]
    if score <= c.best:  # not seen better the other way round: no new evidence
        return c
    extent = np.concatenate([np.minimum(c.extent[:2], box[:2]), np.maximum(c.extent[2:], box[2:])])
    return dataclasses.replace(c, evidence=c.evidence + score, extent=extent, best=max(c.best, score))
