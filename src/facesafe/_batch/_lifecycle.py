"""Worker processes that die with the process that started them.

A coordinator killed outright (``kill -9``, the kernel's OOM killer, a job
scheduler) cannot shut its pool down, and a ``ProcessPoolExecutor`` worker
never notices on its own: it waits for its next task on a queue whose other
ends its siblings hold, or blocks writing a result nobody reads, holding its
models' memory for good. So every worker facesafe starts watches its parent:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the kernel kill it the
  moment the parent dies. (The signal is tied to the parent *thread* that
  started the worker; facesafe's pools are started and used by the one thread
  that runs the batch call, which outlives them.)
- the parent may have died before that call, so the worker then checks at
  once that its parent is still the one it was started by;
- a daemon thread checks again every half second, which is the whole
  mechanism where ``PR_SET_PDEATHSIG`` does not exist (macOS, BSDs, Windows).

multiprocessing's resource tracker, started beside the first pool, needs none
of this: it exits when the last holder of its pipe (the coordinator and its
workers) is gone, as ``tests/test_lifecycle.py`` checks.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["die_with_parent", "parent_is_alive", "spawn_pool"]

#: Seconds between two checks of the parent by a worker's watchdog thread.
WATCH_EVERY = 0.5
#: Exit status of a worker that outlived its parent.
ORPHANED = 70

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def spawn_pool(workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that exit within a second of this process's death.

    Spawned, not forked: workers start clean (no inherited threads, locks or
    model state). Each runs ``initializer(*initargs)`` once, after it has
    started watching this process (:func:`die_with_parent`).
    """
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                               initargs=(os.getpid(), initializer, initargs))


def _start_worker(parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent(parent: int) -> None:
    """End this process (status :data:`ORPHANED`) soon after process ``parent``, its parent, dies.

    Call it first thing in a child process with the parent's pid as the
    parent knew it (passed down, not read here: the parent may already be gone).
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        # A failure (a seccomp filter, say) leaves the watchdog below to do the job.
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not parent_is_alive(parent):  # it died before prctl: no signal will come
        os._exit(ORPHANED)
    threading.Thread(target=_watch, args=(parent,), name="facesafe-parent-watchdog", daemon=True).start()


def _watch(parent: int) -> None:
    stop = threading.Event()  # never set: a sleep that a signal cannot shorten into a busy loop
    while parent_is_alive(parent):
        stop.wait(WATCH_EVERY)
    os._exit(ORPHANED)


def parent_is_alive(parent: int) -> bool:
    """Whether process ``parent`` is still this process's parent (and so alive)."""
    if os.name == "nt":  # getppid() keeps naming a dead parent there; multiprocessing's sentinel does not
        process = multiprocessing.parent_process()
        return process is not None and process.pid == parent and process.is_alive()
    # POSIX: a process whose parent exits is re-parented at that moment (to
    # init or a subreaper), so its parent pid changes.
    return os.getppid() == parent
