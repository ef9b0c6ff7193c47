"""Speed of each redaction's defaults, against a deface-like blur measured in the same run.

    .venv/bin/python benchmarks/redact_speed.py [--repeat 3]

A synthetic 12 MP photo (4000 x 3000, random texture) with one large face
(1000 px), a few medium ones and a row of 100 small ones (30 px): the cost
of a redaction grows with the faces' total area and count, not the photo.
Prints milliseconds per photo (best of ``--repeat``) and the ratio to the
baseline (deface 1.5's blur: a box filter of a third of each grown box).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import deface_like_blur

import facesafe
from facesafe import Box, Face


def photo_and_faces() -> tuple[np.ndarray, list[Face]]:
    image = np.random.default_rng(0).integers(0, 256, size=(3000, 4000, 3), dtype=np.uint8)
    faces = [Face(Box(100, 100, 1100, 1300))]
    faces += [Face(Box.from_xywh(1500 + 400 * i, 400, 200, 240)) for i in range(5)]
    faces += [Face(Box.from_xywh(x, 2200, 30, 36)) for x in range(0, 4000, 40)]
    return image, faces


def best_ms(fn, image, faces, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(image, faces)
        times.append(time.perf_counter() - t)
    return 1000 * min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    image, faces = photo_and_faces()
    base = best_ms(deface_like_blur, image, faces, args.repeat)
    print(f"4000 x 3000 photo, {len(faces)} faces; best of {args.repeat}")
    print(f"{'baseline deface-like blur':28} {base:8.0f} ms   1.00x")
    for name, cls in facesafe.REDACTIONS.items():
        if name == "synthetic":  # needs FaceMesh points; measured in benchmarks/synthetic.py
            continue
        ms = best_ms(cls(), image, faces, args.repeat)
        print(f"{name + ' (defaults)':28} {ms:8.0f} ms   {ms / base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
