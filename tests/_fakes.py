"""Model-free stand-ins for tests: detectors that find drawn "faces".

They live in a module of their own so that worker processes (spawned, not
forked) can import them by name.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

from facesafe import Box, Face, Redacted

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


class NoMesher:
    """A FaceMesh stand-in that finds nothing (a new object, with a new ``repr``, every time)."""

    def __call__(self, image: np.ndarray, faces):
        return list(faces)


class Invert:
    """A redaction written only against the :class:`facesafe.Redaction` protocol.

    Inverts each face box; faces narrower than ``min_size`` get its fallback,
    black, and are reported.
    """

    def __init__(self, min_size: int = 0) -> None:
        self.min_size = min_size

    def redact(self, image: np.ndarray, faces, /) -> Redacted:
        out = image.copy()
        fell_back = []
        for i, face in enumerate(faces):
            window = face.box.to_slices(width=image.shape[1], height=image.shape[0])
            if face.box.width < self.min_size:
                out[window] = 0
                fell_back.append(i)
            else:
                out[window] = 255 - out[window]
        return Redacted(out, fell_back=tuple(fell_back))

    def region(self, faces, *, width: int, height: int):
        return None

    def fingerprint(self) -> str:
        return f"Invert(min_size={self.min_size})"


class KeepAbove(Invert):
    """A protocol-only redaction that cuts the frame: keeps the rows above the top-most face."""

    def region(self, faces, *, width: int, height: int):
        top = min((f.box.y0 for f in faces), default=float(height))
        return Box(0, 0, width, int(top)) if top >= 1 else None

    def fingerprint(self) -> str:
        return "KeepAbove()"


class KeepAll(Invert):
    """A broken redaction: it claims to keep the whole frame, faces and all."""

    def region(self, faces, *, width: int, height: int):
        return Box(0, 0, width, height)


class PosedMesher:
    """A FaceMesh stand-in: the mean face shape fitted into each face's box (frontal)."""

    def __call__(self, image: np.ndarray, faces):
        from facesafe._redact._donor import mean_face

        out = []
        for face in faces:
            scale = face.box.width / 2 * 0.9
            cx, cy = face.box.center
            mesh = mean_face()[:, :2] * scale + [cx, cy + 0.05 * face.box.height]
            out.append(Face(face.box, face.score, detector=face.detector, mesh=mesh))
        return out
