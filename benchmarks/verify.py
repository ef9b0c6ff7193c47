"""How well does `facesafe verify` tell a clean release from a leaky one? (wider-dev)

For N wider-dev photos (spread over the events):

1. anonymise them with ``--method`` (fill, blur, synthetic) through the batch runner
   into a temporary folder (the baseline time), then run :func:`facesafe.verify`
   on that folder (time as a ratio of the baseline). Every face verify reports
   is matched against the labelled faces: one on a labelled face is a real
   face left (an anonymiser miss the second look caught), the others are false
   alarms on a correctly redacted release;
2. run the same check on the *originals*: the share of photos verify flags
   (an unredacted photo must fail) and of labelled faces it finds, by height.

    .venv/bin/python benchmarks/verify.py [--n 30] [--method fill|blur|synthetic] [--preset balanced] [--min-score 0.5]

With ``--method synthetic`` verify is given the run's manifest (synthetic
faces are faces), and the check without it is printed too.

Exits 0 with a message when ../shared/data is absent (a fresh clone).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import facesafe
from facesafe import Box
from facesafe._verify import FACE_SCORE_THRESHOLD, WEAK_SCORE_FLOOR, check_file

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wider-dev"
BUCKETS = ((10, 16), (16, 32), (32, 64), (64, 128), (128, 10**6))


def _matches(box: Box, truth: list[Box]) -> Box | None:
    cx, cy = box.center
    for t in truth:
        if t.iou(box) >= 0.3 or (t.x0 <= cx <= t.x1 and t.y0 <= cy <= t.y1 and box.height < 3 * t.height):
            return t
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--method", default="fill")
    parser.add_argument("--preset", default="balanced", help="preset of the anonymising run")
    parser.add_argument("--min-score", type=float, default=FACE_SCORE_THRESHOLD)
    parser.add_argument("--skip-originals", action="store_true")
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

    detector = FaceDetector(preset="thorough")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        report = facesafe.anonymize_dir(sources, out, method=args.method, preset=args.preset, workers=1,
                                        manifest=Path(tmp) / "m.sqlite")
        t_anon = time.perf_counter() - t0
        t0 = time.perf_counter()
        synthetic = args.method == "synthetic"  # its faces are faces: verify takes the manifest's word for them
        result = facesafe.verify(out, detector=detector, min_score=args.min_score,
                                 manifest=Path(tmp) / "m.sqlite" if synthetic else None)
        t_verify = time.perf_counter() - t0
        plain = facesafe.verify(out, detector=detector, min_score=args.min_score) if synthetic else None
        real = false = 0
        flagged_false = set()
        for f in result.files:
            for face in f.faces:
                if _matches(face.box, truth.get(Path(f.rel).name, [])):
                    real += 1
                else:
                    false += 1
                    flagged_false.add(f.rel)
        weak = sum(len(f.weak) for f in result.files)
        looks = sum(len(f.redacted) for f in result.files)
        metadata = sum(bool(f.metadata) for f in result.files)
    print(f"anonymise ({args.method}, {args.preset}): {report.written} photos, {report.faces} faces in {t_anon:.1f} s "
          f"({report.written / t_anon:.2f} photos/s, baseline)")
    print(f"verify (thorough, score >= {args.min_score:g}): {len(result.files)} files in {t_verify:.1f} s "
          f"({len(result.files) / t_verify:.2f} files/s, {t_verify / t_anon:.2f}x the anonymising run)")
    print(f"  faces reported on labelled faces (real leftovers): {real}")
    print(f"  faces reported elsewhere (false alarms): {false} in {len(flagged_false)} of {len(result.files)} photos")
    print(f"  weak detections listed ({WEAK_SCORE_FLOOR:g} <= score < {args.min_score:g}): {weak}; "
          f"confident but looking redacted: {looks}; files with metadata: {metadata}")
    print(f"  verdict: {'clean' if result.clean else f'{len(result.flagged)} files flagged'}")
    if plain is not None:
        print(f"  synthetic: {sum(len(f.synthetic) for f in result.files)} detections on faces the manifest records as "
              f"synthesised, set apart; without --manifest {len(plain.flagged)} of {len(plain.files)} files are flagged")

    if args.skip_originals:
        return 0
    found = {b: [0, 0] for b in BUCKETS}
    photos_flagged = dismissed = 0
    t0 = time.perf_counter()
    for path in sources:
        check = check_file(path, detector, min_score=args.min_score)
        photos_flagged += bool(check.faces)
        dismissed += sum(_matches(face.box, labelled[path.name]) is not None for face in check.redacted)
        for t in labelled[path.name]:
            for lo, hi in BUCKETS:
                if lo <= t.height < hi:
                    found[(lo, hi)][1] += 1
                    found[(lo, hi)][0] += any(_matches(face.box, [t]) for face in check.faces)
    t_orig = time.perf_counter() - t0
    print(f"originals (unredacted): {photos_flagged}/{len(sources)} photos flagged in {t_orig:.1f} s; "
          f"{dismissed} intact labelled faces wrongly judged 'looks redacted'")
    for (lo, hi), (hit, n) in found.items():
        label = f"{lo}-{hi}" if hi < 10**6 else f">={lo}"
        print(f"  faces {label:>8} px: {hit}/{n} found" + (f" ({hit / n:.0%})" if n else ""))
    total_hit = sum(h for h, _ in found.values())
    total = sum(n for _, n in found.values())
    print(f"  all faces: {total_hit}/{total} ({total_hit / max(total, 1):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
