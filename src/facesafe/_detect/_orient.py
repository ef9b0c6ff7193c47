"""Which way up a photo is: read from CenterFace's own output, cheaply.

CenterFace finds upright faces (tilted up to about 30 degrees); a photo whose
pixels lie at 90, 180 or 270 degrees (a scan, some apps, a phone photo re-saved
without its EXIF tag) hides most of its faces from it. Turning every photo four
ways costs four times the work (``thorough`` does). Instead the detector asks,
per photo, which quarter turn stands its faces up, and runs its passes once,
on the photo turned that way:

1. *lock*: the half pass (run anyway) already shows which way up the photo
   is: candidates scoring >= :data:`LOCK_SCORE` whose landmarks stand up at
   one quarter turn (eyes above the mouth, within 45 degrees of vertical) sum
   to >= :data:`LOCK_EVIDENCE`, at least twice what those standing at any
   other turn sum to (:func:`locked`). Upright (about 40% of upright WIDER
   photos), nothing more is spent; lying on a side, the probe is skipped
   and the turn goes to the check (step 4). Upside down never locks:
   CenterFace often reads an upside-down face's landmarks as upright;
   *base lock*: when the half pass leans upright without locking (its
   upright-standing candidates >= :data:`LOCK_SCORE` sum to >= :data:`BASE_HINT`,
   twice any other turn's: :func:`stands_up`), the base pass of the photo as
   stored, which the passes need anyway if it stays as it is, is run now; when
   it stands up the same way with >= :data:`BASE_LOCK`, the photo stays as it
   is and nothing more is spent (110 of the 182 upright wider-dev photos the
   half pass left open, 1 of its sideways copies, which stayed as stored
   before too); otherwise the probe decides, and the base pass is wasted only
   if the photo turns (10 Mpx over the 305 sideways copies, about 2%);
2. *probe*: otherwise the photo, shrunk to :data:`PROBE_SIDE` px on its long
   side, is run at the four quarter turns (two network calls of two images,
   together about a fifth of a full-size pass). Each turn gets its
   :func:`evidence`: the scores of its candidates >= 0.35 whose landmarks
   stand up, plus a little of its five best scores. The best other turn is
   the candidate when it beats the photo as it is by :data:`PROBE_MARGIN`
   and reaches :data:`PROBE_MIN`;
3. *second look*: when no turn of the probe shows anything
   (:func:`faint`: crowds of faces too small for 320 px), the half pass is
   run at the two other turns the probe rates highest (:func:`second_turns`)
   and read the same way (:data:`SECOND_MARGIN`, :data:`SECOND_MIN`);
4. *check* (:func:`check`): the half pass of the candidate turn (needed by
   the passes anyway) must show more upright-standing evidence than the half
   pass of the photo as stored, or the photo stays as it is; unless it shows
   clearly more (:data:`SURE_RATIO`, :data:`SURE_MARGIN`), and always after a
   second look, the passes run both ways and the faces of both are kept
   (``"both"``): a doubtful turn costs a second full pass, never a face.

Landmarks are the reliable part: on a turned face CenterFace's score is often
high enough to be a candidate while its five points still say which way the
face lies. Figures on wider-dev and its sideways copies are in
docs/detection.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._centerface import Raw

__all__ = [
    "BASE_HINT", "BASE_LOCK", "LOCK_EVIDENCE", "LOCK_SCORE", "PROBE_MARGIN", "PROBE_MIN", "PROBE_SIDE",
    "roll", "evidence", "locked", "stands_up", "best_quarter", "faint", "second_turns", "check",
]  # fmt: skip

PROBE_SIDE = 320  # long side (px) of the four probe images
LOCK_SCORE = 0.5  # candidates of the half pass that may lock the photo's turn...
LOCK_EVIDENCE = 1.5  # ...when those standing up at it sum to this (upright, 1.0 let 6 of 305
# sideways copies lock, upside-down crowds among them, for 22 more probes of 305 upright photos)
BASE_HINT = 0.5  # a half pass leaning upright this much (twice any other turn) runs the base pass first...
BASE_LOCK = 0.8  # ...which keeps the photo as it is when it stands up this much (twice any other turn):
# one clear face. Sideways copies whose half pass leaned upright showed at most 0.66 there (a misread
# face; 0.7 against 0.68 upside down on an upside-down crowd, which the "twice" stops); 0.7 would lock
# 23 more upright photos, 0.5 one sideways copy wrongly.
PROBE_SCORE = 0.35  # probe candidates whose landmarks count
PROBE_TOP = 5  # best scores per probe that count, at PROBE_TOP_WEIGHT
PROBE_TOP_WEIGHT = 0.3
PROBE_MARGIN = 0.1  # a turn must beat the photo as it is by this...
PROBE_MIN = 0.2  # ...and reach this (photos without faces score 0-0.16 every way)
PROBE_FAINT = 0.3  # no probe turn reaching this: take a second look at half scale
SECOND_MARGIN = 0.2  # the second look's best other turn must beat the stored one by this...
SECOND_MIN = 0.5  # ...and reach this
SURE_RATIO = 1.5  # a turn is taken alone when its half pass's evidence is at least
SURE_MARGIN = 0.2  # SURE_RATIO x the stored half pass's + SURE_MARGIN; else both ways


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


def locked(half: Raw) -> int | None:
    """The quarter turn (0, 1 or 3) the half pass's candidates already show
    stands the photo up (step 1), or None when they do not show it clearly."""
    votes = _quarters(half, LOCK_SCORE)
    k = int(np.argmax(votes))
    others = np.delete(votes, k).max()
    if k == 2 or votes[k] < LOCK_EVIDENCE or votes[k] < 2 * others:
        return None  # upside down never locks: CenterFace reads many upside-down faces as upright
    return k


def stands_up(raw: Raw, least: float) -> bool:
    """Whether ``raw``'s candidates >= :data:`LOCK_SCORE` standing upright sum
    to >= ``least``, at least twice what those standing at any other turn sum to
    (the base lock, step 1)."""
    votes = _quarters(raw, LOCK_SCORE)
    return bool(votes[0] >= least and votes[0] >= 2 * votes[1:].max())


def evidence(raw: Raw) -> float:
    """How clearly ``raw``'s candidates show upright faces: the scores of those
    >= 0.35 whose landmarks stand up, plus 0.3 x the five best scores."""
    top = np.sort(raw.scores)[::-1][:PROBE_TOP].sum()
    return float(_quarters(raw, PROBE_SCORE)[0] + PROBE_TOP_WEIGHT * top)


def best_quarter(probes: Sequence[Raw | None], *, margin: float = PROBE_MARGIN, least: float = PROBE_MIN) -> int:
    """The quarter turn (0-3, counter-clockwise, as ``np.rot90``'s ``k``) that
    stands the photo up, from passes of the photo turned by 0-3 quarters
    (``None``: a turn not looked at) (step 2, or 3 with the second look's
    ``margin`` and ``least``); 0 unless another turn beats the photo as it is
    by ``margin`` and reaches ``least``."""
    scores = [-np.inf if raw is None else evidence(raw) for raw in probes]
    k = int(np.argmax(scores[1:])) + 1
    return k if scores[k] >= max(scores[0] + margin, least) else 0


def faint(probes: list[Raw]) -> bool:
    """Whether no turn of the probe shows enough to decide on (step 3)."""
    return max(evidence(raw) for raw in probes) < PROBE_FAINT


def second_turns(probes: list[Raw]) -> tuple[int, int]:
    """The two other turns (of 1-3) a faint probe rates highest, in turn order
    (a tie goes to the smaller turn): where the second look runs (step 3).
    On wider-dev and its sideways copies the third one changed one decision
    of 610, for the better (an upright traffic photo no longer turned)."""
    scores = [evidence(raw) for raw in probes]
    first, second = sorted((1, 2, 3), key=lambda k: -scores[k])[:2]
    return (min(first, second), max(first, second))


def check(stored: Raw, turned: Raw) -> str:
    """``"stay"``, ``"turn"`` or ``"both"`` for a candidate turn (step 4), from
    the half pass of the photo as stored and of the photo turned that way."""
    e0, ek = evidence(stored), evidence(turned)
    if ek < e0:
        return "stay"
    return "turn" if ek >= SURE_RATIO * e0 + SURE_MARGIN else "both"
