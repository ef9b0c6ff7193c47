"""How well does `facesafe verify` tell a clean release from a leaky one? (wider-dev)

For N wider-dev photos (spread over the events):

1. for each ``--methods`` (default: blur, pixelate, fill, crop), anonymise them
   through the batch runner (``--preset``, default ``balanced``: a default
   release) into a temporary folder; its time is the baseline. Then run
   :func:`facesafe.verify` on that folder without the run's manifest, with it
   (``--manifest``), and with ``judge_redaction=False`` (``--strict``: every
   confident detection, the reference the judgement starts from). The
   detections are computed once per file (the detector is memoised), so the
   three checks differ only in how verify judges them. Every reported face is
   sorted by the labelled faces (mapped into the output for ``crop``):

   - *leftover*: on a labelled face the run did not redact (none of its
     recorded boxes overlaps it): a face the anonymiser missed and verify
     rightly reports;
   - *on redacted*: on a labelled face the run did redact: a false alarm;
   - *elsewhere*: on no labelled face: a false alarm (detector noise, hair,
     hands), or now and then a face the annotators did not label.

   A clean default release should give no false alarm at all.
2. run the same check on the *originals* (unredacted): every photo with a
   labelled face must be flagged (the miss rate), and the share of labelled
   faces verify finds, by height.

    .venv/bin/python benchmarks/verify.py [--n 30] [--methods blur,pixelate,fill,crop,synthetic]
        [--preset balanced] [--min-score 0.5] [--skip-originals]

Exits 0 with a message when ../shared/data is absent (a fresh clone).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from _common import WIDER_DEV as DEFAULT_DATA

import facesafe
from facesafe import Box, Face
from facesafe._verify import FACE_SCORE_THRESHOLD, check_file

BUCKETS = ((10, 16), (16, 32), (32, 64), (64, 128), (128, 10**6))


class Memo:
    """The thorough detector, run once per distinct frame; the first call's time is kept per frame."""

    def __init__(self, detector: Callable[[np.ndarray], Sequence[Face]]) -> None:
        self.detector = detector
        self.cache: dict[str, tuple[Face, ...]] = {}
        self.seconds = self.cpu = 0.0

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        key = hashlib.sha256(np.ascontiguousarray(image).tobytes() + repr(image.shape).encode()).hexdigest()
        if key not in self.cache:
            t0, c0 = time.perf_counter(), time.process_time()
            self.cache[key] = tuple(self.detector(image))
            self.seconds += time.perf_counter() - t0
            self.cpu += time.process_time() - c0  # every thread of this process: load-proof, unlike wall time
        return self.cache[key]


def _matches(box: Box, truth: list[Box]) -> Box | None:
    cx, cy = box.center
    for t in truth:
        if t.iou(box) >= 0.3 or (t.x0 <= cx <= t.x1 and t.y0 <= cy <= t.y1 and box.height < 3 * t.height):
            return t
    return None


def _shift(box: Box, dx: float, dy: float) -> Box:
    return Box(box.x0 + dx, box.y0 + dy, box.x1 + dx, box.y1 + dy)


def _sort(report: facesafe.VerifyReport, runs: dict[str, tuple[list[Box], list[Box]]], details: bool = False) -> dict[str, int]:
    """Count a report's findings: leftover / on redacted / elsewhere faces, flagged files, set-apart detections."""
    out = {"leftover": 0, "on_redacted": 0, "elsewhere": 0, "flagged": 0, "false_files": 0, "apart": 0,
           "unconfirmed": 0, "unconfirmed_leftover": 0}

    def kind_of(box: Box, truth: list[Box], recorded: list[Box]) -> str:
        t = _matches(box, truth)
        if t is None:
            return "elsewhere"
        return "on_redacted" if any(t.iou(r) >= 0.3 or _matches(r, [t]) for r in recorded) else "leftover"

    for f in report.files:
        truth, recorded = runs.get(Path(f.rel).name, ([], []))
        out["flagged"] += not f.clean
        out["apart"] += len(f.redacted) + len(f.synthetic)
        false = 0
        for face in f.faces:
            kind = kind_of(face.box, truth, recorded)
            out[kind] += 1
            false += kind != "leftover"
            if details:
                print(f"    {kind}: {f.rel} {[round(v) for v in face.box.as_xyxy()]} score {face.score:.2f}")
        for face in (w for w in f.weak if w.looks == "unconfirmed"):  # set aside by the second look
            kind = kind_of(face.box, truth, recorded)
            out["unconfirmed"] += 1
            out["unconfirmed_leftover"] += kind == "leftover"  # a face left that the second look would hide: recall lost
            if details:
                print(f"    second look set aside ({kind}): {f.rel} {[round(v) for v in face.box.as_xyxy()]} score {face.score:.2f}")
        out["false_files"] += false > 0
    return out


def _release(method: str, sources: list[Path], truth: dict[str, list[Box]], tmp: Path, preset: str):
    """Anonymise ``sources``; (out folder, manifest, seconds, report, {name: (truth, recorded) in output pixels})."""
    from facesafe._batch._manifest import read_manifest

    out, manifest = tmp / method, tmp / f"{method}.sqlite"
    t0 = time.perf_counter()
    report = facesafe.anonymize_dir(sources, out, method=method, preset=preset, workers=1, manifest=manifest)
    seconds = time.perf_counter() - t0
    runs = {}
    for row in read_manifest(manifest)[1]:
        if row.status != "written":
            continue
        dx, dy = (-row.region[0], -row.region[1]) if row.region else (0.0, 0.0)
        recorded = [_shift(Box(*b[:4]), dx, dy) for frame in row.boxes or [] for b in frame]
        name = Path(row.source).name
        runs[Path(row.output).name] = ([_shift(t, dx, dy) for t in truth[name]], recorded)
    return out, manifest, seconds, report, runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--methods", default="blur,pixelate,fill,crop")
    parser.add_argument("--preset", default="balanced", help="preset of the anonymising run")
    parser.add_argument("--min-score", type=float, default=FACE_SCORE_THRESHOLD)
    parser.add_argument("--skip-originals", action="store_true")
    parser.add_argument("--details", action="store_true", help="print every false alarm")
    parser.add_argument("--keep", type=Path, help="write the releases here (kept; a re-run resumes them: no timing)")
    parser.add_argument("--cache", type=Path, help="pickle of the thorough detector's answers, reused and updated")
    args = parser.parse_args()
    if not (args.data / "annotations.json").exists():
        print(f"benchmarks/verify.py: no data at {args.data} (a fresh clone has none); nothing measured")
        return 0
    images = json.loads((args.data / "annotations.json").read_text())["images"]
    step = max(1, len(images) // args.n)
    chosen = images[::step][: args.n]
    sources = [args.data / item["file"] for item in chosen]
    truth = {Path(item["file"]).name: [Box.from_xywh(*f) for f in item["faces"] + item.get("ignore", [])] for item in chosen}
    labelled = {Path(item["file"]).name: [Box.from_xywh(*f) for f in item["faces"]] for item in chosen}

    from facesafe._detect import FaceDetector

    detector = Memo(FaceDetector(preset="thorough"))
    if args.cache and args.cache.exists():
        detector.cache = pickle.loads(args.cache.read_bytes())
    print(f"{len(sources)} wider-dev photos, {sum(map(len, labelled.values()))} labelled faces; facesafe from "
          f"{Path(facesafe.__file__).parent}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'release':<10} {'check':<11} {'flagged':>8} {'false alarms (files)':>21} {'on redacted':>12} "
          f"{'elsewhere':>10} {'leftovers':>10} {'set apart':>10} {'2nd look (leftovers)':>21}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep:
            tmp = str(args.keep)
        for method in filter(None, args.methods.split(",")):
            out, manifest, t_anon, report, runs = _release(method, sources, truth, Path(tmp), args.preset)
            spent, cpu = detector.seconds, detector.cpu
            checks = {
                "strict": facesafe.verify(out, detector=detector, min_score=args.min_score, judge_redaction=False),
                "pixels": facesafe.verify(out, detector=detector, min_score=args.min_score),
                "--manifest": facesafe.verify(out, detector=detector, min_score=args.min_score, manifest=manifest),
            }
            t_detect, c_detect = detector.seconds - spent, detector.cpu - cpu
            for name, result in checks.items():
                c = _sort(result, runs, args.details and name != 'strict')
                false = c["on_redacted"] + c["elsewhere"]
                print(f"{method:<10} {name:<11} {c['flagged']:>5}/{len(result.files):<2} {false:>13} ({c['false_files']:>2} files) "
                      f"{c['on_redacted']:>12} {c['elsewhere']:>10} {c['leftover']:>10} {c['apart']:>10} "
                      f"{c['unconfirmed']:>14} ({c['unconfirmed_leftover']})")
            print(f"{'':<10} anonymising ({args.preset}, baseline): {report.written} photos, {report.faces} faces, "
                  f"{t_anon:.1f} s; verify's detector: {t_detect:.1f} s = {t_detect / max(report.written, 1):.2f} s/photo, "
                  f"{c_detect / max(report.written, 1):.2f} CPU s/photo "
                  f"({t_detect / t_anon:.2f}x the anonymising run)")
            if args.cache:
                args.cache.write_bytes(pickle.dumps(detector.cache))
    if not args.skip_originals:
        _originals(sources, labelled, detector, args.min_score)
    if args.cache:
        args.cache.write_bytes(pickle.dumps(detector.cache))
    return 0


def _originals(sources: list[Path], labelled: dict[str, list[Box]], detector: Memo, min_score: float) -> None:
    found = {b: [0, 0] for b in BUCKETS}
    flagged = with_faces = dismissed = lost = 0
    for path in sources:
        check = check_file(path, detector, min_score=min_score)
        with_faces += bool(labelled[path.name])
        flagged += bool(labelled[path.name]) and bool(check.faces)
        dismissed += sum(_matches(face.box, labelled[path.name]) is not None for face in check.redacted)
        aside = [w for w in check.weak if w.looks == "unconfirmed"]
        for t in labelled[path.name]:
            hit = any(_matches(face.box, [t]) for face in check.faces)
            lost += not hit and any(_matches(face.box, [t]) for face in aside)
            for lo, hi in BUCKETS:
                if lo <= t.height < hi:
                    found[(lo, hi)][1] += 1
                    found[(lo, hi)][0] += hit
    print(f"originals (unredacted): {flagged}/{with_faces} photos with a labelled face flagged "
          f"(missed: {with_faces - flagged}); {dismissed} intact labelled faces wrongly judged 'looks redacted'; "
          f"{lost} found only before the second look (set aside by it: recall lost)")
    for (lo, hi), (hit, n) in found.items():
        label = f"{lo}-{hi}" if hi < 10**6 else f">={lo}"
        print(f"  faces {label:>8} px: {hit}/{n} found" + (f" ({hit / n:.0%})" if n else ""))
    total_hit = sum(h for h, _ in found.values())
    total = sum(n for _, n in found.values())
    print(f"  all faces: {total_hit}/{total} ({total_hit / max(total, 1):.0%})")


if __name__ == "__main__":
    sys.exit(main())
