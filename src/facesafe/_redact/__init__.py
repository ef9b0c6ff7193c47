"""Redactions (private): kernels in ``_kernels``/``_masks``, user-facing classes in ``_methods``."""

from ._masks import face_mask
from ._methods import REDACTIONS, Blur, Crop, Fill, Pixelate, parse_color
from ._donor import KSamePool
from ._synthetic import Replacement, Synthesize

__all__ = ["Blur", "Pixelate", "Fill", "Crop", "REDACTIONS", "face_mask", "parse_color", "Synthesize", "KSamePool", "Replacement"]
