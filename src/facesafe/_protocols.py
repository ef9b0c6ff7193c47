"""The two extension points: detectors and redactions.

Both are structural protocols: any callable with the right shape qualifies, no
base class or registration needed. A test can pass ``lambda image: faces`` as a
detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ._geometry import Face

__all__ = ["Detector", "Redaction"]


@runtime_checkable
class Detector(Protocol):
    """Anything that finds faces: ``detector(image) -> faces``.

    ``image`` is a ``uint8`` RGB array of shape ``(H, W, 3)``; the result is a
    sequence of :class:`~facesafe.Face` in that image's pixel coordinates.
    """

    def __call__(self, image: np.ndarray, /) -> Sequence[Face]: ...


@runtime_checkable
class Redaction(Protocol):
    """Anything that hides faces: ``redaction(image, faces) -> new image``.

    Must not mutate ``image``, must be deterministic, and must change nothing
    outside the (grown) face regions. Returns a new ``uint8`` RGB array.
    """

    def __call__(self, image: np.ndarray, faces: Sequence[Face], /) -> np.ndarray: ...
