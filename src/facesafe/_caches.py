"""Where dependencies keep their caches, in the processes facesafe runs itself.

Importing mediapipe (FaceMesh, for ``method="synthetic"``) imports matplotlib
(``mediapipe/python/solutions/drawing_utils.py`` imports ``matplotlib.pyplot``),
which creates ``~/.config/matplotlib`` and writes the list of installed fonts to
``~/.cache/matplotlib`` (measured with a fresh ``HOME``). In the processes that
are facesafe's own, the ``facesafe`` command and the worker processes facesafe
starts, ``MPLCONFIGDIR`` points matplotlib at a temporary folder in the system
temp dir instead, removed when the command returns or the worker exits. An
``MPLCONFIGDIR`` already set is kept: the user chose where matplotlib writes.

A Python caller's own process and Dask workers are left alone: another
program's matplotlib settings are not facesafe's to change. There matplotlib
keeps its font list where it always does (font file names and sizes, nothing
of the images).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

__all__ = ["private_caches", "private_caches_until_exit"]

_VARIABLE = "MPLCONFIGDIR"
_PREFIX = "facesafe-caches-"


@contextlib.contextmanager
def private_caches() -> Iterator[None]:
    """For the duration (a ``facesafe`` command), dependencies cache in a temporary folder.

    Worker processes started meanwhile inherit the folder.
    """
    if os.environ.get(_VARIABLE):
        yield
        return
    with tempfile.TemporaryDirectory(prefix=_PREFIX) as folder:
        os.environ[_VARIABLE] = folder
        try:
            yield
        finally:
            os.environ.pop(_VARIABLE, None)


def private_caches_until_exit() -> None:
    """In a worker process facesafe started: the same, until the process exits."""
    if os.environ.get(_VARIABLE):
        return
    folder = tempfile.mkdtemp(prefix=_PREFIX)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ[_VARIABLE] = folder
