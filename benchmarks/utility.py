"""Utility benchmark: what each redaction costs a downstream model.

Runs facesafe's batch pipeline (:func:`facesafe.anonymize_dir`, default
``balanced`` preset, JPEG quality 92 as the CLI writes) over the first
``--photos`` photos (evenly spaced in name order, so every event folder
counts alike) of ../shared/data/wider-dev once per method, then scores
every output folder against the originals with the reviewers' own script,
``../shared/tools/utility.py`` (MediaPipe 0.10.21's bundled models: selfie
person segmentation, BlazePose ``model_complexity=1``, BlazeFace full range),
so these figures and theirs are computed by the same code:

- person IoU: person mask of the output vs the original's (1 = unchanged);
- pose lost: share of photos with a pose in the original where BlazePose finds none in the output;
- faces found: faces BlazeFace finds in the outputs / in the originals.

Faces are detected once per photo and shared by every method (the detector
is deterministic, so this is what separate runs would redact), which keeps
the methods' differences to the redaction alone. Rows:

- ``original``: the originals scored against themselves (1 / 0% / 100% by
  construction), with how many photos and faces the figures rest on;
- ``jpeg``: the originals through the same pipeline with nothing redacted
  (decode, re-encode at quality 92): the floor no method can beat;
- each ``--method``: a catalogue name with its defaults (``blur``,
  ``synthetic``, ...; run as the CLI runs it, whatever the batch builds for
  that method) or a name with options, ``"blur:sigma=0.5,noise=8"``, to compare
  settings in one run.

    .venv/bin/python benchmarks/utility.py [--photos N] [--method blur ...] [--keep DIR]

Default methods: blur, pixelate, fill, synthetic (``crop`` changes the frame,
and the scorer only compares outputs of the original's size). Exits 0 with a
message when the data folder is absent (a fresh clone).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import SHARED, WIDER_PHOTOS, absent, parse_method, photos

import facesafe

SCORER = SHARED / "tools" / "utility.py"
DEFAULT_METHODS = ("blur", "pixelate", "fill", "synthetic")


class CachedDetector:
    """facesafe's detector (``preset``), run once per distinct image: every method gets the same faces.

    The faces are kept as pickles in ``folder`` (the batch run works on a
    pickled copy of its detector, so an in-memory cache would not survive).
    """

    def __init__(self, preset: str, folder: Path) -> None:
        self.preset, self.folder = preset, folder
        self._detector = None

    def __call__(self, image: np.ndarray, /) -> tuple[facesafe.Face, ...]:
        digest = hashlib.blake2b(image.tobytes() + repr(image.shape).encode(), digest_size=16).hexdigest()
        path = self.folder / f"{digest}.pickle"
        if path.exists():
            return pickle.loads(path.read_bytes())
        if self._detector is None:
            self._detector = facesafe.FaceDetector(preset=self.preset)
        faces = tuple(self._detector(image))
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(faces))
        return faces

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_detector": None}

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None


def unchanged(image: np.ndarray, faces, /) -> np.ndarray:
    """No redaction: the pipeline's decode and re-encode alone (the JPEG floor)."""
    return image.copy()


def method_for(spec: str):
    """``"jpeg"``: nothing redacted; ``"blur"``: the name, run as the CLI runs it; ``"blur:sigma=0.5"``: that redaction."""
    if spec == "jpeg":
        return unchanged
    return spec if spec in facesafe.REDACTIONS else parse_method(spec)


def score(scorer: Path, src: Path, out: Path) -> dict:
    """The reviewers' script's JSON line for one output folder (every photo of ``src``)."""
    done = subprocess.run([sys.executable, str(scorer), str(src), str(out)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{scorer} failed on {out}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(found: list[Path], n: int) -> list[Path]:
    """``n`` of ``found`` evenly spaced over its name order (wider-dev: every event folder alike); all when 0."""
    if not n or n >= len(found):
        return found
    return [found[i * len(found) // n] for i in range(n)]


def row(label: str, figures: dict, extra: str = "") -> str:
    return (
        f"{label:34} {figures['person_iou']:8.3f} {figures['pose_lost']:9.1%} {figures['face_rate']:11.1%}"
        f"  {extra}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=WIDER_PHOTOS, help="folder of photos (default: wider-dev)")
    parser.add_argument("--photos", type=int, default=0, help="N photos evenly spaced in name order (default: all)")
    parser.add_argument(
        "--method", action="append", default=None, help="a catalogue name or 'name:opt=value,...' (repeatable)"
    )
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--scorer", type=Path, default=SCORER, help="the reviewers' utility.py")
    parser.add_argument("--keep", type=Path, help="write the outputs here (kept) instead of a temporary folder")
    args = parser.parse_args(argv)
    if absent(args.data, "utility") or absent(args.scorer, "utility"):
        return 0
    specs = ["jpeg", *(args.method or DEFAULT_METHODS)]
    methods = [(spec, method_for(spec)) for spec in specs]
    sources = spread(photos(args.data), args.photos)
    work = Path(tempfile.mkdtemp(prefix="facesafe-utility-")) if args.keep is None else args.keep
    t0 = time.perf_counter()
    try:
        src = work / "originals"
        for photo in sources:  # the subset, mirrored: the scorer pairs outputs with originals by relative path
            target = src / photo.relative_to(args.data)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(photo, target)
        detector = CachedDetector(args.preset, work / f"faces-{args.preset}")
        print(
            f"{args.data}: {len(sources)} photos (every {len(photos(args.data)) / len(sources):.1f}th in name order); preset {args.preset}; "
            f"scored by {args.scorer}"
        )
        header = f"{'method':34} {'person IoU':>8} {'pose lost':>9} {'faces found':>11}  run"
        print(header)
        print("-" * len(header))
        results = {}
        for spec, method in methods:
            out = work / f"out-{len(results)}"
            start = time.perf_counter()
            report = facesafe.anonymize_dir(src, out, method=method, detector=detector, workers=0, overwrite=True)
            seconds = time.perf_counter() - start
            if report.failed:
                raise SystemExit(f"{spec}: {report.failed} photos failed: {report.failures[:3]}")
            figures = results[spec] = score(args.scorer, src, out)
            if spec == "jpeg":
                original = dict(person_iou=1.0, pose_lost=0.0, face_rate=1.0)
                print(row("original", original, f"{figures['photos']} photos: person in {figures['person_photos']}, "
                          f"pose in {figures['pose_photos']}, {figures['faces_original']} BlazeFace faces"))
            fell = f", {report.fell_back} fell back" if report.fell_back else ""
            done = "found" if method is unchanged else "redacted"
            print(row(spec, figures, f"{report.faces} faces {done}{fell}; {seconds:.0f}s"), flush=True)
        print(f"{time.perf_counter() - t0:.0f}s in all")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
