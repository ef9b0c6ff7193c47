"""Throughput, side by side: facesafe against the tools people would otherwise use.

On the photos of ../shared/data/wider-dev (or --photos DIR), one run prints
photos/s and megapixels/s for:

- the I/O floor: decode + encode only, no detection (facesafe's own reader and writer);
- `facesafe strip` against `exiftool -all=` on the same folder;
- `facesafe anonymize` with each preset, 2 workers (``--presets``; ``balanced:orient`` and
  ``balanced:no-orient`` run it with ``--orient`` / ``--no-orient``);
- deface 1.5.0 (onnxruntime from `make bench-deps`, else as `pip install deface` installs
  it; or ``--deface PATH``) on copies of the same photos;
- facesafe with 1 worker against 2 workers (the balanced preset);
- a local Dask cluster of 2 single-thread workers against the local 2-worker run,
  with Dask's default settings and with those docs/scale-out.md recommends.

Every figure is wall time of the whole command, start-up and model loading
included, because that is what a user waits for. Ratios are printed against
a baseline measured in the same run: these machines are noisy. With ``--repeat N``
deface and the presets are timed N times, each round starting with the next of
them, and each ratio to deface is also given as the median of the rounds' ratios.

    .venv/bin/python benchmarks/throughput.py [--limit N] [--skip deface,dask,...]
        [--presets balanced:orient,balanced:no-orient] [--repeat N] [--deface PATH]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import BIN, DEFACE_FAST, FACESAFE, WIDER_PHOTOS, absent, megapixels, photos, speed, stage, timed, timed_cpu


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
    parser.add_argument("--presets", default="fast,balanced,thorough",
                        help="comma-separated presets to time; NAME:orient / NAME:no-orient: with --orient / --no-orient")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="time deface and the presets N times, each round in another order (ratios per round and median)")
    parser.add_argument("--deface", type=Path, default=DEFACE_FAST if DEFACE_FAST.exists() else BIN / "deface",
                        help="the deface command (default: .bench/deface's, on onnxruntime, else the venv's)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if absent(args.photos, "throughput"):
        return 0
    skip = set(filter(None, args.skip.split(",")))
    chosen = photos(args.photos, args.limit)
    mp = megapixels(chosen)
    n = len(chosen)
    print(f"{n} photos, {mp:.1f} megapixels, {os.cpu_count()} cores")
    rows: list[tuple[str, float]] = []

    def report(name: str, seconds: float, baseline: str | None = None, base: float | None = None) -> None:
        rows.append((name, seconds))
        ratio = ""
        if baseline is not None:
            base = dict(rows)[baseline] if base is None else base
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

        contenders: list[Contender] = []  # the whole commands compared with deface
        if "deface" not in skip:
            deface_src = stage(chosen, tmp / "deface-src")
            files = [str(p) for p in sorted(deface_src.rglob("*.jpg"))]
            if args.deface == BIN / "deface":
                print("note: deface runs its slow OpenCV backend here; `make bench-deps` gives it onnxruntime")
            contenders.append((DEFACE, lambda r: [str(args.deface), *files], None))  # it writes beside its inputs
        if "presets" not in skip:
            against = DEFACE if "deface" not in skip else None
            for spec in filter(None, args.presets.split(",")):
                # A fresh output folder (and manifest) each round: the same one would resume, with nothing to do.
                command = functools.partial(_anonymize_command, facesafe_cli, src, tmp / f"p-{spec.replace(':', '-')}", spec)
                contenders.append((f"facesafe {spec} (2 workers)", command, against))
        if contenders:
            rounds = [_round(contenders, r, report) for r in range(args.repeat)]
            if args.repeat > 1:
                _medians(rounds, contenders, n, mp)

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


DEFACE = "deface 1.5.0 (blur)"


def preset_flags(spec: str) -> list[str]:
    """``facesafe anonymize``'s options for ``NAME`` or ``NAME:orient`` / ``NAME:no-orient``."""
    name, _, option = spec.partition(":")
    if option not in ("", "orient", "no-orient"):
        raise SystemExit(f"--presets: unknown option {option!r} in {spec!r} (known: orient, no-orient)")
    return ["--preset", name, *([f"--{option}"] if option else [])]


# A command timed against deface: its name, its command line in round r, the name it is compared with.
Contender = tuple[str, Callable[[int], list[str]], str | None]


def _anonymize_command(facesafe_cli: list[str], src: Path, out: Path, spec: str, r: int) -> list[str]:
    """``facesafe anonymize`` of ``src`` with preset ``spec``, into a folder of round ``r``'s own."""
    return [*facesafe_cli, "anonymize", str(src), "--out", f"{out}-{r}", *preset_flags(spec), "--workers", "2", "-q"]


def _round(contenders: list[Contender], r: int, report: Callable[..., None]) -> dict[str, tuple[float, float]]:
    """Time every contender once, starting with the ``r``-th (round after round, each goes first in turn,
    so a change of the machine's load is shared out); (wall, CPU) seconds by name."""
    if r:
        print(f"round {r + 1} (load {os.getloadavg()[0]:.1f}):")
    order = contenders[r % len(contenders):] + contenders[: r % len(contenders)]
    seconds = {name: timed_cpu(command(r)) for name, command, _ in order}
    for name, _, against in contenders:  # printed in the same order every round, against this round's baseline
        report(name, seconds[name][0], against, seconds[against][0] if against else None)
        cpu = f"  CPU {seconds[name][1]:7.2f} s"
        if against:
            cpu += f"  {seconds[against][1] / seconds[name][1]:5.2f}x less CPU than {against}"
        print(" " * 34 + cpu)
    return seconds


def _medians(rounds: list[dict[str, tuple[float, float]]], contenders: list[Contender], n: int, mp: float) -> None:
    """The median wall and CPU time of each contender over the rounds, and the medians of its per-round ratios."""
    import statistics

    print(f"median of {len(rounds)} rounds:")
    for name, _, against in contenders:
        wall, cpu = (statistics.median(r[name][i] for r in rounds) for i in (0, 1))
        ratio = ""
        if against:
            walls, cpus = ([r[against][i] / r[name][i] for r in rounds] for i in (0, 1))
            ratio = (f"\n{'':34}  {statistics.median(walls):5.2f}x the speed of {against} (rounds: {', '.join(f'{x:.2f}' for x in walls)})"
                     f"\n{'':34}  {statistics.median(cpus):5.2f}x less CPU (rounds: {', '.join(f'{x:.2f}' for x in cpus)})")
        print(f"{name:<34} {wall:7.2f} s  {n / wall:7.2f} photos/s  {mp / wall:6.2f} MP/s  CPU {cpu:7.2f} s{ratio}", flush=True)


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
