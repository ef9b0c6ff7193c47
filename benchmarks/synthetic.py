"""Synthetic replacement benchmark: private (a recogniser cannot link it) and natural (still a face).

Privacy — the scoring of :func:`facesafe.audit.reidentification` (each photo
replaced once, then scored for both alignments) on ../shared/data/identity-dev
(first photo of each person = gallery, the others replaced and probed), for
the originals, ``Pixelate()`` as the baseline, ``Synthesize()`` (built-in
donor, seeds 0-2) and ``Synthesize(donor=KSamePool(k))`` with every probe in the
pool (seeds 0-1; a hard case: one person has 7 of the 26 probes), and with the
probes among the faces of ``--strangers`` wider-dev photos (a realistic batch).
Faces are dlib's boxes grown upwards to the hair line (as facesafe's detector
boxes are), or with ``--boxes dlib`` dlib's own boxes (brows to chin), as
``benchmarks/reid.py`` hands them over. Both attacker alignments are run
(landmarks of the original / re-found on the output); the worse figure of the
two is reported. Targets: AUC <= 0.55,
linkability <= 1%. Each row also gives the AUC the same replaced faces score
when shuffled between the probes (mean over 200 shuffles): what a replacement
that carries nothing of its original would score on these few probes; the
difference ("leak") is what the replacement itself still links. Then the
spread to expect on held-out people: the AUC on ``--spread`` galleries of 14
people drawn with replacement from these, for ``Synthesize()`` (a seed drawn
at random per gallery) and for random strangers (every probe replaced by a
labelled wider-dev face of someone else: nothing of anyone leaks), whose
spread is the set size's alone.

Naturalness — on every identity-dev photo and the wider-dev photos: dlib's
HOG face detector (an independent detector) runs on the original; each face
it finds is replaced; dlib runs again on the output. Reported: the share of
those faces dlib still finds (IoU >= 0.3; target >= 80%) and the median
displacement of dlib's 68 landmarks between original and output (in
inter-ocular distances: pose kept), with Pixelate() as the baseline in the
same run.

    .venv/bin/python benchmarks/synthetic.py [--data ../shared/data] [--wider N] [--k 10] [--strangers N]
        [--seeds 0 1 2] [--no-ksame] [--skip-privacy] [--boxes grown|dlib] [--spread 400]

Exits 0 with a message when the data folder is absent (a fresh clone).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import DATA as DEFAULT_DATA
from reid import load_people

import facesafe
from facesafe import Box, Face
from facesafe.audit import enrol


def detector_faces(rec, image: np.ndarray, boxes: str = "grown") -> list[Face]:
    """dlib's faces, grown upwards to the hairline as facesafe's detector boxes are (dlib stops at the brows).

    With ``boxes="dlib"``, dlib's own boxes, as ``benchmarks/reid.py`` uses them.
    """
    faces = []
    for b in rec.detect(image):
        top = b.y0 if boxes == "dlib" else max(b.y0 - 0.25 * b.height, 0.0)
        faces.append(Face(Box(b.x0, top, b.x1, b.y1), detector="dlib"))
    return faces


def wider_faces(root: Path, limit: int) -> list[tuple[np.ndarray, list[Face]]]:
    """Up to ``limit`` wider-dev photos with their labelled faces of 48+ px (strangers for a k-Same pool)."""
    ann = json.loads((root / "annotations.json").read_text())
    out = []
    for item in ann["images"][:limit]:
        faces = [Face(Box.from_xywh(*f)) for f in item["faces"] if f[3] >= 48]
        if faces:
            out.append((facesafe.read_image(root / item["file"]), faces))
    return out


def _scores(enrolment, redaction, detect, rng: np.random.Generator) -> tuple[tuple[float, ...], list[np.ndarray]]:
    """(rank-1, AUC, linkability, shuffled AUC) of one redaction, the worse of both attacker alignments;
    and the probe descriptors of each alignment."""
    from facesafe.audit import _reid

    variants = ("original", "redacted")
    if redaction is None:
        descriptors = {v: [p.descriptor for p in enrolment.probes] for v in variants}
    else:
        descriptors = _reid._describe(enrolment.probes, redaction, detect, variants, enrolment.recogniser)
    gallery = np.stack([p.descriptor for p in enrolment.gallery])
    worst = np.zeros(4)
    for found in descriptors.values():
        probes = np.stack(found)
        rank1, auc, link = _reid._score(enrolment, probes, gallery, 0.6)
        shuffled = [_reid._score(enrolment, probes[rng.permutation(len(probes))], gallery, 0.6)[1] for _ in range(200)]
        worst = np.maximum(worst, [rank1, auc, link, float(np.mean(shuffled))])
    return tuple(float(x) for x in worst), [np.stack(found) for found in descriptors.values()]


def _resampled_aucs(enrolment, replaced: list[list[np.ndarray]], rng: np.random.Generator, n: int) -> np.ndarray:
    """AUCs on ``n`` galleries of people drawn with replacement from the enrolled ones (a held-out set's spread).

    Each draw takes one entry of ``replaced`` (a seed: descriptors per
    alignment) at random and scores the worse of its alignments.
    """
    from facesafe.audit._reid import roc_auc

    gallery = np.stack([p.descriptor for p in enrolment.gallery])
    index = {person: i for i, person in enumerate(enrolment.people)}
    truth = np.array([index[p.person] for p in enrolment.probes])
    out = np.empty(n)
    for i in range(n):
        chosen = rng.choice(len(gallery), len(gallery), replace=True)
        probes_of = [np.nonzero(truth == person)[0] for person in chosen]
        labels = np.concatenate([np.tile(chosen == person, (len(js), 1)) for person, js in zip(chosen, probes_of, strict=True)])
        worst = 0.0
        for probes in replaced[rng.integers(len(replaced))]:
            dist = np.concatenate([np.linalg.norm(probes[js][:, None] - gallery[chosen][None], axis=2) for js in probes_of])
            worst = max(worst, roc_auc(-dist, labels))
        out[i] = worst
    return out


def spread(enrolment, replaced: list[list[np.ndarray]], strangers: list, n: int, rng: np.random.Generator) -> None:
    """Print how the AUC of the default varies between held-out sets like this one, next to random strangers'.

    *Strangers*: every probe replaced by the face of someone else (dlib's
    descriptors of labelled wider-dev faces, drawn at random): a replacement
    that carries nothing of anyone in the gallery. Its spread is what a set of
    this size does on its own.
    """
    rec = enrolment.recogniser
    pool = np.stack([rec.describe(image, rec.landmarks(image, face.box)) for image, faces in strangers for face in faces])
    picks = [[pool[rng.choice(len(pool), len(enrolment.probes), replace=False)]] for _ in range(50)]
    print(f"held-out spread: AUC on {n} galleries of {len(enrolment.gallery)} people drawn with replacement")
    for label, rows in (("Synthesize() (the seeds above)", replaced), (f"random strangers ({len(pool)} wider-dev faces)", picks)):
        aucs = _resampled_aucs(enrolment, rows, rng, n)
        print(f"  {label:44} mean {aucs.mean():.3f}, sd {aucs.std():.3f}, AUC <= 0.55 in {np.mean(aucs <= 0.55):.0%}")


def privacy(
    people, rec_holder: dict, k: int, strangers: list, seeds: list[int], ksame: bool, boxes: str = "grown",
    spread_n: int = 0, spread_faces: list = (),
) -> None:
    from facesafe import FaceMesher

    t0 = time.perf_counter()
    enrolment = enrol(people)
    rec = enrolment.recogniser
    rec_holder["rec"] = rec
    print(
        f"identity-dev: {len(enrolment.people)} people, {len(enrolment.probes)} probes "
        f"({enrolment.skipped} photos without a dlib face skipped); {boxes} boxes"
    )
    mesher = FaceMesher()
    meshed: dict[int, list[Face]] = {}

    def detect(image):  # dlib's faces, meshed once per photo (every method redacts the same arrays)
        if id(image) not in meshed:
            meshed[id(image)] = mesher(image, detector_faces(rec, image, boxes))
        return meshed[id(image)]

    rows = [("originals", None), ("baseline Pixelate()", facesafe.Pixelate())]
    rows += [(f"Synthesize(seed={s})", facesafe.Synthesize(seed=s, mesher=mesher)) for s in seeds]
    pools = []
    if ksame:
        for seed in (0, 1):
            pool = facesafe.KSamePool(k=k, seed=seed)
            for photo in enrolment.probes:
                pool.add(photo.image, detect(photo.image))
            pools.append(pool)
        crowd = facesafe.KSamePool(k=k, seed=0)  # a realistic batch: the probes among strangers
        for photo in enrolment.probes:
            crowd.add(photo.image, detect(photo.image))
        for image, faces in strangers:
            crowd.add(image, mesher(image, faces))
        rows += [
            (f"k-Same k={k}, pool {len(p)}, seed={s}", facesafe.Synthesize(seed=s, donor=p, mesher=mesher))
            for s, p in enumerate(pools)
        ]
        rows.append((f"k-Same k={k}, probes + {len(crowd) - len(enrolment.probes)} strangers",
                     facesafe.Synthesize(donor=crowd, mesher=mesher)))
        pools.append(crowd)
    rng = np.random.default_rng(0)
    means: dict[str, list] = {}
    header = f"{'method (worse of both alignments)':40} {'rank-1':>7} {'AUC':>6} {'linkability':>12} {'shuffled AUC':>13} {'leak':>6}"
    print(header)
    print("-" * len(header))
    replaced = []  # descriptors of the built-in donor's seeds, for the held-out spread
    for label, redaction in rows:
        (rank1, auc, link, shuffled), descriptors = _scores(enrolment, redaction, detect, rng)
        if label.startswith("Synthesize("):
            replaced.append(descriptors)
        print(f"{label:40} {rank1:7.2f} {auc:6.3f} {link:12.1%} {shuffled:13.3f} {auc - shuffled:+6.3f}")
        if redaction is not None and not label.startswith("baseline"):
            means.setdefault(label.split("seed=")[0].rstrip("(, "), []).append((rank1, auc, link, shuffled))
    for label, values in means.items():
        r1, auc, link, shuffled = np.mean(values, axis=0)
        ok = "  ok" if auc <= 0.55 and link <= 0.01 else "  ABOVE TARGET"
        print(f"{'mean over seeds: ' + label:40} {r1:7.2f} {auc:6.3f} {link:12.1%} {shuffled:13.3f} {auc - shuffled:+6.3f}{ok}")
    for pool in pools:
        pool.clear()
    if spread_n and spread_faces:
        spread(enrolment, replaced, list(spread_faces), spread_n, rng)
    print(f"chance: rank-1 {1 / len(enrolment.people):.2f}, AUC 0.500 ({time.perf_counter() - t0:.0f}s)\n")


def _landmarks68(rec, image, box):
    import face_recognition_models

    if "p68" not in rec.__dict__:
        rec.p68 = rec.dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    shape = rec.p68(np.ascontiguousarray(image), rec._rect(box))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float64)


def naturalness(images: list[np.ndarray], rec) -> None:
    from facesafe import FaceMesher

    t0 = time.perf_counter()
    mesher = FaceMesher()
    methods = [("baseline Pixelate()", facesafe.Pixelate()), ("Synthesize()", facesafe.Synthesize(mesher=mesher))]
    stats = {label: {"found": 0, "faces": 0, "synth": 0, "synth_found": 0, "disp": []} for label, _ in methods}
    for image in images:
        boxes = rec.detect(image)
        if not boxes:
            continue
        faces = mesher(image, detector_faces(rec, image))
        for label, redaction in methods:
            s = stats[label]
            if isinstance(redaction, facesafe.Synthesize):
                replaced = redaction.replace(image, faces)
                out, fell_back = replaced.image, set(replaced.fell_back)
            else:
                out, fell_back = redaction(image, faces), set()
            after = rec.detect(out)
            for i, box in enumerate(boxes):
                found = any(box.iou(b) >= 0.3 for b in after)
                s["faces"] += 1
                s["found"] += found
                if i not in fell_back:
                    s["synth"] += 1
                    s["synth_found"] += found
                    a, b = _landmarks68(rec, image, box), _landmarks68(rec, out, box)
                    iod = np.linalg.norm(a[36] - a[45])
                    s["disp"].append(float(np.linalg.norm(a - b, axis=1).mean() / max(iod, 1e-6)))
    print(f"{'method':24} {'dlib still finds':>17} {'(synthesised only)':>19} {'median 68-pt displacement':>26}")
    for label, _ in methods:
        s = stats[label]
        only = f"{s['synth_found'] / max(s['synth'], 1):.1%} of {s['synth']}" if label.startswith("Synth") else ""
        print(
            f"{label:24} {s['found'] / max(s['faces'], 1):10.1%} of {s['faces']:<4} {only:>19} "
            f"{np.median(s['disp']) if s['disp'] else float('nan'):18.3f} IOD"
        )
    print(f"target: >= 80% still found ({time.perf_counter() - t0:.0f}s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--wider", type=int, default=60, help="wider-dev photos used for naturalness")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--strangers", type=int, default=60, help="wider-dev photos whose faces join a k-Same pool")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the built-in donor")
    parser.add_argument("--no-ksame", action="store_true", help="skip the k-Same rows (faster)")
    parser.add_argument("--skip-privacy", action="store_true")
    parser.add_argument(
        "--spread", type=int, default=400, metavar="N",
        help="galleries drawn with replacement to show how the AUC varies between held-out sets (0: skip)",
    )
    parser.add_argument(
        "--boxes", choices=("grown", "dlib"), default="grown",
        help="privacy faces: dlib's boxes grown to the hair line, or dlib's own (as benchmarks/reid.py)",
    )
    args = parser.parse_args(argv)
    identity = args.data / "identity-dev"
    if not identity.is_dir():
        print(f"{identity} not found: the evaluation data lives outside the repo; nothing to measure.")
        return 0
    people = load_people(identity)
    holder: dict = {}
    wider = args.data / "wider-dev"
    if not args.skip_privacy:
        has_wider = (wider / "annotations.json").is_file() and not args.no_ksame
        strangers = wider_faces(wider, args.strangers) if has_wider else []
        others = wider_faces(wider, 120) if args.spread and (wider / "annotations.json").is_file() else []
        privacy(people, holder, args.k, strangers, args.seeds, not args.no_ksame, args.boxes, args.spread, others)
    rec = holder.get("rec")
    if rec is None:
        from facesafe.audit._reid import _Recogniser

        rec = _Recogniser()
    images = [photo for photos in people.values() for photo in photos]
    if args.wider and (wider / "annotations.json").is_file():
        ann = json.loads((wider / "annotations.json").read_text())
        # the photos with the largest faces, where dlib has something to find
        ranked = sorted(ann["images"], key=lambda im: -max((f[3] for f in im["faces"]), default=0))
        images += [facesafe.read_image(wider / im["file"]) for im in ranked[: args.wider]]
    print(f"naturalness on {len(images)} photos (identity-dev and wider-dev)")
    naturalness(images, rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
