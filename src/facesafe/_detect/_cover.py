"""From a merged cluster to the box that protects its face.

A cluster's *extent* (:mod:`._merge`) encloses every place its passes put the
face. For a small face that is still tight: CenterFace predicts on a grid of
4 px cells, so a face of 12-30 px is placed and sized to within a pixel or
two, which is 5-15% of its height, while the default mask's slack (an
ellipse 1.3x the box) is a fixed share of it. On wider-dev the faces under
32 px that were masked only in part (77-86% of their core) were off by one
or two pixels on one side. So a face shorter than :data:`SMALL` base-pass
pixels is given :data:`MARGIN` base-pass pixels more on every side; larger
faces keep their extent, where a pixel is no longer the error that counts
and growing them costs over-mask (measured in docs/detection.md).

A large face the network found but was unsure of (best score in
[:data:`LOOSE_LOW`, :data:`LOOSE_HIGH`)) is placed loosely: on wider-dev the
labelled face's centre lies a median 14% of the box's width from the
extent's centre for faces >= 64 px scored 0.3-0.5, against 2-6% for those
scored above 0.5. Such a face is protected over its extent grown
:data:`LOOSE_GROW` times about its centre. Large clusters scored below 0.3
are kept on pooled evidence and are rarely faces (20 of 200 on wider-dev):
growing them would cost pixels for nothing, so they keep their extent.
"""

from __future__ import annotations

import numpy as np

from .._geometry import Box

__all__ = ["SMALL", "MARGIN", "LOOSE_HEIGHT", "LOOSE_LOW", "LOOSE_HIGH", "LOOSE_GROW", "protected_box"]

SMALL = 32.0  # base-pass px: faces shorter than this get the margin
MARGIN = 1.0  # base-pass px added on every side of a small face
LOOSE_HEIGHT = 64.0  # base-pass px: faces at least this tall...
LOOSE_LOW, LOOSE_HIGH = 0.3, 0.5  # ...whose best score is in this range...
LOOSE_GROW = 1.1  # ...are protected over their extent grown this much


def protected_box(extent: np.ndarray, scale: float, *, score: float = 1.0, width: int, height: int) -> Box:
    """The box to protect for a cluster of ``extent`` (xyxy, image px), found at
    base-pass ``scale`` (base px per image px) with best ``score``, clipped to the image.

    >>> protected_box(np.array([10.0, 10.0, 30.0, 30.0]), 1.0, width=100, height=100)
    Box(x0=9.0, y0=9.0, x1=31.0, y1=31.0)
    >>> protected_box(np.array([0.0, 0.0, 100.0, 100.0]), 1.0, score=0.4, width=200, height=200)
    Box(x0=0.0, y0=0.0, x1=105.0, y1=105.0)
    """
    box = Box(*(float(v) for v in extent))
    if box.height * scale < SMALL:
        box = box.expanded(1.0, margin=MARGIN / scale)
    elif box.height * scale >= LOOSE_HEIGHT and LOOSE_LOW <= score < LOOSE_HIGH:
        box = box.expanded(LOOSE_GROW)
    return box.clipped(width=width, height=height)
