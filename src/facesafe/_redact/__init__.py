"""Redactions (private): kernels in ``_kernels``/``_masks``, user-facing classes in ``_methods``."""

from ._masks import face_mask
from ._methods import REDACTIONS, Blur, Crop, Fill, Pixelate, parse_color

__all__ = ["Blur", "Pixelate", "Fill", "Crop", "REDACTIONS", "face_mask", "parse_color"]
