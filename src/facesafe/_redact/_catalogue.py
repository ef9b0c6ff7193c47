"""The catalogue of every redaction facesafe ships, by name.

A module of its own because it sits above both families: the kernel-backed
methods (``_methods``) and the synthetic replacement (``_synthetic``, which
builds on ``_methods``' Pixelate), so neither has to import the other's way up.
"""

from __future__ import annotations

import types
from collections.abc import Mapping

from ._methods import Blur, Crop, Fill, Pixelate
from ._synthetic import Synthesize

__all__ = ["REDACTIONS"]

_CATALOGUE: dict[str, type] = {"blur": Blur, "pixelate": Pixelate, "fill": Fill, "crop": Crop, "synthetic": Synthesize}

#: Every redaction facesafe ships, by name (read-only): ``REDACTIONS["blur"]()``.
REDACTIONS: Mapping[str, type] = types.MappingProxyType(_CATALOGUE)
