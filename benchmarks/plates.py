"""Licence plates: recall, over-mask, redaction strength and speed cost (plates-dev).

On ../shared/data/plates-dev (222 European and Brazilian cars, one labelled
plate each), ``--threads`` threads (default 2, one per core) share one
:class:`FaceDetector` (preset ``--preset``) and one plate
:class:`TextDetector`, and for every photo, in the same run:

1. *faces alone* (the baseline): read -> faces -> blur -> PNG;
2. *faces + plates*: read -> faces and plates -> blur the faces, pixelate
   the plates (:func:`redact_regions`, the default) -> PNG. The speed cost
   is the ratio of the two summed times (aim: <= 1.5x);
3. *coverage*: the plates alone filled with pure magenta, scored by the
   shared scorer run as is (``coverage.py --key plates``): a plate is masked
   when 90% of its central 60% x 60% is; over-mask is the share of pixels
   masked outside every plate box grown by 50% (faces are not drawn, so
   they do not count);
4. *redaction strength*: the PP-OCRv4 recogniser (:class:`TextReader`)
   reads each labelled plate (its box, and its box grown 1.3) in the
   original (the baseline: how many plates are readable at all) and in the
   pixelated and the filled outputs. A plate is *read* when the text read
   matches the label on at least half of its characters (difflib ratio
   >= 0.5, letters and digits only, 3 or more). Done means 0.

    .venv/bin/python benchmarks/plates.py [--limit N] [--threads 2] [--preset balanced] [--tiles]

Exits 0 with a message when ../shared/data is absent (a fresh clone).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "plates-dev"
MAGENTA = (255, 0, 255)


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def _reads(text: str, label: str) -> bool:
    """Does ``text`` (recognised) give away the plate ``label``?"""
    got, want = _alnum(text), _alnum(label)
    return len(got) >= 3 and difflib.SequenceMatcher(None, got, want).ratio() >= 0.5


def _write(path: Path, image: np.ndarray) -> None:
    import facesafe

    path.parent.mkdir(parents=True, exist_ok=True)
    facesafe.write_image(path, image)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--tiles", action="store_true", help="TextDetector(tiles=True)")
    args = parser.parse_args()
    if not (args.data / "annotations.json").exists():
        print(f"benchmarks/plates.py: no data at {args.data} (a fresh clone has none); nothing measured")
        return 0

    import facesafe
    from facesafe._detect._text import TextDetector, TextReader
    from facesafe._redact._text import redact_regions

    images = json.loads((args.data / "annotations.json").read_text())["images"][: args.limit]
    one = 1 if args.threads > 1 else None
    faces_det = facesafe.FaceDetector(preset=args.preset, threads=one)
    plate_det = TextDetector(kinds=("plate",), tiles=args.tiles, threads=one)
    reader = TextReader(threads=one)
    blur = facesafe.Blur()
    magenta = facesafe.Fill(color=MAGENTA, shape="box", grow=1.0)
    lock = threading.Lock()
    times = {"faces": 0.0, "faces+plates": 0.0}
    counts = {"readable originals": 0, "read after pixelate": 0, "read after fill": 0, "plates found": 0}
    counts |= {"regions": 0, "regions elsewhere": 0, "photos with regions elsewhere": 0}
    leaks: list[str] = []

    with tempfile.TemporaryDirectory(prefix="facesafe-plates-") as tmp:
        out = Path(tmp)

        def one_photo(im: dict) -> None:
            rel = Path(im["file"]).with_suffix(".png")
            src = args.data / im["file"]
            # 1. faces alone
            t0 = time.perf_counter()
            img = facesafe.read_image(src)
            faces = faces_det(img)
            _write(out / "faces" / rel, blur(img, faces))
            t1 = time.perf_counter()
            # 2. faces + plates
            img = facesafe.read_image(src)
            faces = faces_det(img)
            plates = plate_det(img)
            pixelated = redact_regions(blur(img, faces), plates)
            _write(out / "both" / rel, pixelated)
            t2 = time.perf_counter()
            # 3. coverage (plates alone, magenta)
            _write(out / "coverage" / rel, magenta(img, plates))
            # 4. redaction strength
            filled = redact_regions(img, plates, method="fill")
            found = readable = read_pix = read_fill = 0
            truth = [facesafe.Box.from_xywh(*xywh) for xywh in im["plates"]]
            elsewhere = sum(not any(p.box.intersection(t) > 0 for t in truth) for p in plates)
            for box, label in zip(truth, im["texts"], strict=True):  # one text per plate
                found += any(p.box.intersection(box) > 0.5 * box.area for p in plates)
                for b in (box, box.expanded(1.3)):
                    readable |= _reads(reader(img, b)[0], label)
                    read_pix |= _reads(reader(pixelated, b)[0], label)
                    read_fill |= _reads(reader(filled, b)[0], label)
            with lock:
                times["faces"] += t1 - t0
                times["faces+plates"] += t2 - t1
                counts["plates found"] += found
                counts["regions"] += len(plates)
                counts["regions elsewhere"] += elsewhere
                counts["photos with regions elsewhere"] += elsewhere > 0
                counts["readable originals"] += readable
                counts["read after pixelate"] += read_pix
                counts["read after fill"] += read_fill
                if read_pix or read_fill:
                    leaks.append(im["file"])

        start = time.perf_counter()
        with ThreadPoolExecutor(max(1, args.threads)) as pool:
            list(pool.map(one_photo, images))
        wall = time.perf_counter() - start

        subset = out / "annotations.json"
        subset.write_text(json.dumps({"images": images}))
        scorer = args.data.parents[1] / "tools" / "coverage.py"  # shared/data/plates-dev -> shared/tools
        cmd = [sys.executable, str(scorer), str(subset), str(args.data), str(out / "coverage"), "--ext", ".png", "--key", "plates"]
        res = subprocess.run([*cmd, "--json"], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"benchmarks/plates.py: the scorer failed:\n{res.stderr}")
        score = json.loads(res.stdout)

    n = len(images)
    print(f"plates-dev: {n} photos, {score['faces']} plates, preset {args.preset}, {args.threads} threads, "
          f"tiles {args.tiles}, wall {wall:.0f} s")
    print(f"masked (coverage.py --key plates): {score['recall']:.4f}   over-mask {score['overmask_mean']:.4f}   "
          f"missing outputs {score['missing_outputs']}")
    for bucket, (recall, count) in score["recall_by_height"].items():
        if count:
            print(f"  plate height {bucket:>9}: {recall:.4f} (n={count})")
    print(f"plates with a detected region over half of them: {counts['plates found']}/{score['faces']}")
    print(f"plate regions: {counts['regions']}, {counts['regions elsewhere']} touching no labelled plate "
          f"(in {counts['photos with regions elsewhere']} photos: other text shaped like a plate)")
    print(f"recogniser reads: originals {counts['readable originals']}/{n} (baseline)   "
          f"after pixelate {counts['read after pixelate']}   after fill {counts['read after fill']}")
    if leaks:
        print("  read after redaction:", ", ".join(leaks))
    ratio = times["faces+plates"] / times["faces"]
    print(f"time per photo: faces alone {times['faces'] / n:.3f} s (baseline), faces+plates "
          f"{times['faces+plates'] / n:.3f} s: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
