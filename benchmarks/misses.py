"""List the labelled faces a magenta run did not protect, with how much of each was masked.

Reads what ``../shared/tools/coverage.py`` reads (the annotations and a folder
of outputs written with a pure magenta fill, mirroring ``images/``) and
applies its rules: a face is protected when >= 90% of its core (the central
60% x 60% of its box) is magenta. For every face of at least ``--min-height``
px that is not, it prints the share of its core and of its whole box that
was masked: 0% is a face no mask reached (nothing found there, or found and
dropped), a share in between is a mask that was too small or shifted.
``--crops DIR`` writes each miss beside its surroundings to look at (keep
DIR outside the repository: the photos may not be copied into it).

    .venv/bin/python benchmarks/detection.py ...   # or any run that writes magenta PNGs
    .venv/bin/python benchmarks/misses.py OUTPUT_DIR [--min-height 32] [--crops /tmp/misses]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import WIDER_DEV, absent

CORE = 0.6  # the scorer's core: central 60% x 60% of the box
PROTECTED = 0.9  # ...of which this share must be masked


def _magenta(image: np.ndarray) -> np.ndarray:
    """The scorer's test for a masked pixel (RGB)."""
    r, g, b = (image[..., i].astype(np.int16) for i in range(3))
    return (r > 190) & (b > 190) & (g < 90)


def _core(x: int, y: int, w: int, h: int) -> tuple[slice, slice]:
    x0, x1 = round(x + w * (1 - CORE) / 2), round(x + w * (1 + CORE) / 2)
    y0, y1 = round(y + h * (1 - CORE) / 2), round(y + h * (1 + CORE) / 2)
    return slice(y0, max(y1, y0 + 1)), slice(x0, max(x1, x0 + 1))


def misses(annotations: dict, outputs: Path, min_height: int, ext: str) -> list[dict]:
    """Every face of at least ``min_height`` px whose core is less than 90% masked."""
    import facesafe

    found = []
    for im in annotations["images"]:
        out = (outputs / im["file"]).with_suffix(ext)
        masked = _magenta(facesafe.read_image(out)) if out.exists() else np.zeros((im["height"], im["width"]), bool)
        for x, y, w, h in im["faces"]:
            if h < min_height:
                continue
            core = masked[_core(x, y, w, h)]
            share = float(core.mean()) if core.size else 0.0
            if share < PROTECTED:
                whole = float(masked[y : y + h, x : x + w].mean())
                found.append({"file": im["file"], "box": [x, y, w, h], "core": share, "box_share": whole})
    return sorted(found, key=lambda m: -m["box"][3])


def _crop(source: Path, output: Path, box: list[int], dest: Path) -> None:
    """The photo and its output around ``box`` (one box height of context), side by side, the box drawn."""
    import cv2

    import facesafe

    x, y, w, h = box
    pair = []
    for path in (source, output):
        image = np.array(facesafe.read_image(path)) if path.exists() else np.zeros_like(pair[0])  # a writable copy
        cv2.rectangle(image, (x, y), (x + w, y + h), (0, 255, 0), 1)
        y0, x0 = max(0, y - h), max(0, x - h)
        pair.append(image[y0 : y + 2 * h, x0 : x + w + h])
    facesafe.write_image(dest, np.concatenate(pair, axis=1), overwrite=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", type=Path, help="folder of magenta outputs mirroring images/")
    parser.add_argument("--annotations", type=Path, default=WIDER_DEV / "annotations.json")
    parser.add_argument("--min-height", type=int, default=32, help="faces at least this tall (px; default 32)")
    parser.add_argument("--ext", default=".png", help="suffix of the outputs (default .png)")
    parser.add_argument("--crops", type=Path, default=None, help="write a crop of each miss here (outside the repo)")
    args = parser.parse_args(argv)
    if absent(args.annotations, "misses"):
        return 0
    annotations = json.loads(args.annotations.read_text())
    root = args.annotations.parent
    found = misses(annotations, args.outputs, args.min_height, args.ext)
    faces = sum(1 for im in annotations["images"] for f in im["faces"] if f[3] >= args.min_height)
    print(f"{len(found)} of {faces} faces >= {args.min_height} px not protected (core masked, whole box masked):")
    for i, m in enumerate(found):
        print(f"{i:3d}  {m['box'][3]:4d} px  core {m['core']:4.0%}  box {m['box_share']:4.0%}  {m['file']} {m['box']}")
        if args.crops:
            args.crops.mkdir(parents=True, exist_ok=True)
            output = (args.outputs / m["file"]).with_suffix(args.ext)
            _crop(root / m["file"], output, m["box"], args.crops / f"{i:03d}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
