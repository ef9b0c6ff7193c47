"""Shared fixtures. Tests never touch the network or ../shared."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import skimage.data

from facesafe import Box

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
