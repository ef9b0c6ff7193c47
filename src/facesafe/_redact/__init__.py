"""Redactions (private): kernels in ``_kernels``/``_masks``, user-facing classes in ``_methods`` and ``_synthetic``, all named in ``_catalogue``."""

from ._catalogue import REDACTIONS
from ._donor import KSamePool
from ._masks import face_mask
from ._methods import Blur, Crop, Fill, Pixelate, parse_color
from ._pool import DonorPool
from ._synthetic import Replacement, Synthesize
from ._text import hide_text, redact_by_kind

__all__ = [
    "Blur", "Pixelate", "Fill", "Crop", "REDACTIONS", "face_mask", "parse_color", "Synthesize", "DonorPool", "KSamePool", "Replacement",
    "hide_text", "redact_by_kind",
]
