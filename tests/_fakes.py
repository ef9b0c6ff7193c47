"""Model-free stand-ins for tests: detectors that find drawn "faces".

They live in a module of their own so that worker processes (spawned, not
forked) can import them by name.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

from facesafe import Box, Face

RED = (255, 0, 0)


def draw_face(image: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    """Draw a pure-red square "face" (what :class:`RedDetector` finds) in place."""
    image[y : y + size, x : x + size] = RED
    return image


def reddish(image: np.ndarray) -> np.ndarray:
    """Where ``image`` is close to pure red (survives JPEG compression)."""
    r, g, b = (image[..., i].astype(np.int16) for i in range(3))
    return (r > 200) & (g < 70) & (b < 70)


class RedDetector:
    """Finds every connected near-red region as a face (score 0.9)."""

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        labels, _ = ndimage.label(reddish(image))
        faces = []
        for rows, cols in ndimage.find_objects(labels):
            faces.append(Face(Box(cols.start, rows.start, cols.stop, rows.stop), 0.9, detector="red"))
        return tuple(faces)

    def __repr__(self) -> str:
        return "RedDetector()"


class CrashingDetector(RedDetector):
    """Kills its own process on an image whose top-left pixel is pure blue."""

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        if tuple(image[0, 0]) == (0, 0, 255):
            os._exit(3)
        return super().__call__(image)

    def __repr__(self) -> str:
        return "CrashingDetector()"


class FailingDetector:
    """Always raises, as a broken model would."""

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        raise RuntimeError("model exploded")


class SlowRedDetector(RedDetector):
    """A :class:`RedDetector` that takes ``seconds`` per image, to be caught mid-run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        import time

        time.sleep(self.seconds)
        return super().__call__(image)

    def __repr__(self) -> str:
        return f"SlowRedDetector({self.seconds})"
