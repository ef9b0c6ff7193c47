"""Re-identification benchmark: can dlib's face recogniser still match redacted faces?

Runs :func:`facesafe.audit.reidentification` over ../shared/data/identity-dev
(first photo of each person = gallery, the others redacted and probed) for
the originals, for every redaction in ``facesafe.REDACTIONS`` with its
defaults, and for weak baselines measured in the same run (Gaussian blur of
5% and 20% of the face width without noise, the issue's reference points).

    .venv/bin/python benchmarks/reid.py [--data DIR] [--landmarks both|original|redacted]
        [--detector dlib|facesafe] [--extra] [--parrot] [--pool N] [--method SPEC ...] [--defaults blur,fill]
    .venv/bin/python benchmarks/reid.py --data ../shared/data/wider-dev --wider 200 ...

``--pool N`` also scores ``Synthesize(donor=DonorPool())`` with the pool a
batch run would build: the faces of every probe photo (the release) and of
the N wider-dev photos with most faces of 48+ px (strangers in the same
release), meshed with FaceMesh; gallery photos are the attacker's, not pooled.

Targets for every default: AUC <= 0.55 and linkability <= 2%. "closest" and
"median" are the probes' smallest and median distance to their own original
(dlib links under 0.6): with 26 probes a share of 0% says little, the margin
above 0.6 says more. ``--method "blur:sigma=0.5"`` (repeatable) adds rows.
With ``--wider N`` the people are N wider-dev photos, each scored against
itself (see :func:`self_pairs`): linkability on hundreds of faces.
Exits 0 with a message when the data folder is absent (a fresh clone).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import IDENTITY_DEV, PHOTO_SUFFIXES, deface_like_blur, parse_method

import facesafe
from facesafe.audit import enrol, reidentification


def load_people(root: Path) -> dict[str, list[np.ndarray]]:
    """``{set/person: [RGB arrays]}``, photos sorted by name (first = gallery)."""
    people: dict[str, list[np.ndarray]] = {}
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        photos = [facesafe.read_image(path) for path in paths]
        if photos:
            people[f"{folder.parent.name}/{folder.name}"] = photos
    return people


def self_pairs(root: Path, limit: int, min_face: int = 80) -> dict[str, list[np.ndarray]]:
    """wider-dev photos whose largest labelled face is >= ``min_face`` px high, each its own "person" enrolled twice.

    The gallery is the original and the probe the same photo redacted: the
    attacker holds the very photo. Linkability needs no second photo of anyone,
    so this gives hundreds of probes where identity-dev has 26 (rank-1 and AUC
    then ask whether a redacted face lies nearer its own original than other
    photos' faces).
    """
    annotations = json.loads((root / "annotations.json").read_text())
    people: dict[str, list[np.ndarray]] = {}
    for item in annotations["images"]:
        if len(people) >= limit:
            break
        if item["faces"] and max(face[3] for face in item["faces"]) >= min_face:
            image = facesafe.read_image(root / item["file"])
            people[item["file"]] = [image, image]
    return people


def facesafe_detector():
    """facesafe's own detector (balanced preset): faces as the pipeline would redact them."""
    cls = getattr(facesafe, "FaceDetector", None)
    if cls is None:  # not exported yet
        from facesafe._detect import FaceDetector as cls
    detector = cls(preset="balanced")
    found: dict[int, tuple] = {}

    def detect(image: np.ndarray) -> tuple:
        # every method redacts the same enrolled arrays (alive for the whole
        # run): detect once per photo, not once per photo and method
        key = id(image)
        if key not in found:
            found[key] = (image, tuple(detector(image)))
        return found[key][1]

    return detect


def methods(extra: bool, specs: list[str], defaults: list[str]) -> list[tuple[str, object]]:
    """(label, redaction) pairs: baselines first, then ``specs`` (``"blur:sigma=0.5"``), then every catalogue default."""
    rows: list[tuple[str, object]] = [
        ("baseline blur 5% (no noise)", facesafe.Blur(sigma=0.05, noise=0.0)),
        ("baseline blur 20% (no noise)", facesafe.Blur(sigma=0.20, noise=0.0)),
        ("baseline deface-like box blur", deface_like_blur),
    ]
    if extra:
        rows += [
            ("blur 10%", facesafe.Blur(sigma=0.10)),
            ("blur 15%", facesafe.Blur(sigma=0.15)),
            ("blur 20%", facesafe.Blur(sigma=0.20)),
            ("blur 25%", facesafe.Blur(sigma=0.25)),
            ("pixelate 16", facesafe.Pixelate(cells=16)),
            ("pixelate 12", facesafe.Pixelate(cells=12)),
            ("pixelate 10", facesafe.Pixelate(cells=10)),
            ("blur box shape", facesafe.Blur(shape="box")),
        ]
    rows += [(spec, parse_method(spec)) for spec in specs]
    rows += [(f"{name} (defaults)", facesafe.REDACTIONS[name]()) for name in defaults]
    return rows


def donor_pool(enrolment, wider: int, data: Path) -> facesafe.DonorPool:
    """The DonorPool of a release made of the probe photos and ``wider`` wider-dev photos (see the module docstring)."""
    import json

    synth, pool = facesafe.Synthesize(), facesafe.DonorPool()
    for photo in enrolment.probes:
        faces = [facesafe.Face(b, detector="dlib") for b in photo.dlib_boxes] or [facesafe.Face(photo.box)]
        pool.add(photo.image, synth.meshed(photo.image, faces))
    root = data.parent / "wider-dev"
    ann = json.loads((root / "annotations.json").read_text())["images"]
    for item in sorted(ann, key=lambda it: -sum(f[3] >= 48 for f in it["faces"]))[:wider]:
        image = facesafe.read_image(root / item["file"])
        faces = [facesafe.Face(facesafe.Box.from_xywh(*f)) for f in item["faces"] if f[3] >= 48]
        pool.add(image, synth.meshed(image, faces))
    return pool


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=IDENTITY_DEV)
    parser.add_argument("--landmarks", choices=("both", "original", "redacted"), default="both")
    parser.add_argument("--detector", choices=("dlib", "facesafe"), default="dlib")
    parser.add_argument("--extra", action="store_true", help="also score intermediate strengths")
    parser.add_argument(
        "--method", action="append", default=[], help="also score 'name:option=value,...' (repeatable)"
    )
    parser.add_argument(
        "--defaults", default=",".join(facesafe.REDACTIONS), help="catalogue methods scored with their defaults"
    )
    parser.add_argument(
        "--wider", type=int, default=0, metavar="N", help="score N wider-dev photos against themselves instead"
    )
    parser.add_argument(
        "--parrot", action="store_true", help="also score each default against a gallery redacted the same way"
    )
    parser.add_argument("--pool", type=int, default=None, metavar="N",
                        help="also score Synthesize with a DonorPool of the probes and N wider-dev photos")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data} not found: the identity data lives outside the repo; nothing to measure.")
        return 0
    t0 = time.perf_counter()
    people = self_pairs(args.data, args.wider) if args.wider else load_people(args.data)
    enrolment = enrol(people)
    print(
        f"{args.data.name}: {len(enrolment.people)} people, {len(enrolment.probes)} probes, "
        f"{enrolment.skipped} photos skipped (no dlib face); landmarks={args.landmarks}, "
        f"faces for redaction from {args.detector}; enrolled in {time.perf_counter() - t0:.0f}s"
    )
    detector = facesafe_detector() if args.detector == "facesafe" else None
    header = f"{'method':34} {'rank-1':>7} {'AUC':>6} {'linkability':>12} {'closest':>8} {'median':>7}"
    print(header)
    print("-" * len(header))
    failed = []
    rows = [("originals", None), *methods(args.extra, args.method, [n for n in args.defaults.split(",") if n])]
    if args.pool is not None:
        pool = donor_pool(enrolment, args.pool, args.data)
        print(f"donor pool: {len(pool)} faces (probes and {args.pool} wider-dev photos)")
        rows.append(("synthetic, donor pool (batch)", facesafe.Synthesize(donor=pool)))
    for label, redaction in rows:
        result = reidentification(
            enrolment, redaction, method=label, detector=detector, landmarks=args.landmarks
        )
        ok = ""
        if label.endswith("(defaults)"):
            passed = result.auc <= 0.55 and result.linkability <= 0.02
            ok = "  ok" if passed else "  ABOVE TARGET"
            if not passed:
                failed.append(label)
        own = np.array(result.distances)
        print(
            f"{label:34} {result.rank1:7.2f} {result.auc:6.3f} {result.linkability:12.1%}"
            f" {own.min():8.3f} {np.median(own):7.3f}{ok}",
            flush=True,
        )
        if args.parrot and label.endswith("(defaults)"):
            parrot = reidentification(
                enrolment, redaction, detector=detector, landmarks=args.landmarks, gallery="redacted"
            )
            print(f"{'  ... vs redacted gallery (parrot)':34} {parrot.rank1:7.2f} {parrot.auc:6.3f}")
    print(f"chance: rank-1 {1 / len(enrolment.people):.2f}, AUC 0.500; target for defaults: "
          f"AUC <= 0.55, linkability <= 2%; {time.perf_counter() - t0:.0f}s")
    if failed:
        print("above target:", ", ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
