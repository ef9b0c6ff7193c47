"""Throughput, side by side: facesafe against the tools people would otherwise use.

On the photos of ../shared/data/wider-dev (or --photos DIR), one run prints
photos/s and megapixels/s for:

- the I/O floor: decode + encode only, no detection (facesafe's own reader and writer);
- `facesafe strip` against `exiftool -all=` on the same folder;
- `facesafe anonymize` with each preset, 2 workers;
- deface 1.5.0 (as `pip install deface` installs it) on copies of the same photos;
- facesafe with 1 worker against 2 workers (the balanced preset);
- a local Dask cluster of 2 single-thread workers against the local 2-worker run,
  with Dask's default settings and with those docs/scale-out.md recommends.

Every figure is wall time of the whole command, start-up and model loading
included, because that is what a user waits for. Ratios are printed against
a baseline measured in the same run: these machines are noisy.

    .venv/bin/python benchmarks/throughput.py [--limit N] [--skip deface,dask,...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, DEFACE_FAST, FACESAFE, WIDER_PHOTOS, absent, megapixels, photos, speed, stage, timed


def io_floor(sources: list[Path]) -> float:
    """Decode and re-encode every photo in this process (no detection)."""
    import facesafe
    from facesafe._io import encode_image

    start = time.perf_counter()
    for photo in sources:
        picture = facesafe.load_image(photo)
        encode_image(picture, format="JPEG", quality=92)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=WIDER_PHOTOS, help="folder of photos (default: wider-dev)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photos")
    parser.add_argument("--skip", default="", help="comma-separated: io,strip,presets,deface,workers,dask")
    args = parser.parse_args(argv)
    if absent(args.photos, "throughput"):
        return 0
    skip = set(filter(None, args.skip.split(",")))
    chosen = photos(args.photos, args.limit)
    mp = megapixels(chosen)
    n = len(chosen)
    print(f"{n} photos, {mp:.1f} megapixels, {os.cpu_count()} cores")
    rows: list[tuple[str, float]] = []

    def report(name: str, seconds: float, baseline: str | None = None) -> None:
        rows.append((name, seconds))
        ratio = ""
        if baseline is not None:
            base = dict(rows)[baseline]
            ratio = f"  {speed(seconds, base, baseline)}"
        print(f"{name:<34} {seconds:7.2f} s  {n / seconds:7.2f} photos/s  {mp / seconds:6.2f} MP/s{ratio}", flush=True)

    with tempfile.TemporaryDirectory(prefix="facesafe-throughput-") as tmp_name:
        tmp = Path(tmp_name)
        src = stage(chosen, tmp / "src")
        facesafe_cli = [str(FACESAFE)]

        if "io" not in skip:
            report("I/O floor (decode+encode, 1 proc)", io_floor(chosen))

        if "strip" not in skip and shutil.which("exiftool"):
            # Stripping takes milliseconds per photo, so both commands run on
            # the whole folder whatever --limit says: on a few dozen photos
            # the figure would be mostly interpreter start-up.
            every = photos(args.photos)
            exif_src = stage(every, tmp / "exif-src")
            strip_src = stage(every, tmp / "strip-src")
            exif = timed(["exiftool", "-q", "-all=", "-overwrite_original", "-r", str(exif_src)])
            mine = timed([*facesafe_cli, "strip", str(strip_src), "--out", str(tmp / "strip"), "-q"])
            print(f"strip, on all {len(every)} photos of the folder:")
            print(f"  exiftool -all=  {exif:6.2f} s  {len(every) / exif:7.1f} photos/s")
            print(f"  facesafe strip  {mine:6.2f} s  {len(every) / mine:7.1f} photos/s  {speed(mine, exif, 'exiftool -all=')}")
        elif "strip" not in skip:
            print("exiftool not installed: strip comparison skipped")

        if "deface" not in skip:
            deface_src = stage(chosen, tmp / "deface-src")
            files = [str(p) for p in sorted(deface_src.rglob("*.jpg"))]
            deface = DEFACE_FAST if DEFACE_FAST.exists() else BIN / "deface"
            if deface != DEFACE_FAST:
                print("note: deface runs its slow OpenCV backend here; `make bench-deps` gives it onnxruntime")
            report("deface 1.5.0 (blur)", timed([str(deface), *files]))

        if "presets" not in skip:
            for preset in ("fast", "balanced", "thorough"):
                seconds = timed([*facesafe_cli, "anonymize", str(src), "--out", str(tmp / f"p-{preset}"),
                                  "--preset", preset, "--workers", "2", "-q"])
                report(f"facesafe {preset} (2 workers)", seconds, "deface 1.5.0 (blur)" if "deface" not in skip else None)

        if "workers" not in skip:
            one = timed([*facesafe_cli, "anonymize", str(src), "--out", str(tmp / "w1"), "--workers", "1", "-q"])
            report("facesafe balanced, 1 worker", one)
            two = timed([*facesafe_cli, "anonymize", str(src), "--out", str(tmp / "w2"), "--workers", "2", "-q"])
            report("facesafe balanced, 2 workers", two, "facesafe balanced, 1 worker")

        if "dask" not in skip:
            local = "facesafe balanced, 2 workers" if "workers" not in skip else None
            report("Dask LocalCluster, 2x1 thread", _dask_run(src, tmp / "dask"), local)
            report("Dask, as docs/scale-out.md sets it", _dask_run(src, tmp / "dask-tuned", tuned=True), local)
            if "workers" not in skip:
                same = _same_files(tmp / "w2", tmp / "dask") and _same_files(tmp / "w2", tmp / "dask-tuned")
                print(f"Dask outputs byte-identical to the local 2-worker run: {same}")
    return 0


# What docs/scale-out.md recommends for facesafe's workers: no statistical
# profiler sampling every task's stack every 10 ms, and glibc's own malloc
# trimming rather than the nanny's MALLOC_TRIM_THRESHOLD_=65536 (which makes
# every large, short-lived image array a fresh memory mapping).
TUNED = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
}


def _dask_run(src: Path, out: Path, *, tuned: bool = False) -> float:
    """A local Dask cluster (2 processes x 1 thread), started before the clock, as a running cluster would be;
    with Dask's default settings, or (``tuned``) with those docs/scale-out.md recommends."""
    import contextlib

    import dask
    from distributed import Client, LocalCluster

    import facesafe

    cluster_options = dict(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=50)
    with dask.config.set(TUNED) if tuned else contextlib.nullcontext(), LocalCluster(**cluster_options) as cluster, Client(cluster) as client:
        start = time.perf_counter()
        report = facesafe.anonymize_dir(src, out, client=client, manifest=out.with_name("dask.sqlite"))
        elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"dask run failed: {report.failures[:3]}")
    return elapsed


def _same_files(a: Path, b: Path) -> bool:
    files_a = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
    return files_a == files_b


if __name__ == "__main__":
    sys.exit(main())
