"""A close second look at large faces the network was unsure of.

A large cluster that the passes kept on their pooled evidence, but that no
pass scored :data:`UNSURE` or more, is on wider-dev rarely a face (20 of 200,
see :mod:`._cover`): a dog's face on a painting, coloured smoke, a car's grille.
Each such false alarm masks many pixels (one dog's face alone masked 23% of
its photo), and the over-mask budget they spend is what a lower threshold
for large faces needs. So each is looked at again, close up: a window
around it, resized so that the cluster stands :data:`LOOKS`' height in
network px (the heights at which CenterFace sees faces best), with two or
three times its side as context, once mirrored. A real face is seen in at
least one of those looks, if only faintly; a cluster on which no look sees
anything scoring :data:`SEEN` or more is dropped.

This is the one step of detection that drops what the passes kept, so it
asks little: one faint sighting in any of three looks keeps a cluster, and
faces a pass was sure of are never looked at. On wider-dev it drops 62
large clusters in 50 of 305 photos, none of them a face that no other
cluster covers, and frees 0.13 points of over-mask, which pays for keeping
clusters of 64-128 px from evidence 0.10 instead of 0.13 (``balanced``'s
thresholds). Looks stop at the first that sees the cluster, cheapest
first; with the lower threshold they add 3.5% to the passes' network
pixels. Figures are in docs/detection.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ._merge import Cluster
from ._mirror import MAX_SIDE, Window, on_cluster, square

__all__ = ["HEIGHT", "UNSURE", "SEEN", "LOOKS", "Look", "unsure", "looks", "seen"]

HEIGHT = 64.0  # base-pass px: clusters at least this tall are looked at again...
UNSURE = 0.3  # ...when kept, but scored below this by every pass (kept on pooled evidence alone)


@dataclasses.dataclass(frozen=True, slots=True)
class Look:
    """One close look: a window ``context`` times the cluster's longer side,
    resized so the cluster is ``height`` network px tall, ``mirrored`` or not."""

    context: float
    height: float
    mirrored: bool = False


LOOKS = (Look(2.0, 64), Look(2.0, 96, mirrored=True), Look(3.0, 96))
"""The looks, cheapest first: the first that sees the cluster ends them."""
SEEN = 0.05  # a candidate on the cluster scoring this much in any look keeps it


def unsure(c: Cluster, s: float, threshold: Callable[[float], float]) -> bool:
    """Whether ``c`` (found at base-pass scale ``s``) is large, kept on its
    evidence (``threshold(height_px)``), and was scored below :data:`UNSURE` by every pass."""
    h = (c.box[3] - c.box[1]) * s
    return h >= HEIGHT and c.best < UNSURE and c.evidence >= threshold(h)


def looks(c: Cluster, *, width: int, height: int) -> list[Window]:
    """The windows of :data:`LOOKS` around ``c`` in a ``width`` x ``height``
    image, in the same order (``Window.index`` is the look's index)."""
    out = []
    for i, look in enumerate(LOOKS):
        rect = square(c.box, look.context, width=width, height=height)
        if rect is None:
            continue
        side = max(rect[2] - rect[0], rect[3] - rect[1])
        scale = min(look.height / max(float(c.box[3] - c.box[1]), 1.0), MAX_SIDE / side)
        out.append(Window(i, rect, scale))
    return out


def seen(c: Cluster, boxes: np.ndarray, scores: np.ndarray) -> bool:
    """Whether a look's candidates (image px) see ``c``: one of them on its box
    (:func:`._mirror.on_cluster`) scores at least :data:`SEEN`."""
    if len(scores) == 0:
        return False
    return bool((scores[on_cluster(c, boxes)] >= SEEN).any())
