"""Shared fixtures. Tests never touch the network or ../shared."""

from __future__ import annotations

import importlib.metadata
import shutil

import numpy as np
import pytest
import skimage.data

from facesafe import Box, MissingExtraError
from facesafe._detect._mediapipe import require_facemesh

# The astronaut's face in skimage.data.astronaut() (512 x 512), forehead to
# chin, as CenterFace finds it; tests use it to place and check faces.
ASTRONAUT_FACE = Box(166.0, 52.0, 252.0, 170.0)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """The public-domain astronaut photo, uint8 RGB (512, 512, 3), read-only."""
    image = skimage.data.astronaut()
    image.setflags(write=False)
    return image


@pytest.fixture(scope="session")
def exiftool() -> str:
    """Path of exiftool, the independent metadata judge; skips when absent."""
    path = shutil.which("exiftool")
    if path is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    return path


def _facemesh_installed() -> bool:
    try:
        require_facemesh()
    except MissingExtraError:
        return False
    return True


#: Marks a test that runs MediaPipe FaceMesh: skipped without the synthetic
#: extra (mediapipe 0.10.21 has no wheel for Python 3.13; `pip install '.[dev]'`
#: brings it on 3.11 and 3.12).
FACEMESH_INSTALLED = _facemesh_installed()
needs_facemesh = pytest.mark.skipif(
    not FACEMESH_INSTALLED, reason="needs the synthetic extra (mediapipe 0.10.21, Python <= 3.12)"
)


def _pretend_uninstalled(monkeypatch: pytest.MonkeyPatch, dist: str) -> None:
    """``importlib.metadata`` finds no distribution ``dist`` (an extra looks uninstalled), and every other as it is."""
    real = importlib.metadata.distribution

    def distribution(name: str):
        if name == dist:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)


@pytest.fixture
def without_facemesh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The synthetic extra looks uninstalled (as on Python 3.13), installed or not."""
    _pretend_uninstalled(monkeypatch, "mediapipe")


@pytest.fixture
def without_text_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The text extra looks uninstalled (as on Python 3.13), installed or not."""
    _pretend_uninstalled(monkeypatch, "rapidocr-onnxruntime")
