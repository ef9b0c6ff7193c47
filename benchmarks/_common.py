"""What the benchmarks share: where the data and tools are, the photos, the baselines.

Imported as ``from _common import ...``: a benchmark is run as a script
(``.venv/bin/python benchmarks/x.py``), so its folder is first on ``sys.path``.
The labelled photos live in ``../shared/data`` beside the repository, never in
it; every benchmark says so and measures nothing when they are absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
WIDER_DEV = DATA / "wider-dev"  # 305 WIDER FACE photos with annotations.json
WIDER_PHOTOS = WIDER_DEV / "images"
IDENTITY_DEV = DATA / "identity-dev"  # a folder of photos per person
SCORER = SHARED / "tools" / "coverage.py"  # scores redacted outputs against the annotations

# The venv running the benchmark (its facesafe and deface commands).
BIN = Path(sys.executable).parent
FACESAFE = BIN / "facesafe"
# deface as its README recommends it (onnxruntime backend, which needs `onnx`),
# from its own venv (`make bench-deps`); else the OpenCV backend `pip install deface` gives.
DEFACE_FAST = ROOT / ".bench" / "deface" / "bin" / "deface"

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def photos(folder: Path, limit: int | None = None) -> list[Path]:
    """The photos under ``folder`` (any depth), in name order, the first ``limit`` of them (all when None or 0)."""
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    return found[:limit] if limit else found


def absent(path: Path, name: str) -> bool:
    """Say that ``path`` is missing (``../shared`` is not part of the repository) and return True; else False."""
    if path.exists():
        return False
    print(f"{name}: {path} not found (../shared/data is not part of the repository); nothing measured")
    return True


def stage(sources: Sequence[Path], dest: Path) -> Path:
    """Copy the photos into ``dest`` as ``0000_name.jpg``... (the tools under test may write beside their inputs)."""
    for i, photo in enumerate(sources):
        target = dest / f"{i:04d}_{photo.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, target)
    return dest


def megapixels(sources: Sequence[Path]) -> float:
    """The photos' total size in megapixels (from their headers)."""
    from PIL import Image

    total = 0
    for photo in sources:
        with Image.open(photo) as im:
            total += im.width * im.height
    return total / 1e6


def timed(command: list[str], **kwargs) -> float:
    """Run ``command`` (output discarded, telemetry off) and return its wall time in seconds; exit on failure."""
    return timed_cpu(command, **kwargs)[0]


def timed_cpu(command: list[str], **kwargs) -> tuple[float, float]:
    """:func:`timed`, and the CPU seconds (user + system) the command and the processes it waited for spent:
    on a machine whose load changes, CPU time varies far less than wall time (but hides how well a command
    keeps the cores busy)."""
    import resource

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    start, start_cpu = time.perf_counter(), cpu()
    env = dict(kwargs.pop("env", os.environ), ORT_DISABLE_TELEMETRY="1")  # deface's onnxruntime phones home otherwise
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, **kwargs)
    elapsed, spent = time.perf_counter() - start, cpu() - start_cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, spent


def speed(seconds: float, baseline: float, what: str) -> str:
    """``" 1.23x the speed of <what>"``: how many times faster than the baseline (> 1: faster)."""
    return f"{baseline / seconds:5.2f}x the speed of {what}"


def parse_method(spec: str):
    """A redaction from ``"name"`` (its catalogue defaults) or ``"name:option=value,..."``: ``"blur:sigma=0.5"``."""
    import ast

    import facesafe

    name, _, options = spec.partition(":")
    if name not in facesafe.REDACTIONS:
        raise SystemExit(f"{spec!r}: {name!r} is not one of {', '.join(facesafe.REDACTIONS)}")
    kwargs = {}
    for item in filter(None, options.split(",")):
        key, _, value = item.partition("=")
        try:
            kwargs[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):  # a bare word: a string option (shape=box)
            kwargs[key.strip()] = value.strip()
    return facesafe.REDACTIONS[name](**kwargs)


def deface_like_blur(image: np.ndarray, faces) -> np.ndarray:
    """deface 1.5's default: box filter of a third of the grown box, ellipse mask grown x1.3, no noise."""
    import cv2

    import facesafe

    out = image.copy()
    height, width = image.shape[:2]
    for face in faces:
        rows, cols = face.box.expanded(1.3).to_slices(width=width, height=height)
        if rows.stop <= rows.start or cols.stop <= cols.start:
            continue
        k = (max((cols.stop - cols.start) // 3, 1), max((rows.stop - rows.start) // 3, 1))
        blurred = cv2.blur(image[rows, cols], k)
        mask = facesafe.face_mask([face], width=width, height=height)[rows, cols] > 0
        out[rows, cols][mask] = blurred[mask]
    return out
