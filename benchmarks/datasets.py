"""Datasets against folders: records/s of each kind, and peak memory of a table and one ten times larger.

Prints, in one run on the photos of ../shared/data/wider-dev:
- seconds of `facesafe anonymize` over a folder of the photos, and of
  `facesafe dataset` over the same photos as a Parquet table (Hugging Face
  `{bytes, path}` column, row groups of 16), a WebDataset shard (.jpg + .json
  per sample) and a COCO file; the same workers and preset everywhere. Each
  kind is run `--runs` times beside as many folder runs, in the order
  folder, kind, kind, folder, ... (so that a load that rises or falls over
  the run favours neither), and its ratio is the folder runs' total time over
  the kind's (the goal: >= 0.9x). Each line also gives the CPU seconds of
  the command and of its workers: on a shared machine the wall time follows
  the load, the CPU seconds much less;
- the peak memory of a Parquet run over the table and over tables of the
  same rows repeated ``--repeat`` times (10 by default; ``--repeat 10 100``
  measures three sizes), each ``--memory-runs`` times: for the whole process
  tree (RSS summed, sampled every 50 ms), the command alone and its largest
  worker (each process's own peak as the kernel counts it, VmHWM, read every
  50 ms until it exits; sampled RSS where there is no /proc). Streamed by
  row group, the sizes should be alike: the spread of the repeated runs of
  one size is the noise to judge them by. A worker's peak is its detector's
  memory arena, which grows to fit the largest photos it has met (one of two
  workers meets about half of 48 photos, every photo of a larger table).

    .venv/bin/python benchmarks/datasets.py [--limit N] [--workers N] [--preset P] [--runs N]
                                           [--repeat N [N ...]] [--memory-runs N] [--memory-only] [--data DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from _common import FACESAFE, absent
from _common import WIDER_PHOTOS as DATA
from _common import photos as list_photos


@dataclass(frozen=True)
class Measured:
    """One command: wall seconds, CPU seconds of the command and of its workers, peak RSS (GB) of the tree, the command, a worker."""

    seconds: float
    cpu: float
    worker_cpu: float
    peak: float
    peak_command: float
    peak_worker: float
    peaks: int  # processes seen in the tree


def _own_peak(process: psutil.Process) -> int:
    """The peak RSS of ``process`` so far (bytes): the kernel's VmHWM on Linux, else its RSS now."""
    try:
        with open(f"/proc/{process.pid}/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return int(process.memory_info().rss)


def measure(args: list[str]) -> Measured:
    """Run facesafe with ``args``, sampling the memory and CPU times of it and its workers every 50 ms."""
    start = time.perf_counter()
    proc = subprocess.Popen([str(FACESAFE), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    command = psutil.Process(proc.pid)
    peak = peak_command = peak_worker = 0
    seen = set[int]()
    cpu, worker_cpu = 0.0, dict[int, float]()  # the last CPU times seen of each process (a worker's, until it exits)
    while proc.poll() is None:
        try:
            rss, own = command.memory_info().rss, _own_peak(command)
            times = command.cpu_times()
            cpu = times.user + times.system
            workers, worker_peaks = [], []
            for child in command.children(recursive=True):
                child_times = child.cpu_times()
                worker_cpu[child.pid] = child_times.user + child_times.system
                seen.add(child.pid)
                workers.append(child.memory_info().rss)
                worker_peaks.append(_own_peak(child))
        except psutil.Error:  # a process that ended between two calls
            continue
        peak, peak_command = max(peak, rss + sum(workers)), max(peak_command, own)
        peak_worker = max([peak_worker, *worker_peaks])
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"facesafe {' '.join(args)} exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
    return Measured(seconds, cpu, sum(worker_cpu.values()), peak / 1e9, peak_command / 1e9, peak_worker / 1e9, len(seen))


def _table(photos: list[Path], path: Path, repeat: int = 1) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), ("label", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:  # written in pieces, so that building it needs no memory either
        for r in range(repeat):
            rows = [{"bytes": p.read_bytes(), "path": str(p)} for p in photos]
            writer.write_table(pa.table({"image": pa.array(rows, schema.field("image").type), "label": [r] * len(rows)}, schema),
                               row_group_size=16)


def _shard(photos: list[Path], path: Path) -> None:
    with tarfile.open(path, "w") as tar:
        for i, photo in enumerate(photos):
            for name, payload in ((f"{i:06d}.jpg", photo.read_bytes()), (f"{i:06d}.json", b'{"i": %d}' % i)):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))


def _coco(photos: list[Path], folder: Path) -> Path:
    from PIL import Image, ImageOps

    (folder / "images").mkdir(parents=True)
    entries = []
    for i, photo in enumerate(photos):
        shutil.copyfile(photo, folder / "images" / f"{i:04d}.jpg")
        with Image.open(photo) as im:
            width, height = ImageOps.exif_transpose(im).size
        entries.append({"id": i, "file_name": f"{i:04d}.jpg", "width": width, "height": height})
    annotations = [{"id": i, "image_id": i, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0} for i in range(len(photos))]
    path = folder / "instances.json"
    path.write_text(json.dumps({"images": entries, "annotations": annotations, "categories": [{"id": 1, "name": "x"}]}))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=48, help="first N wider-dev photos (default: 48)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--runs", type=int, default=2, help="runs of each kind, each beside a folder run (default: 2)")
    parser.add_argument("--repeat", type=int, nargs="+", default=[10],
                        help="the larger tables repeat the rows this many times (default: 10; e.g. --repeat 10 100)")
    parser.add_argument("--memory-runs", type=int, default=1, help="runs of each table size for the memory (default: 1)")
    parser.add_argument("--memory-only", action="store_true", help="measure the memory only, not the speed")
    parser.add_argument("--data", type=Path, default=DATA, help=f"folder of photos (default: {DATA})")
    args = parser.parse_args(argv)
    if absent(args.data, "datasets"):
        return 0
    photos = list_photos(args.data, args.limit)
    n = len(photos)
    common = ["--preset", args.preset, "--workers", str(args.workers), "--threads", "1", "-q"]
    with tempfile.TemporaryDirectory(prefix="facesafe-datasets-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "folder").mkdir()
        for i, photo in enumerate(photos):
            shutil.copyfile(photo, tmp / "folder" / f"{i:04d}.jpg")
        _table(photos, tmp / "train.parquet")
        _shard(photos, tmp / "shard.tar")
        coco = _coco(photos, tmp / "coco")
        sources = {"parquet": [str(tmp / "train.parquet")], "webdataset": [str(tmp / "shard.tar")],
                   "coco": [str(coco), "--images", str(tmp / "coco" / "images")]}
        print(f"{n} wider-dev photos, preset {args.preset}, {args.workers} workers x 1 thread, {args.runs} runs of each kind; "
              f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        count = 0

        def run(kind: str) -> Measured:
            nonlocal count
            count += 1
            out = str(tmp / f"out-{count}")
            if kind == "folder":
                return measure(["anonymize", str(tmp / "folder"), "--out", out, *common])
            return measure(["dataset", *sources[kind], "--out", out, *common])

        def line(name: str, runs: list[Measured]) -> str:
            seconds = sum(m.seconds for m in runs)
            cpu, workers = (sum(m.cpu for m in runs) / len(runs), sum(m.worker_cpu for m in runs) / len(runs))
            each = " ".join(f"{m.seconds:.1f}" for m in runs)
            return (f"{name:<11}: {seconds / len(runs):7.1f} s  {n * len(runs) / seconds:6.2f} records/s  "
                    f"(runs: {each} s; CPU s: command {cpu:.1f}, workers {workers:.1f})")

        for kind in () if args.memory_only else sources:
            folder: list[Measured] = []
            dataset: list[Measured] = []
            for i in range(args.runs):  # folder, kind, kind, folder, ...
                for name in (("folder", kind) if i % 2 == 0 else (kind, "folder")):
                    (folder if name == "folder" else dataset).append(run(name))
            ratio = sum(m.seconds for m in folder) / sum(m.seconds for m in dataset)
            cpu = sum(m.cpu + m.worker_cpu for m in dataset) / sum(m.cpu + m.worker_cpu for m in folder)
            print(line("folder", folder))
            print(f"{line(kind, dataset)}\n{'':<11}  {ratio:.2f}x the folder runs' records/s (goal >= 0.9x); "
                  f"{cpu:.2f}x their CPU seconds", flush=True)

        tables = {n: tmp / "train.parquet"}
        for repeat in args.repeat:
            tables[n * repeat] = tmp / f"x{repeat}.parquet"
            _table(photos, tables[n * repeat], repeat=repeat)
        peaks: dict[int, list[Measured]] = {rows: [] for rows in tables}
        for i in range(args.memory_runs):  # sizes interleaved, so that the load favours none of them
            for rows, table in tables.items():
                m = measure(["dataset", str(table), "--out", str(tmp / f"m-{rows}-{i}"), *common])
                peaks[rows].append(m)
                print(f"memory, table of {rows:5d} rows: peak {m.peak:.2f} GB for the process tree, {m.peak_command:.3f} GB "
                      f"the command, {m.peak_worker:.3f} GB its largest worker ({m.peaks} processes under it; {m.seconds:.0f} s; "
                      f"load {os.getloadavg()[0]:.1f})", flush=True)
        if args.memory_runs > 1:
            for rows, runs in peaks.items():
                spread = "; ".join(f"{what} {min(values):.3f}-{max(values):.3f} GB" for what, values in (
                    ("tree", [m.peak for m in runs]), ("command", [m.peak_command for m in runs]),
                    ("worker", [m.peak_worker for m in runs])))
                print(f"memory, table of {rows:5d} rows over {len(runs)} runs: {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
