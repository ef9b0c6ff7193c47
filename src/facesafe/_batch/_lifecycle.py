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

Workers do not run the caller's script again. A spawned process normally
re-imports the parent's ``__main__`` (so that classes defined there unpickle),
which re-runs every unguarded line of a script: a script calling
``anonymize_dir(..., workers=8)`` without ``if __name__ == "__main__":`` then
starts the batch again inside each worker, and every worker dies. So when
nothing a worker receives names ``__main__`` (facesafe's own methods and
detectors never do), the pool's processes are launched with multiprocessing's
own spawn code minus that one step (:func:`_popen_without_main`, POSIX). When
something does (a detector class defined in the script), the script must be
imported, and a call at its unguarded top level is refused up front with what
to do (:func:`refuse_unguarded_script`).
"""

from __future__ import annotations

import ast
import ctypes
import functools
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import types
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import context, spawn
from pathlib import Path
from typing import Any

__all__ = ["die_with_parent", "parent_is_alive", "refuse_unguarded_script", "spawn_pool"]

#: Seconds between two checks of the parent by a worker's watchdog thread.
WATCH_EVERY = 0.5
#: Exit status of a worker that outlived its parent.
ORPHANED = 70

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def spawn_pool(workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that exit within a second of this process's death.

    Spawned, not forked: workers start clean (no inherited threads, locks or
    model state). Each runs ``initializer(*initargs)`` once, after it has
    started watching this process (:func:`die_with_parent`). Workers import the
    caller's ``__main__`` only when ``initializer`` or ``initargs`` refer to
    it; the tasks submitted must not (facesafe's carry paths and facesafe types).

    Raises ``ValueError`` (naming ``workers``) when they must import a script
    that would start this pool again in each of them.
    """
    needs_main = refuse_unguarded_script(initializer, initargs)
    mp_context = None if needs_main else _spawn_without_main()
    mp_context = mp_context or multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=mp_context, initializer=_start_worker,
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


class _SpawnWithoutMain:
    """:mod:`multiprocessing.spawn` as the launch code sees it, minus the child's import of ``__main__``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(spawn, name)

    @staticmethod
    def get_preparation_data(name: str) -> dict[str, Any]:
        data = spawn.get_preparation_data(name)
        data.pop("init_main_from_path", None)  # python script.py
        data.pop("init_main_from_name", None)  # python -m module
        return data


class _SpawnProcessWithoutMain(context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        popen = _popen_without_main()
        assert popen is not None  # _spawn_without_main() made sure
        return popen(process_obj)


class _SpawnContextWithoutMain(context.SpawnContext):
    Process = _SpawnProcessWithoutMain


@functools.cache
def _popen_without_main() -> type | None:
    """multiprocessing's POSIX spawn ``Popen`` whose child does not import ``__main__``; None where impossible.

    Its ``_launch`` runs multiprocessing's own code (not a copy of it), bound
    to :class:`_SpawnWithoutMain` in place of the ``spawn`` module. Only the
    pools given :func:`_spawn_without_main` use it; nothing global changes.
    """
    if os.name != "posix":
        return None
    from multiprocessing import popen_spawn_posix

    launch = getattr(popen_spawn_posix.Popen, "_launch", None)
    if launch is None or "spawn" not in launch.__code__.co_names or launch.__code__.co_freevars:
        return None  # a Python whose launch code differs: workers import __main__ as usual
    namespace = dict(launch.__globals__, spawn=_SpawnWithoutMain())
    rebound = types.FunctionType(launch.__code__, namespace, launch.__name__, launch.__defaults__)
    return type("_PopenWithoutMain", (popen_spawn_posix.Popen,), {"_launch": rebound})


def _spawn_without_main() -> context.BaseContext | None:
    """A spawn context whose processes do not import the caller's ``__main__``; None where it cannot be had."""
    return _SpawnContextWithoutMain() if _popen_without_main() is not None else None


def refuse_unguarded_script(*payload: Any) -> bool:
    """Whether workers given ``payload`` must import the caller's ``__main__``; raise when that would re-run the call.

    Call it before any side effect of a run; :func:`spawn_pool` calls it too.
    Raises ``ValueError`` (naming ``workers``) when ``payload`` refers to
    ``__main__`` and this call runs at the unguarded top level of a script.
    """
    if b"__main__" not in pickle.dumps(payload):  # no name defined in the script (a string may say it: harmless)
        return False
    _refuse_unguarded_call()
    return True


def _refuse_unguarded_call() -> None:
    main = sys.modules.get("__main__")
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_name == "<module>" and frame.f_globals is getattr(main, "__dict__", None)):
        frame = frame.f_back
    if frame is None or not Path(frame.f_code.co_filename).is_file():
        return  # not called from a script's top level (an interactive session, a guarded function)
    script, line = frame.f_code.co_filename, frame.f_lineno
    tree = ast.parse(Path(script).read_bytes(), script)
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test) and node.lineno <= line <= (node.end_lineno or line):
            return
    raise ValueError(
        f"workers: worker processes must import {script} to rebuild what it defines (a detector or redaction "
        f"class), and its line {line} starts this run at the top level, so each worker would start it again. "
        f'Put that call under `if __name__ == "__main__":`, move the class into a module, or pass workers=0'
    )


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"``, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = (test.left, test.comparators[0])
    return (any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)
            and any(isinstance(side, ast.Constant) and side.value == "__main__" for side in sides))
