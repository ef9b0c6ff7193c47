"""The core's outputs on NumPy 1 against NumPy 2: same faces, same recall, pixel differences bounded.

Runs ``facesafe anonymize`` (this checkout's code, through PYTHONPATH) with two
interpreters, typically the Python 3.11 venv (NumPy 1, beside the synthetic
extra) and a Python 3.13 venv (NumPy 2, core only), on the same photos of
../shared/data/wider-dev (by default the first photo of each of its 61 event
folders), twice each:

- ``--method fill --color ff00ff``: scored by the shared scorer
  (../shared/tools/coverage.py, run as is) for recall and over-masking;
- the default method (blur) at the default preset, as a user runs it, with
  ``--format png`` so that the redaction's pixels are compared, not the JPEG
  encoder's.

It then compares the two runs: the faces each manifest records per photo
(count and boxes), the two recalls, and the blurred outputs pixel by pixel
(largest absolute difference, share of pixels that differ at all).

    python benchmarks/numpy2.py --a .venv/bin/python --b .venv313/bin/python [--every 5] [--workers 2]
        [--shared ../shared]

Measured (December 2026, 51 photos, --every 6): Python 3.11.7 + NumPy 1.26.4
against Python 3.13.0 + NumPy 2.5.5, both with OpenCV 4.11.0.86, onnxruntime
1.32.0, scikit-image 0.26.0, Pillow 13.0.0: the same 3,030 boxes with the same
scores on every photo, recall 0.983 (0.994 for faces >= 32 px) and over-mask
2.54% in both, and the blurred PNGs identical to the pixel (largest difference
0). NumPy's version changes nothing the core computes; OpenCV, onnxruntime and
the decoders do the pixel work, and they are the same builds in both.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VERSIONS = (
    "import sys, numpy, cv2, onnxruntime, skimage, PIL; "
    "print(f'Python {sys.version.split()[0]}, NumPy {numpy.__version__}, OpenCV {cv2.__version__}, '"
    "f'onnxruntime {onnxruntime.__version__}, scikit-image {skimage.__version__}, Pillow {PIL.__version__}')"
)


def _subset(data: Path, every: int, dest: Path) -> tuple[Path, Path]:
    """Link every ``every``-th photo into ``dest/images/...``; return (images folder, annotations file)."""
    annotations = json.loads((data / "annotations.json").read_text())
    chosen = annotations["images"][::every]
    for record in chosen:
        link = dest / record["file"]
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(data / record["file"])
    subset = dest / "annotations.json"
    subset.write_text(json.dumps({"images": chosen}))
    return dest / "images", subset


def _run(python: str, images: Path, out: Path, *options: str, workers: int) -> dict[str, list]:
    """Run the CLI with ``python`` on ``images``; return the boxes its manifest records per photo."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    manifest = out.with_name(out.name + ".sqlite")
    command = [python, "-m", "facesafe.cli", "anonymize", str(images), "--out", str(out), "--manifest", str(manifest),
               "--format", "png", "--workers", str(workers), "-q", *options]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    with closing(sqlite3.connect(manifest)) as db, db:
        return {rel: json.loads(boxes or "[]") for rel, boxes in db.execute("SELECT rel, boxes FROM files")}


def _faces(boxes: dict[str, list]) -> dict[str, list]:
    """Per photo, its faces ``[x0, y0, x1, y1, score]`` over all frames (the manifest keeps them per frame)."""
    return {rel: [face for frame in frames for face in frame] for rel, frames in boxes.items()}


def _recall(scorer: Path, annotations: Path, root: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, str(scorer), str(annotations), str(root), str(out.parent), "--ext", ".png", "--json"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _pixels(a: Path, b: Path) -> tuple[int, float, int]:
    """(largest absolute difference, share of pixels differing, photos differing) between two output trees."""
    largest, differing, total, photos = 0, 0, 0, 0
    for path in sorted(a.rglob("*.png")):
        x = np.asarray(Image.open(path), np.int16)
        y = np.asarray(Image.open(b / path.relative_to(a)), np.int16)
        d = np.abs(x - y).max(axis=-1)
        largest = max(largest, int(d.max()))
        differing += int((d > 0).sum())
        total += d.size
        photos += bool(d.any())
    return largest, differing / max(total, 1), photos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="first interpreter (e.g. the NumPy 1 venv's python)")
    parser.add_argument("--b", required=True, help="second interpreter (e.g. the NumPy 2 venv's python)")
    parser.add_argument("--every", type=int, default=5, help="take every N-th photo of wider-dev [5: one per event]")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared folder [../shared]")
    args = parser.parse_args()
    data, scorer = args.shared / "data" / "wider-dev", args.shared / "tools" / "coverage.py"
    if not data.is_dir():
        print(f"no benchmark data at {data}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="facesafe-numpy2-") as tmp:
        work = Path(tmp)
        images, annotations = _subset(data, args.every, work / "set")
        print(f"{len(json.loads(annotations.read_text())['images'])} photos of {data}")
        runs = {}
        for label, python in (("a", args.a), ("b", args.b)):
            print(f"{label}: " + subprocess.run([python, "-c", VERSIONS], capture_output=True, text=True, check=True).stdout.strip())
            fill = work / label / "fill" / "images"
            blur = work / label / "blur" / "images"
            runs[label] = {
                "fill_boxes": _run(python, images, fill, "--method", "fill", "--color", "ff00ff", workers=args.workers),
                "blur_boxes": _run(python, images, blur, workers=args.workers),
                "recall": _recall(scorer, annotations, work / "set", fill),
                "blur": blur,
            }
        a, b = runs["a"], runs["b"]
        for what in ("fill_boxes", "blur_boxes"):
            ka, kb = _faces(a[what]), _faces(b[what])
            same = sum(a[what][k] == b[what].get(k) for k in a[what])
            counts = sum(len(ka[k]) == len(kb.get(k, ())) for k in ka)
            shift = max((float(np.abs(np.subtract(ka[k], kb[k])).max()) for k in ka if ka[k] and len(ka[k]) == len(kb.get(k, ()))),
                        default=0.0)
            print(f"{what}: {same}/{len(a[what])} photos with identical boxes and scores, {counts} with the same number of "
                  f"faces, largest difference {shift:g} (px or score); faces found a {sum(map(len, ka.values()))}, "
                  f"b {sum(map(len, kb.values()))}")
        for label in ("a", "b"):
            r = runs[label]["recall"]
            print(f"recall {label}: " + json.dumps(r, sort_keys=True))
        print("recall identical:", runs["a"]["recall"] == runs["b"]["recall"])
        largest, share, photos = _pixels(a["blur"], b["blur"])
        print(f"blur outputs: {photos} photos differ; largest abs difference {largest}, {share:.5%} of pixels differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
