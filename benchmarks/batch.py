"""Batch scaling and memory: `facesafe anonymize` with 1 and 2 workers, and on 50 MP photos.

Prints, in one run on the photos of ../shared/data/wider-dev:
- photos/s with --workers 1 and --workers 2 (balanced preset, wall time of the
  whole command) and their ratio (the goal: >= 1.8x);
- the peak memory (sum of the RSS of the command and its workers, sampled
  every 50 ms) of a 2-worker run over 50-megapixel photos (wider-dev photos
  upscaled to 8,660 x 5,774), against the goal of 2 GB.

    .venv/bin/python benchmarks/batch.py [--limit N] [--big N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _common import FACESAFE, WIDER_PHOTOS, absent, photos


def run(args: list[str]) -> tuple[float, float]:
    """Run facesafe with ``args``; return (seconds, peak RSS of the process tree in GB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([str(FACESAFE), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"facesafe {' '.join(args)} exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
    return seconds, peak / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="first N wider-dev photos (default: all)")
    parser.add_argument("--big", type=int, default=6, help="number of 50 MP photos for the memory run")
    args = parser.parse_args(argv)
    if absent(WIDER_PHOTOS, "batch"):
        return 0
    chosen = photos(WIDER_PHOTOS, args.limit)
    with tempfile.TemporaryDirectory(prefix="facesafe-batch-") as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "src"
        src.mkdir()
        for i, photo in enumerate(chosen):
            shutil.copyfile(photo, src / f"{i:04d}.jpg")
        n = len(chosen)
        print(f"{n} wider-dev photos, balanced preset")
        # Scaling: one inference thread per worker, so that 2 workers use 2 cores and 1 worker one.
        one, mem1 = run(["anonymize", str(src), "--out", str(tmp / "w1"), "--workers", "1", "--threads", "1", "-q"])
        print(f"1 worker x 1 thread : {one:7.1f} s  {n / one:6.2f} photos/s  peak {mem1:.2f} GB")
        two, mem2 = run(["anonymize", str(src), "--out", str(tmp / "w2"), "--workers", "2", "--threads", "1", "-q"])
        print(f"2 workers x 1 thread: {two:7.1f} s  {n / two:6.2f} photos/s  peak {mem2:.2f} GB  -> {one / two:.2f}x one worker (goal >= 1.8x)")
        wide, mem3 = run(["anonymize", str(src), "--out", str(tmp / "w1t2"), "--workers", "1", "--threads", "2", "-q"])
        print(f"1 worker x 2 threads: {wide:7.1f} s  {n / wide:6.2f} photos/s  peak {mem3:.2f} GB  -> 2 workers are {wide / two:.2f}x this")

        if args.big:
            from PIL import Image

            big = tmp / "big"
            big.mkdir()
            for i, photo in enumerate(chosen[: args.big]):
                with Image.open(photo) as im:
                    im.convert("RGB").resize((8660, 5774), Image.Resampling.BILINEAR).save(big / f"{i}.jpg", quality=90)
            seconds, peak = run(["anonymize", str(big), "--out", str(tmp / "big-out"), "--workers", "2", "-q"])
            print(f"{args.big} photos of 50 MP, 2 workers: {seconds:.1f} s, peak memory {peak:.2f} GB (goal < 2 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
