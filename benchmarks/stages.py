"""Where the time goes, per megapixel: decode, each detection pass, CPU post-processing, redaction, encode.

On the photos of ../shared/data/wider-dev (or --photos DIR) this runs what a
batch worker runs for each photo (read the file, ``load_image``,
``Anonymizer.anonymize_picture`` with the default redaction, ``Anonymizer.encode``
as the product writes it, JPEG at the default quality, sha256 and an atomic
write), once per preset, and prints milliseconds per megapixel of input and
the share of the total for every stage:

- decode / encode / file I/O, timed around the public calls;
- detection split into network passes by kind (base, half, upscaled tiles,
  mirror, rotated), by wrapping ``FaceDetector._run`` from the outside and
  telling the passes apart by what each input is (the first input of an image
  is the base pass; a mirrored or turned view of it shares its memory; the
  half pass is half its size; anything else is an upscaled tile). The
  onnxruntime ``InferenceSession.run`` call is timed inside it, so input
  preparation (float32 NCHW blob) is separated from inference;
- CPU post-processing of the detector (heatmap decode + NMS, cross-pass
  clustering, resizes, the rest of the detector's Python), by wrapping the
  functions the detector module calls; whatever is not wrapped (or no longer
  exists after a rewrite) lands in "other detector CPU", never lost;
- redaction = ``anonymize_picture`` minus detection.

Timings are exclusive (a wrapped call nested in another is subtracted from its
parent), so the rows add up to the total. The table shows process CPU time by
default (``--clock wall`` for wall time): on a shared machine wall time swings
with other jobs, and CPU time per megapixel is what sets the throughput of N
single-threaded workers. Wall time and the CPU / wall ratio are printed too. In the same run it measures the I/O
floor (``load_image`` + JPEG encode, no detection) and prints the pipeline as
a multiple of it, then, with ``--profile``, runs one preset again under
cProfile without any wrapper, to confirm the hand timings and name the top
functions. ``--codecs`` adds the decode/encode alternatives (OpenCV's
libjpeg-turbo, Pillow draft mode on a 24 MP JPEG made in memory).

Nothing is written into the repository; outputs go to a temporary folder.

    .venv/bin/python benchmarks/stages.py [--limit 60] [--presets fast,balanced,thorough]
        [--threads 1|default] [--profile PRESET] [--codecs] [--top 15] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from _common import ROOT, WIDER_PHOTOS, absent
from _common import photos as list_photos

KINDS = ("base", "half", "tiles", "mirror", "rotated")
ROWS = (
    ("read", "read file"),
    ("decode", "decode (load_image)"),
    ("net:base", "detect: base pass network"),
    ("net:half", "detect: half pass network"),
    ("net:tiles", "detect: upscaled tiles network"),
    ("net:mirror", "detect: mirror (+half) network"),
    ("net:rotated", "detect: rotated passes network"),
    ("net:other", "detect: unclassified network"),
    ("prep", "detect: net input prep (blob)"),
    ("resize", "detect: resizes"),
    ("decode_maps", "detect: heatmap decode + NMS"),
    ("cluster", "detect: cross-pass clustering"),
    ("detect_cpu", "detect: other detector CPU"),
    ("redact", "redaction"),
    ("encode", "encode"),
    ("write", "sha256 + atomic write"),
)


class Probe:
    """Exclusive wall time per bucket: a wrapped call nested in another is taken out of its parent."""

    def __init__(self, clock: str) -> None:
        self.wall: defaultdict[str, float] = defaultdict(float)
        self.cpu: defaultdict[str, float] = defaultdict(float)  # process CPU time (every thread)
        self.seconds = self.cpu if clock == "cpu" else self.wall  # what the table shows
        self.calls: Counter[str] = Counter()
        self.net_pixels: defaultdict[str, float] = defaultdict(float)  # padded network input px per kind
        self._stack: list[list[float]] = []  # [children wall, children cpu] per open timer
        self.refs: dict[str, np.ndarray] = {}  # base / half input of the image being detected
        self._kinds: list[tuple[str, int]] | None = None  # set by _run for the session call inside it
        self._net_shapes: dict[str, tuple[int, int]] = {}

    @contextmanager
    def timer(self, bucket: str):
        self._stack.append([0.0, 0.0])
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            children = self._stack.pop()
            self.wall[bucket] += wall - children[0]
            self.cpu[bucket] += cpu - children[1]
            self.calls[bucket] += 1
            if self._stack:
                self._stack[-1][0] += wall
                self._stack[-1][1] += cpu

    def wrap(self, bucket: str, fn):
        def wrapped(*args, **kwargs):
            with self.timer(bucket):
                return fn(*args, **kwargs)

        return wrapped

    def new_image(self) -> None:
        self.refs = {}
        self._net_shapes = {}

    def kind_of(self, image: np.ndarray) -> str:
        """Which pass an HWC network input belongs to (see the module docstring)."""
        base, half = self.refs.get("base"), self.refs.get("half")
        if base is None:
            self.refs["base"] = image
            return "base"
        for ref in (base, half):
            if ref is not None and np.may_share_memory(image, ref):
                if image.shape == ref.shape and image.strides == ref.strides:
                    return "base" if ref is base else "half"
                if image.shape == ref.shape and image.strides[0] > 0 > image.strides[1]:
                    return "mirror"
                return "rotated"
        if half is None and abs(2 * image.shape[0] - base.shape[0]) <= 2 and abs(2 * image.shape[1] - base.shape[1]) <= 2:
            self.refs["half"] = image
            return "half"
        return "tiles"

    def kind_of_blob(self, shape: tuple[int, ...]) -> str:
        """Fallback when the detector has no ``_run``: tell passes apart by the NCHW blob's shape."""
        hw = (shape[2], shape[3])
        base = self._net_shapes.get("base")
        if base is None:
            self._net_shapes["base"] = hw
            return "base"
        if shape[0] > 1:
            return "tiles"
        if hw == base:
            return "mirror"
        if hw == base[::-1]:
            return "rotated"
        if all(abs(2 * a - b) <= 32 for a, b in zip(hw, base, strict=True)):
            return "half"
        return "tiles"

    def run_hook(self, fn):
        """Wrap ``FaceDetector._run(images)``: classify its inputs; its own time is blob preparation."""

        def wrapped(images, *args, **kwargs):
            kinds = [(self.kind_of(im), im.shape[0] * im.shape[1]) for im in images]
            self._kinds = kinds
            try:
                with self.timer("prep"):
                    return fn(images, *args, **kwargs)
            finally:
                self._kinds = None

        return wrapped

    def session_hook(self, fn):
        """Wrap ``onnxruntime.InferenceSession.run``: network time, shared out by kind in proportion to pixels."""
        probe = self

        def wrapped(session, output_names, feeds, *args, **kwargs):
            blob = next(iter(feeds.values()))
            kinds = probe._kinds or [(probe.kind_of_blob(blob.shape), 1)]
            with probe.timer("net"):
                out = fn(session, output_names, feeds, *args, **kwargs)
            spent_wall, spent_cpu = probe.wall.pop("net"), probe.cpu.pop("net")
            probe.calls.pop("net")
            weight = sum(px for _, px in kinds) or 1
            padded = blob.shape[0] * blob.shape[2] * blob.shape[3]
            for kind, px in kinds:
                key = f"net:{kind}" if kind in KINDS else "net:other"
                probe.wall[key] += spent_wall * px / weight
                probe.cpu[key] += spent_cpu * px / weight
                probe.net_pixels[key] += padded * px / weight
                probe.calls[key] += 1
            return out

        return wrapped


def _one_photo(anonymizer, photo: Path, out: Path, probe: Probe | None) -> int:
    """What a batch worker does with one file (facesafe._batch._worker.process); returns faces found."""
    from facesafe._io import atomic_write_bytes, load_image

    timer = probe.timer if probe else _nothing
    with timer("read"):
        data = photo.read_bytes()
    with timer("decode"):
        picture = load_image(data, max_pixels=anonymizer.max_pixels)
    with timer("redact"):  # detection inside is timed (and taken out) by the detect wrapper
        result = anonymizer.anonymize_picture(picture)
    with timer("encode"):
        encoded, _ = anonymizer.encode(result, input_format=picture.format)
    with timer("write"):
        hashlib.sha256(data).hexdigest()
        hashlib.sha256(encoded).hexdigest()
        atomic_write_bytes(out / photo.name, encoded, overwrite=True)
    return result.face_count


@contextmanager
def _nothing(_bucket: str):
    yield


@contextmanager
def _instrumented(anonymizer, probe: Probe):
    """Wrap the detector's stages from the outside; restore everything afterwards."""
    from facesafe._detect import _detector as module
    from facesafe._ort import onnxruntime as _onnxruntime

    onnxruntime = _onnxruntime()  # telemetry off

    detector = anonymizer.detector
    with ExitStack() as undo:

        def patch(owner, name: str, value) -> None:
            old = owner.__dict__.get(name, _MISSING) if hasattr(owner, "__dict__") else _MISSING
            setattr(owner, name, value)
            undo.callback(lambda: delattr(owner, name) if old is _MISSING else setattr(owner, name, old))

        inner_detect = anonymizer.detect

        def detect(image):
            probe.new_image()
            with probe.timer("detect_cpu"):
                return inner_detect(image)

        patch(anonymizer, "detect", detect)
        if hasattr(detector, "_run"):
            patch(detector, "_run", probe.run_hook(detector._run))
        else:
            print("  note: FaceDetector has no _run: passes told apart by input shape only")
        session_run = onnxruntime.InferenceSession.run
        onnxruntime.InferenceSession.run = probe.session_hook(session_run)
        undo.callback(setattr, onnxruntime.InferenceSession, "run", session_run)
        for name, bucket in (("decode", "decode_maps"), ("cluster", "cluster"), ("_resize", "resize")):
            fn = getattr(module, name, None)
            if callable(fn):
                setattr(module, name, probe.wrap(bucket, fn))
                undo.callback(setattr, module, name, fn)
            else:
                print(f"  note: facesafe._detect._detector.{name} not found: its time is in 'other detector CPU'")
        yield


_MISSING = object()


def io_floor(photos: list[Path]) -> tuple[float, float, float]:
    """Decode and JPEG-encode every photo (no detection), as benchmarks/throughput.py does.

    Returns (wall seconds, cpu seconds, megapixels decoded)."""
    from facesafe._io import encode_image, load_image

    pixels = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for photo in photos:
        picture = load_image(photo.read_bytes())
        encode_image(picture, format="JPEG", quality=92)
        pixels += picture.frames[0].shape[0] * picture.frames[0].shape[1]
    return time.perf_counter() - wall, time.process_time() - cpu, pixels / 1e6


def measure(preset: str, threads: int | None, photos: list[Path], out: Path, clock: str) -> dict:
    import facesafe

    start = time.perf_counter()
    anonymizer = facesafe.Anonymizer(preset=preset, threads=threads)
    _one_photo(anonymizer, photos[0], out, None)  # model load + first-run warm-up, not counted
    load = time.perf_counter() - start
    probe = Probe(clock)
    faces = 0
    with _instrumented(anonymizer, probe):
        wall, cpu = time.perf_counter(), time.process_time()
        for photo in photos:
            faces += _one_photo(anonymizer, photo, out, probe)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    anonymizer.close()
    return {"preset": preset, "load": load, "wall": wall, "cpu": cpu, "faces": faces, "probe": probe,
            "redaction": repr(anonymizer.redaction)}


def print_table(runs: list[dict], mp: float, n: int, floor: tuple[float, float], clock: str) -> None:
    head = f"{f'stage ({clock} ms per MP of input)':<34}" + "".join(f"{r['preset']:>16}" for r in runs)
    print(head)
    print("-" * len(head))
    for key, label in ROWS:
        if not any(r["probe"].seconds.get(key) for r in runs):
            continue
        cells = ""
        for r in runs:
            s = r["probe"].seconds.get(key, 0.0)
            total = sum(r["probe"].seconds.values())
            cells += f"{1000 * s / mp:9.1f} {100 * s / total:5.1f}%"
        print(f"{label:<34}{cells}")
    print("-" * len(head))
    for label, fn in (
        ("total (sum of stages)", lambda r: f"{1000 * sum(r['probe'].seconds.values()) / mp:9.1f} {'':6}"),
        ("  of which network", lambda r: f"{1000 * _net(r) / mp:9.1f} {100 * _net(r) / sum(r['probe'].seconds.values()):5.1f}%"),
        ("wall ms/MP (photos/s)", lambda r: f"{1000 * r['wall'] / mp:9.1f} {n / r['wall']:5.2f}/s"),
        ("cpu ms/MP (cpu / wall)", lambda r: f"{1000 * r['cpu'] / mp:9.1f} {r['cpu'] / r['wall']:5.2f} "),
        (f"x the I/O floor ({clock})", lambda r: f"{r[clock] / floor[clock == 'cpu']:9.1f}x{'':6}"),
        ("network ms per net-input MP", lambda r: f"{_net_rate(r):9.1f} {'':6}"),
        ("network calls per photo", lambda r: f"{_net_calls(r) / n:9.1f} {'':6}"),
        ("net-input MP per input MP", lambda r: f"{sum(r['probe'].net_pixels.values()) / 1e6 / mp:9.2f} {'':6}"),
        ("faces found", lambda r: f"{r['faces']:9d} {'':6}"),
        ("redaction ms per face", lambda r: f"{1000 * r['probe'].seconds['redact'] / max(r['faces'], 1):9.2f} {'':6}"),
        ("model load + warm-up (s)", lambda r: f"{r['load']:9.2f} {'':6}"),
    ):
        print(f"{label:<34}" + "".join(fn(r) for r in runs))
    print("\nnetwork by kind (ms per MP of network input, padded; calls):")
    for r in runs:
        p = r["probe"]
        parts = [
            f"{k[4:]} {1000 * p.seconds[k] / (p.net_pixels[k] / 1e6):.0f} ({p.calls[k]})"
            for k in p.net_pixels if p.net_pixels[k]
        ]
        print(f"  {r['preset']:<9} " + ", ".join(parts))


def _net(r: dict) -> float:
    return sum(v for k, v in r["probe"].seconds.items() if k.startswith("net:"))


def _net_calls(r: dict) -> int:
    return sum(v for k, v in r["probe"].calls.items() if k.startswith("net:"))


def _net_rate(r: dict) -> float:
    px = sum(r["probe"].net_pixels.values())
    return 1000 * _net(r) / (px / 1e6) if px else float("nan")


def profile_run(preset: str, threads: int | None, photos: list[Path], mp: float, out: Path, top: int,
                hand: dict | None, clock: str) -> None:
    """The same loop under cProfile, no wrapper installed: cumulative times of the stage functions and top functions."""
    import cProfile

    import facesafe

    anonymizer = facesafe.Anonymizer(preset=preset, threads=threads)
    _one_photo(anonymizer, photos[0], out, None)
    profiler = cProfile.Profile(time.process_time if clock == "cpu" else time.perf_counter)
    start = time.perf_counter()
    profiler.enable()
    for photo in photos:
        _one_photo(anonymizer, photo, out, None)
    profiler.disable()
    wall = time.perf_counter() - start
    anonymizer.close()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\ncProfile ({clock} clock), {preset}, threads={threads or 'default'}: {wall:.1f} s wall under the "
          f"profiler, {total:.1f} s profiled ({1000 * total / mp:.0f} {clock} ms/MP)")
    checks = (
        ("load_image", ("_io.py", "load_image"), ["decode"]),
        ("FaceDetector.__call__", ("_detector.py", "__call__"), None),
        ("InferenceSession.run (C)", ("~", "onnxruntime"), "net:"),
        ("decode (heatmaps + NMS)", ("_centerface.py", "decode"), ["decode_maps"]),
        ("cluster", ("_merge.py", "cluster"), ["cluster"]),
        ("Anonymizer._redact", ("_anonymize.py", "_redact"), ["redact"]),
        ("Anonymizer.encode", ("_anonymize.py", "encode"), ["encode"]),
    )
    print(f"  {'function':<28}{'cProfile cum ms/MP':>20}{'hand-timed ms/MP':>18}")
    for label, (file_part, name), buckets in checks:
        cum = _cumulative(stats, file_part, name)
        hand_ms = ""
        if hand is not None:
            p = hand["probe"]
            if buckets == "net:":
                hand_ms = f"{1000 * _net(hand) / mp:.1f}"
            elif buckets is None:
                det = sum(v for k, v in p.seconds.items() if k.startswith("net:") or k in
                          ("prep", "resize", "decode_maps", "cluster", "detect_cpu"))
                hand_ms = f"{1000 * det / mp:.1f}"
            else:
                hand_ms = f"{1000 * sum(p.seconds.get(b, 0.0) for b in buckets) / mp:.1f}"
        print(f"  {label:<28}{'-' if cum is None else f'{1000 * cum / mp:.1f}':>20}{hand_ms:>18}")
    print(f"\n  top {top} functions by own time (tottime):")
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(top)
    lines = buffer.getvalue().splitlines()
    start_at = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    for line in lines[start_at:]:
        if line.strip():
            print("  " + line.replace(str(ROOT) + "/", "").replace(str(Path(sys.prefix)) + "/", ""))


def _cumulative(stats: pstats.Stats, file_part: str, name: str) -> float | None:
    found = None
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if (func == name and filename.endswith(file_part)) or (file_part == "~" and name in func and func.endswith("run>")):
            found = (found or 0.0) + ct
    return found


def codecs(photos: list[Path], mp: float) -> None:
    """Decode/encode alternatives on the same photos, and Pillow draft mode on a 24 MP JPEG made in memory."""
    import cv2
    from PIL import Image

    from facesafe._io import encode_image, load_image

    blobs = [p.read_bytes() for p in photos]
    frames = [load_image(b).frames[0] for b in blobs]

    def timed(fn) -> float:
        start = time.process_time()
        for _ in fn():
            pass
        return 1000 * (time.process_time() - start) / mp

    cv2.setNumThreads(1)
    rows = {
        "decode: facesafe load_image": timed(lambda: (load_image(b) for b in blobs)),
        "decode: Pillow open + convert(RGB)": timed(lambda: (Image.open(io.BytesIO(b)).convert("RGB") for b in blobs)),
        "decode: OpenCV imdecode (+BGR->RGB)": timed(
            lambda: (cv2.cvtColor(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for b in blobs)
        ),
        "encode: facesafe encode_image q92": timed(lambda: (encode_image(f, format="JPEG", quality=92) for f in frames)),
        "encode: OpenCV imencode q92": timed(lambda: (cv2.imencode(".jpg", f[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92]) for f in frames)),
    }
    print(f"\ncodecs on the same {len(photos)} photos (cpu ms per MP, 1 thread):")
    for label, ms in rows.items():
        print(f"  {label:<40}{ms:8.1f}")
    # A large photo: a wider-dev photo enlarged to 6000x4000 in memory (nothing is written).
    big = cv2.resize(np.ascontiguousarray(frames[0]), (6000, 4000), interpolation=cv2.INTER_LINEAR)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    bmp = 24.0

    def full():
        return load_image(data).frames[0]

    def draft(scale: int):
        im = Image.open(io.BytesIO(data))
        im.draft("RGB", (6000 // scale, 4000 // scale))
        return np.asarray(im.convert("RGB"))

    timings = {}
    for label, fn in (("full decode (load_image)", full), ("draft decode 1/2", lambda: draft(2)),
                      ("draft decode 1/4", lambda: draft(4))):
        start = time.process_time()
        for _ in range(3):
            fn()
        timings[label] = (time.process_time() - start) / 3
    start = time.process_time()
    for _ in range(3):
        cv2.resize(big, (2048, 1365), interpolation=cv2.INTER_AREA)
    timings["INTER_AREA resize 24 MP -> 2048 px (base pass)"] = (time.process_time() - start) / 3
    start = time.process_time()
    for _ in range(3):
        encode_image(big, format="JPEG", quality=92)
    timings["encode q92 (encode_image)"] = (time.process_time() - start) / 3
    print("  a 6000x4000 JPEG (24 MP) made in memory, per image:")
    for label, s in timings.items():
        print(f"    {label:<46}{1000 * s:8.0f} cpu ms  ({1000 * s / bmp:6.1f} ms/MP)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=WIDER_PHOTOS, help="folder of photos (default: wider-dev)")
    parser.add_argument("--limit", type=int, default=60, help="first N photos (default 60; 0: all)")
    parser.add_argument("--presets", default="fast,balanced,thorough")
    parser.add_argument("--threads", default="1", help="onnxruntime threads: 1 (as batch workers run) or 'default'")
    parser.add_argument("--profile", default="balanced", help="preset to re-run under cProfile ('' to skip)")
    parser.add_argument("--top", type=int, default=15, help="top functions to list from cProfile")
    parser.add_argument("--codecs", action="store_true", help="also time decode/encode alternatives")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="what the table shows: process CPU time (default: robust to other jobs "
                        "on a shared machine; the cost per core) or wall time")
    args = parser.parse_args(argv)
    if absent(args.photos, "profile"):
        return 0
    threads = None if args.threads == "default" else int(args.threads)
    photos = list_photos(args.photos, args.limit or None)
    mp = io_floor(photos)[2]  # also warms the page cache and the codecs
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True).stdout.split()[1::2]
    import PIL

    import facesafe
    from facesafe._ort import onnxruntime as _onnxruntime

    onnxruntime = _onnxruntime()  # telemetry off

    here = Path(facesafe.__file__).resolve().is_relative_to(ROOT)
    source = f"commit {commit}{' + uncommitted ' + ', '.join(dirty) if dirty else ''}" if here else f"facesafe from {Path(facesafe.__file__).parent}"
    print(f"{len(photos)} photos, {mp:.1f} MP; {source}; "
          f"onnxruntime {onnxruntime.__version__} threads={args.threads}; Pillow {PIL.__version__}")
    with tempfile.TemporaryDirectory(prefix="facesafe-profile-") as tmp:
        out = Path(tmp)
        floors = [io_floor(photos)]
        runs = []
        for preset in filter(None, args.presets.split(",")):
            runs.append(measure(preset, threads, photos, out, args.clock))
            print(f"  {preset}: {runs[-1]['wall']:.1f} s", file=sys.stderr, flush=True)
        floors.append(io_floor(photos))
        floor = (sum(f[0] for f in floors) / 2, sum(f[1] for f in floors) / 2)
        print(f"redaction: {runs[0]['redaction'] if runs else '-'}; encode: JPEG quality 92 (the default)")
        print("I/O floor (load_image + JPEG q92, no detection), before / after the presets: "
              + ", ".join(f"{name} {1000 * floors[0][i] / mp:.1f} / {1000 * floors[1][i] / mp:.1f} ms/MP"
                          for i, name in enumerate(("wall", "cpu"))) + "\n")
        if runs:
            print_table(runs, mp, len(photos), floor, args.clock)
        if args.profile:
            hand = next((r for r in runs if r["preset"] == args.profile), None)
            profile_run(args.profile, threads, photos, mp, out, args.top, hand, args.clock)
        if args.codecs:
            codecs(photos, mp)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"\npeak RSS of this process: {peak:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
