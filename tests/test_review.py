"""facesafe._review: the QA report's verdict and review queue, tested on manifest rows without any file or HTML."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import pytest

from facesafe._batch._manifest import Row
from facesafe._review import Look, Review, build_review

RUNS = [{"id": 1, "started": 0.0, "finished": 10.0, "facesafe_version": "0", "models": {}, "params": {"method": "fill"}, "command": None}]
BIG = (10.0, 10.0, 60.0, 70.0, 0.95)  # a confident 60 px face: nothing to review


def _row(rel: str, *faces: tuple[float, ...], status: str = "written", reason: str | None = None, fell_back: int = 0, method: str = "fill") -> Row:
    written = status == "written"
    return Row(
        source=f"/in/{rel}", rel=rel, status=status, reason=reason, input_hash=hashlib.sha256(rel.encode()).hexdigest(), input_format="png",
        faces=len(faces) if written else None, boxes=[[list(f) for f in faces]] if written else None, fell_back=fell_back if written else None,
        region=None, output=f"/out/{rel}" if status != "failed" else None, output_hash="0" * 64 if written else None,
        output_format="png", method=method, preset="balanced", params_key="k", facesafe_version="0", models={}, started=0.0,
        finished=1.0, run_id=1,
    )  # fmt: skip


class FakeLook:
    """Stands in for reading outputs: every output matches the manifest unless ``problems`` names it."""

    def __init__(self, problems: dict[str, str] | None = None) -> None:
        self.problems = problems or {}
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, row: Row, draw: bool) -> Look:
        self.calls.append((row.rel, draw))
        if row.rel in self.problems:
            return Look(withheld="changed since the run", problem=self.problems[row.rel])
        return Look(thumb="data:image/jpeg;base64,AA==", size=(4, 3)) if draw else Look()


def _review(rows: Sequence[Row], *, findings=None, look=None, max_thumbnails: int = 400, runs=RUNS) -> Review:
    return build_review(runs, rows, findings=findings, look=look or FakeLook(), max_thumbnails=max_thumbnails)


def test_a_clean_run_has_nothing_to_review():
    look = FakeLook()
    review = _review([_row("a.png", BIG), _row("b.png", BIG), _row("notes.txt", status="skipped", reason="not an image")], look=look)
    assert (review.verdict.level, review.verdict.title) == ("ok", "No problem found")
    assert review.verdict.detail.endswith("Outputs were not re-checked with facesafe verify (pass --verify).")
    assert review.queue == () and review.failures == () and (review.files, review.skipped, review.pending) == (3, 1, 0)
    assert look.calls == [("a.png", True), ("b.png", True)]  # only written outputs are read
    assert [item.name for item in review.shown] == ["a.png", "b.png"]


def test_failures_and_unfinished_inputs_are_not_ready():
    rows = [_row("a.png", BIG), _row("bad.jpg", status="failed", reason="CorruptImageError: truncated"), _row("c.png", status="pending")]
    review = _review(rows)
    assert (review.verdict.level, review.verdict.title) == ("bad", "Not ready to release")
    assert review.verdict.detail.startswith(
        "1 input failed (no output was written for them); 1 input never finished (interrupted run: resume it).")
    assert [(f.name, f.reason) for f in review.failures] == [("bad.jpg", "CorruptImageError: truncated")]
    assert review.pending == 1 and review.queue == ()


def test_a_changed_output_must_be_checked_and_is_never_drawn():
    look = FakeLook({"b.png": "output changed since the run (hash differs from the manifest)"})
    review = _review([_row("a.png", BIG), _row("b.png", BIG)], look=look)
    assert (review.verdict.level, review.verdict.title) == ("bad", "Not ready to release")
    assert review.verdict.detail.startswith("1 output with a problem found after the run.")
    [item] = review.must
    assert item.name == "b.png" and item.look.thumb is None and item.look.withheld == "changed since the run"
    assert [r.text for r in item.reasons] == ["output changed since the run (hash differs from the manifest)"]
    assert [i.name for i in review.shown] == ["a.png"] and review.worth == ()


def test_uncertain_and_small_detections_are_worth_a_look_most_doubtful_first():
    rows = [
        _row("one-low.png", BIG, (0, 0, 30, 30, 0.3)),
        _row("clean.png", BIG),
        _row("two-doubts.png", (0, 0, 12, 12, 0.4), (40, 40, 80, 80, 0.2)),
    ]
    review = _review(rows)
    assert (review.verdict.level, review.verdict.title) == ("warn", "Review before release")
    assert review.verdict.detail.startswith("2 photos worth a look in the review queue; nothing failed.")
    assert [i.name for i in review.worth] == ["two-doubts.png", "one-low.png"] and review.must == ()
    assert [r.text for r in review.worth[0].reasons] == [
        "2 uncertain detections (score < 0.5, lowest 0.20)", "1 face under 16 px high (near the recall limit)"]
    assert [r.text for r in review.worth[1].reasons] == ["1 uncertain detection (score < 0.5, lowest 0.30)"]


def test_verify_findings_must_be_checked():
    findings = {"/out/b.png": {"faces": [{"score": 0.7}, {"score": 0.9}], "metadata": ["GPS", "Make", "Model", "Date"], "error": None}}
    review = _review([_row("a.png", BIG), _row("b.png", BIG)], findings=findings)
    assert review.verdict.level == "bad"
    assert review.verdict.detail.endswith("facesafe verify flagged 1 output.")
    [item] = review.must
    assert [r.text for r in item.reasons] == ["verify finds metadata: GPS; Make; Model", "verify still finds 2 face(s) (score 0.90)"]
    clean = _review([_row("a.png", BIG)], findings={})
    assert clean.verdict.level == "ok" and clean.verdict.detail.endswith("facesafe verify found nothing in the outputs.")


def test_every_output_is_checked_but_only_the_budget_is_drawn_queue_first():
    look = FakeLook({"d.png": "output missing (deleted or moved since the run)"})
    rows = [_row("a.png", BIG), _row("b.png", BIG), _row("c.png", (0, 0, 10, 10, 0.9)), _row("d.png", BIG)]
    review = _review(rows, look=look, max_thumbnails=2)
    assert look.calls == [("c.png", True), ("a.png", True), ("b.png", False), ("d.png", False)]
    assert [i.name for i in review.must] == ["d.png"]  # found although beyond the thumbnail budget
    assert [i.name for i in review.shown] == ["a.png", "c.png"] and review.max_thumbnails == 2


def test_renamed_runs_name_outputs_not_sources():
    runs = [{**RUNS[0], "params": {"method": "blur", "rename": "hmac"}}]
    rows = [_row("secret/alice.png", BIG), _row("secret/bob.jpg", status="failed", reason="ImageError: x")]
    rows[0] = dataclasses.replace(rows[0], output="/out/3f9a.png")
    review = _review(rows, runs=runs)
    assert [i.name for i in review.items] == ["3f9a.png"]
    assert review.failures[0].name == f"input sha256 {rows[1].input_hash[:12]}…"


@pytest.mark.parametrize(("method", "crop"), [("crop", True), ("fill", False)])
def test_crop_runs_are_marked(method, crop):
    runs = [{**RUNS[0], "params": {"method": method}}]
    assert _review([_row("a.png", BIG, method=method)], runs=runs).crop is crop


def test_fallbacks_are_worth_a_look():
    runs = [{**RUNS[0], "params": {"method": "synthetic"}}]
    rows = [_row("a.png", BIG, method="synthetic"), _row("b.png", BIG, BIG, fell_back=2, method="synthetic")]
    review = _review(rows, runs=runs)
    assert (review.verdict.level, review.verdict.title) == ("warn", "Review before release")
    [item] = review.worth
    assert item.name == "b.png" and [r.text for r in item.reasons] == ["2 faces got the fallback redaction instead of synthetic"]
    assert not item.must
    assert review.fell_back == 2  # counted over the run, not only per photo


def test_plate_and_text_regions_are_not_counted_as_faces():
    plate = (0.0, 0.0, 40.0, 10.0, 0.3, "plate")  # small and uncertain: would be worth a look as a face
    review = _review([_row("car.png", BIG, plate, (5.0, 5.0, 9.0, 8.0, 0.6, "text"))])
    assert [tuple(d) for d in review.items[0].detections] == [(0, *BIG)]
    assert review.queue == () and review.verdict.level == "ok"


def test_text_left_in_hidden_plates_must_be_checked():
    findings = {"/out/car.png": {"faces": [], "metadata": [], "text": [{"frame": 0, "box": [0, 0, 40, 10], "score": 0.9}], "error": None}}
    [item] = _review([_row("car.png", BIG)], findings=findings).must
    assert [r.text for r in item.reasons] == ["verify still finds 1 text line(s) in hidden plates or text"]
