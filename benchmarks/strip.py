"""Speed of `facesafe strip` on a dirty JPEG dump, against `exiftool -all=` measured in the same run.

    .venv/bin/python benchmarks/strip.py [--limit N] [--copies C] [--repeat R]

The corpus is the WIDER FACE dev photos from ../shared/data (never copied into
the repo; each copied C times into a temporary folder), each loaded with EXIF, GPS, XMP face regions, IPTC, an ICC profile,
a comment and an EXIF thumbnail by exiftool, in a temporary folder. Both tools
run as their command line on the whole folder (process start-up included);
the figure is images per second and the ratio facesafe / exiftool (> 1 means
facesafe is faster). Also printed: how many outputs each tool left with a
planted string in their bytes.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from _common import FACESAFE, ROOT, WIDER_PHOTOS, absent, photos

sys.path.insert(0, str(ROOT / "tests"))  # the planted metadata of tests/_dirty.py


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=305, help="number of photos (default: all 305)")
    parser.add_argument("--copies", type=int, default=4, help="copies of each photo, for a dump-sized folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best is reported")
    args = parser.parse_args()
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        print("strip: needs exiftool; nothing measured")
        return 0
    if absent(WIDER_PHOTOS, "strip"):
        return 0
    from _dirty import IPTC_TAGS, PLANTED_TAGS, icc_profile_bytes, leaked_tokens, thumbnail_jpeg

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        src = tmp / "dump"
        src.mkdir()
        dump = photos(WIDER_PHOTOS, args.limit) * args.copies
        for i, photo in enumerate(dump):
            shutil.copy(photo, src / f"{i:05d}.jpg")
        (tmp / "thumb.jpg").write_bytes(thumbnail_jpeg())
        (tmp / "dirty.icc").write_bytes(icc_profile_bytes())
        subprocess.run(
            [exiftool, "-q", "-q", "-m", "-overwrite_original", *PLANTED_TAGS, *IPTC_TAGS, "-Comment=FSLEAK-Comment",
             f"-ThumbnailImage<={tmp / 'thumb.jpg'}", f"-ICC_Profile<={tmp / 'dirty.icc'}", str(src)],
            check=True,
        )  # fmt: skip
        megabytes = sum(p.stat().st_size for p in src.iterdir()) / 1e6
        facesafe = [str(FACESAFE), "strip", str(src), "--quiet", "--out"]
        baseline = [exiftool, "-q", "-q", "-all=", str(src), "-o"]
        timings = {}
        for name, command in (("facesafe strip", facesafe), ("exiftool -all=", baseline)):
            best = float("inf")
            for run in range(args.repeat):
                out = tmp / f"{name.split()[0]}-{run}"
                started = time.perf_counter()
                subprocess.run([*command, f"{out}/"], check=True)
                best = min(best, time.perf_counter() - started)
                leaks = sum(bool(leaked_tokens(p.read_bytes())) for p in out.iterdir())
                shutil.rmtree(out)
            timings[name] = best
            print(f"{name:16s} {len(dump) / best:8.1f} images/s  ({best:.2f} s for {len(dump)} JPEGs, "
                  f"{megabytes:.0f} MB; outputs with a planted string left: {leaks})")  # fmt: skip
        ratio = timings["exiftool -all="] / timings["facesafe strip"]
        print(f"ratio: facesafe strip is {ratio:.2f}x the speed of exiftool -all= (same corpus, same run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
