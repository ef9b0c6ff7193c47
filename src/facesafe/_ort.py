"""onnxruntime, imported only through :func:`onnxruntime`.

onnxruntime 1.29+ ships telemetry on Linux. Measured with 1.32.0 and an empty
``HOME``: a bare ``import onnxruntime`` creates
``~/.cache/Microsoft/DeveloperTools/.onnxruntime/`` with a persistent
``deviceid`` and an SQLite event cache, ``onnxruntime.db``, whose events carry
the Python executable's path, the OS, CPU, memory and container details, and
every error message a session raises. About 10 s later a thread starts
looking up its upload host (DNS), again at about 15, 23, 45 and 88 s. With
``ORT_DISABLE_TELEMETRY=1`` in the environment *when onnxruntime is imported*
nothing is written and no lookup is made (``ORT_TELEMETRY_DISABLED=1`` does
not do it), and setting it after the import changes nothing.

So every facesafe module that runs a network gets onnxruntime from here, in
every process it runs in (the caller's, batch workers, Dask workers, verify's
pool), and the variable is set to ``1`` first, whatever the user's
environment says (``ORT_DISABLE_TELEMETRY=0`` included); processes started
later inherit it. Nothing happens when facesafe is imported: only when a
network is about to be built.

If the caller imported onnxruntime before facesafe got to it, with the
variable unset, the device id and the cache already exist and cannot be
unwritten. facesafe then calls onnxruntime's own
``disable_telemetry_events()``, which stops the events that would follow
(measured: the cache keeps the one start-up event and gains no other), but
not the upload thread (measured: the same DNS lookups), so it also warns,
once, naming the fix.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType

__all__ = ["onnxruntime"]

_VARIABLE = "ORT_DISABLE_TELEMETRY"


def onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module, with its telemetry turned off.

    Sets ``ORT_DISABLE_TELEMETRY=1`` before the first import. If onnxruntime
    was already imported without it, turns its events off and warns (once:
    the variable is then set, for this process and the ones it starts).
    """
    ort = sys.modules.get("onnxruntime")
    if ort is None:
        os.environ[_VARIABLE] = "1"
        import onnxruntime

        return onnxruntime
    # Imported before: by facesafe (the variable is "1"), or by the caller.
    disable = getattr(ort, "disable_telemetry_events", None)
    if disable is not None:
        disable()
    if os.environ.get(_VARIABLE) != "1":
        os.environ[_VARIABLE] = "1"
        warnings.warn(
            "onnxruntime was imported before facesafe could turn its telemetry off: it has written a device id "
            "and an event cache under ~/.cache/Microsoft/DeveloperTools/.onnxruntime and will try to upload it "
            "(facesafe stopped further events, not the upload). Fix: set ORT_DISABLE_TELEMETRY=1 in the "
            "environment before onnxruntime is imported, or let facesafe import it first.",
            RuntimeWarning,
            stacklevel=2,
        )
    return ort
