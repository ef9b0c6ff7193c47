"""The review model behind the QA report: the verdict, what must be checked, what is worth a look.

Pure: :func:`build_review` reads nothing and draws nothing. It is given the
manifest's runs and rows, verify's findings by output, and ``look``, the one
callable that reads an output (``_report._look``: hash checked against the
manifest, thumbnail of the vouched bytes); tests pass a fake. ``_report``
draws the result as HTML.

Review rules, most serious first (``Reason.severity``):

0. verify still finds a face, metadata, or cannot read the output;
1. the output is not as the run left it (changed, missing, unreadable, no
   recorded hash): its pixels are withheld;
2. uncertain detections (score under :data:`LOW_SCORE`);
3. faces under :data:`SMALL_FACE_PX` high (near the recall limit);
4. faces that got the method's fallback redaction (a crop that could not
   keep enough of the photo and blurred it, a synthetic face too small or
   turned and pixelated): the output is not what the method promises.

0 and 1 are found after the run and *must* be checked; 2 to 4 are worth a
look, the photos with the most uncertain and small detections first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ._batch._manifest import box_kind

if TYPE_CHECKING:
    from ._batch._manifest import Row

__all__ = [
    "FELL_BACK", "LOW_SCORE", "MAX_QUEUE", "NOT_AS_WRITTEN", "SMALL", "SMALL_FACE_PX", "UNCERTAIN", "VERIFY_FINDING",
    "Detection", "Failure", "Item", "Look", "Reason", "Review", "Verdict", "build_review",
]  # fmt: skip

#: Detections under this score are queued for review (possible partial or false detections).
LOW_SCORE = 0.5
#: Faces under this height (pixels) are near the detector's recall limit: their neighbours may be missed.
SMALL_FACE_PX = 16
#: The review queue gets its thumbnails first, up to this many photos.
MAX_QUEUE = 200

#: Reason severities, most serious first (see the module docstring).
VERIFY_FINDING, NOT_AS_WRITTEN, UNCERTAIN, SMALL, FELL_BACK = 0, 1, 2, 3, 4


class Detection(NamedTuple):
    """One detected (and redacted) face as the manifest records it: frame, box in output pixels, score."""

    frame: int
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.y1 - self.y0

    @property
    def doubtful(self) -> bool:
        """Low score or near the recall limit: where a miss nearby is likeliest."""
        return self.score < LOW_SCORE or self.height < SMALL_FACE_PX


@dataclass(frozen=True, order=True)
class Reason:
    """Why an output is in the review queue; severities 0 and 1 must be checked (see the module docstring)."""

    severity: int
    text: str

    @property
    def must(self) -> bool:
        """A problem found after the run (verify, or an output not as the run left it)."""
        return self.severity <= NOT_AS_WRITTEN


@dataclass(frozen=True)
class Look:
    """What reading one output found: a thumbnail of bytes vouched for by the manifest, or why there is none.

    ``withheld`` names why the pixels are not shown (placeholder text) and
    ``problem`` is the finding for the review queue; both are ``None`` when the
    output matched the manifest.
    """

    thumb: str | None = None  # data: URI, only ever of bytes whose hash the manifest recorded
    size: tuple[int, int] | None = None  # the output's (width, height)
    withheld: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Item:
    """One written output under review."""

    row: Row
    name: str  # how the report names it (the output's name, not the source's, in --rename runs)
    detections: tuple[Detection, ...]
    reasons: tuple[Reason, ...]  # most serious first
    weight: int  # uncertain + small detections: where misses are likeliest
    look: Look = Look()

    def regions(self, kind: str) -> int:
        """Regions of ``kind`` (``"plate"``, ``"text"``; faces are :attr:`detections`) the run recorded and hid."""
        return sum(box_kind(box) == kind for frame in self.row.boxes or [] for box in frame)

    @property
    def must(self) -> bool:
        """A problem found after the run: the item is in "Must check"."""
        return any(reason.must for reason in self.reasons)


@dataclass(frozen=True)
class Failure:
    """An input that failed: nothing was written for it."""

    name: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    """The report's answer: ``level`` is ``"bad"`` (not ready), ``"warn"`` (review first) or ``"ok"``."""

    level: Literal["bad", "warn", "ok"]
    title: str
    detail: str


@dataclass(frozen=True)
class Review:
    """Everything the report says about a manifest, before any markup."""

    runs: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any]  # the last run's
    files: int  # rows in the manifest
    items: tuple[Item, ...]  # every written output, in manifest order
    failures: tuple[Failure, ...]
    pending: int
    skipped: int
    must: tuple[Item, ...]  # review queue, first tier
    worth: tuple[Item, ...]  # review queue, second tier
    verdict: Verdict
    crop: bool  # outputs are cut-outs: detections are not in their coordinates
    max_thumbnails: int

    @property
    def queue(self) -> tuple[Item, ...]:
        """The whole review queue, most serious first."""
        return self.must + self.worth

    @property
    def fell_back(self) -> int:
        """Faces that got the method's fallback redaction instead of its own, over every written output."""
        return sum(item.row.fell_back or 0 for item in self.items)

    @property
    def shown(self) -> tuple[Item, ...]:
        """The outputs drawn as thumbnails."""
        return tuple(item for item in self.items if item.look.thumb)


def build_review(
    runs: Sequence[Mapping[str, Any]],
    rows: Sequence[Row],
    *,
    findings: Mapping[str, Mapping[str, Any]] | None,
    look: Callable[[Row, bool], Look],
    max_thumbnails: int,
) -> Review:
    """Review the run(s) of a manifest.

    Args:
        runs, rows: the manifest's, as ``read_manifest`` returns them.
        findings: verify's flagged items by the ``output`` they concern;
            ``None`` when the outputs were not re-checked.
        look: ``look(row, draw)`` reads one written output; it is called
            for every one (so every output is checked against the manifest),
            with ``draw`` true for the first ``max_thumbnails`` in review order
            (the queue first).
        max_thumbnails: how many thumbnails may be drawn.
    """
    params = runs[-1].get("params", {}) if runs else {}
    hide_names = params.get("rename") is not None
    items = [_assess(row, findings, hide_names=hide_names) for row in rows if row.status == "written"]
    queue = sorted((item for item in items if item.reasons), key=_queue_order)
    order = queue[:MAX_QUEUE] + [item for item in items if not item.reasons] + queue[MAX_QUEUE:]
    looked = {id(item): _with_look(item, look(item.row, rank < max_thumbnails)) for rank, item in enumerate(order)}
    items = [looked[id(item)] for item in items]
    queue = sorted((item for item in items if item.reasons), key=_queue_order)
    failures = tuple(Failure(_display_name(r, hide_names), r.reason or "unknown") for r in rows if r.status == "failed")
    pending = sum(r.status == "pending" for r in rows)
    return Review(
        runs=tuple(runs), params=params, files=len(rows), items=tuple(items), failures=failures, pending=pending,
        skipped=sum(r.status == "skipped" for r in rows),
        must=tuple(item for item in queue if item.must), worth=tuple(item for item in queue if not item.must),
        verdict=_verdict(items, queue, failed=len(failures), pending=pending, verified=findings is not None),
        crop=params.get("method") == "crop" or any(item.row.method == "crop" for item in items),
        max_thumbnails=max_thumbnails,
    )  # fmt: skip


def _display_name(row: Row, hide_names: bool) -> str:
    if row.output and row.status == "written":
        try:
            return Path(row.output).name if hide_names else row.rel
        except TypeError:
            return row.rel
    return f"input sha256 {row.input_hash[:12]}…" if hide_names and row.input_hash else row.rel


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return word if n == 1 else (plural or word + "s")


def _assess(row: Row, findings: Mapping[str, Mapping[str, Any]] | None, *, hide_names: bool) -> Item:
    """An output's detections and the reasons to review it that the manifest and verify give."""
    detections = tuple(Detection(frame, *box) for frame, boxes in enumerate(row.boxes or []) for box in boxes if box_kind(box) == "face")
    reasons = []
    low = [d.score for d in detections if d.score < LOW_SCORE]
    if low:
        reasons.append(Reason(UNCERTAIN, f"{len(low)} uncertain {_plural(len(low), 'detection')} (score < {LOW_SCORE}, lowest {min(low):.2f})"))
    small = [d for d in detections if d.height < SMALL_FACE_PX]
    if small:
        reasons.append(Reason(SMALL, f"{len(small)} {_plural(len(small), 'face')} under {SMALL_FACE_PX} px high (near the recall limit)"))
    if row.fell_back:
        instead = f" instead of {row.method}" if row.method else ""
        reasons.append(Reason(FELL_BACK, f"{row.fell_back} {_plural(row.fell_back, 'face')} got the fallback redaction{instead}"))
    finding = findings.get(row.output) if findings is not None and row.output else None
    if finding:
        if finding.get("faces"):
            best = max(f["score"] for f in finding["faces"])
            reasons.append(Reason(VERIFY_FINDING, f"verify still finds {len(finding['faces'])} face(s) (score {best:.2f})"))
        if finding.get("text"):
            reasons.append(Reason(VERIFY_FINDING, f"verify still finds {len(finding['text'])} text line(s) in hidden plates or text"))
        if finding.get("metadata"):
            reasons.append(Reason(VERIFY_FINDING, f"verify finds metadata: {'; '.join(finding['metadata'][:3])}"))
        if finding.get("error"):
            reasons.append(Reason(VERIFY_FINDING, f"verify: {finding['error']}"))
    return Item(row, _display_name(row, hide_names), detections, tuple(sorted(reasons)), weight=len(low) + len(small))


def _with_look(item: Item, look: Look) -> Item:
    reasons = item.reasons if look.problem is None else tuple(sorted((*item.reasons, Reason(NOT_AS_WRITTEN, look.problem))))
    return dataclasses.replace(item, look=look, reasons=reasons)


def _queue_order(item: Item) -> tuple[int, int, str]:
    return (0 if item.must else 1, -item.weight, item.row.rel)


def _verdict(items: Sequence[Item], queue: Sequence[Item], *, failed: int, pending: int, verified: bool) -> Verdict:
    bad = sum(item.must for item in queue)
    if failed or pending or bad:
        why = []
        if failed:
            why.append(f"{failed:,} {_plural(failed, 'input')} failed (no output was written for them)")
        if pending:
            why.append(f"{pending:,} {_plural(pending, 'input')} never finished (interrupted run: resume it)")
        if bad:
            why.append(f"{bad:,} {_plural(bad, 'output')} with a problem found after the run")
        verdict = Verdict("bad", "Not ready to release", "; ".join(why) + ".")
    elif queue:
        n = len(queue)
        verdict = Verdict("warn", "Review before release", f"{n:,} {_plural(n, 'photo')} worth a look in the review queue; nothing failed.")
    else:
        verdict = Verdict("ok", "No problem found", "Every input was written, and no photo needs review.")
    if not verified:
        detail = " Outputs were not re-checked with facesafe verify (pass --verify)."
    else:
        hits = sum(any(reason.text.startswith("verify") for reason in item.reasons) for item in items)
        detail = f" facesafe verify flagged {hits:,} {_plural(hits, 'output')}." if hits else " facesafe verify found nothing in the outputs."
    return dataclasses.replace(verdict, detail=verdict.detail + detail)
