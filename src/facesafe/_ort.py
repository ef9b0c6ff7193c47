"""onnxruntime, imported only through :func:`onnxruntime`.

onnxruntime 1.29+ writes a device id and an event cache under
``~/.cache/Microsoft`` and uploads telemetry unless ``ORT_DISABLE_TELEMETRY=1``
is set before it initialises. Every facesafe module that runs a network gets
onnxruntime from here, in every process (caller, batch workers, Dask workers,
verify's pool), so the variable is always set first, whatever the user's
environment says.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["onnxruntime"]


def onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module, with its telemetry turned off first."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort

    return ort
