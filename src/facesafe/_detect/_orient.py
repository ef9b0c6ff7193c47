"""Which way up a photo is: read from CenterFace's own output, cheaply.

CenterFace finds upright faces (tilted up to about 30 degrees); a photo whose
pixels lie at 90, 180 or 270 degrees (a scan, some apps, a phone photo re-saved
without its EXIF tag) hides most of its faces from it. Turning every photo four
ways costs four times the work (``thorough`` does). Instead the detector asks,
per photo, which quarter turn stands its faces up, and runs its passes once,
on the photo turned that way:

1. *lock*: the half pass (run anyway) already shows upright faces: candidates
   scoring >= :data:`LOCK_SCORE` whose landmarks stand up (eyes above the mouth,
   within 45 degrees of vertical) sum to >= :data:`LOCK_EVIDENCE`, at least
   twice what the candidates lying some other way sum to. The photo is
   upright: nothing more is spent (about half of upright WIDER photos);
2. *probe*: otherwise the photo, shrunk to :data:`PROBE_SIDE` px on its long
   side, is run at the four quarter turns (two network calls of two images,
   together about a fifth of a full-size pass). Each turn gets
   ``upright + 0.3 x top5``: the scores of its candidates >= 0.35 whose
   landmarks stand up, plus a little of its five best scores. The best other
   turn wins only when it beats the photo as it is by :data:`PROBE_MARGIN`
   and reaches :data:`PROBE_MIN`, so an unclear photo, or one without faces,
   stays as it is.

Landmarks are the reliable part: on a turned face CenterFace's score is often
high enough to be a candidate while its five points still say which way the
face lies. On the 305 wider-dev photos and their sideways copies (see
docs/detection.md) the turn picked was wrong for photos holding 1.8% of the
upright photos' faces and 12.5% of the sideways copies' (crowds of faces too
small for the probe, upside-down photos): the step to improve next.
"""

from __future__ import annotations

import numpy as np

from ._centerface import Raw

__all__ = ["LOCK_EVIDENCE", "LOCK_SCORE", "PROBE_MARGIN", "PROBE_MIN", "PROBE_SIDE", "roll", "locked_upright", "best_quarter"]

PROBE_SIDE = 320  # long side (px) of the four probe images
LOCK_SCORE = 0.5  # candidates of the half pass that may lock the photo upright...
LOCK_EVIDENCE = 1.0  # ...when the upright ones' scores sum to this
PROBE_SCORE = 0.35  # probe candidates whose landmarks count
PROBE_TOP = 5  # best scores per probe that count, at PROBE_TOP_WEIGHT
PROBE_TOP_WEIGHT = 0.3
PROBE_MARGIN = 0.1  # a turn must beat the photo as it is by this...
PROBE_MIN = 0.2  # ...and reach this (photos without faces score 0-0.16 every way)


def roll(landmarks: np.ndarray) -> np.ndarray:
    """In-plane turn of each face, in degrees counter-clockwise on screen
    (0: upright, 90: lying with its top to the left), from ``(N, 5, 2)``
    CenterFace landmarks: the direction from the eyes' midpoint to the mouth's."""
    eyes = (landmarks[:, 0] + landmarks[:, 1]) / 2
    mouth = (landmarks[:, 3] + landmarks[:, 4]) / 2
    dx, dy = (mouth - eyes).T
    # Upright, the mouth is straight below the eyes: (0, +y), atan2 = 90 degrees.
    return (90.0 - np.degrees(np.arctan2(dy, dx)) + 180.0) % 360.0 - 180.0


def _quarters(raw: Raw, threshold: float) -> np.ndarray:
    """(4,) summed scores of the candidates >= ``threshold``, by the quarter
    turn (0, 90, 180, 270 degrees counter-clockwise) that would stand them up."""
    keep = raw.scores >= threshold
    out = np.zeros(4, np.float64)
    if keep.any():
        q = np.round(-roll(raw.landmarks[keep]) / 90.0).astype(int) % 4
        np.add.at(out, q, raw.scores[keep])
    return out


def locked_upright(half: Raw) -> bool:
    """Whether the half pass's candidates already show the photo upright (step 1)."""
    votes = _quarters(half, LOCK_SCORE)
    return bool(votes[0] >= LOCK_EVIDENCE and votes[0] >= 2 * votes[1:].max())


def best_quarter(probes: list[Raw]) -> int:
    """The quarter turn (0-3, counter-clockwise, as ``np.rot90``'s ``k``) that
    stands the photo up, from the probes of the photo turned by 0-3 quarters
    (step 2); 0 unless another turn is clearly better."""
    evidence = []
    for raw in probes:
        top = np.sort(raw.scores)[::-1][:PROBE_TOP].sum()
        evidence.append(_quarters(raw, PROBE_SCORE)[0] + PROBE_TOP_WEIGHT * top)
    k = int(np.argmax(evidence[1:])) + 1
    return k if evidence[k] >= max(evidence[0] + PROBE_MARGIN, PROBE_MIN) else 0
