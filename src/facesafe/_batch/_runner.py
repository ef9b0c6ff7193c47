"""One runner for every batch: tasks out to workers, results back to the coordinator.

``anonymize_dir``, ``strip_dir`` and ``verify`` describe their work the same way:

- **tasks**: small picklable records (paths, never pixels), pulled lazily from
  an iterable, so discovery can stream;
- **work(task, state) -> result**: a module-level function run where the task
  runs. It never raises for a bad input: a bad input is a result saying so.
  ``state()`` returns the per-process state (models), built by ``setup()`` once
  per process (once per thread on a multi-threaded Dask worker) and only
  when first asked for;
- **handle(task, result)**: runs in the coordinator, one result at a time
  (recording, counting, printing);
- **failed(task, reason) -> result**: the result of a task whose worker died
  (or, on Dask, whose task the cluster gave up on).

and pick where it runs: this process (``workers=0``), a local pool of spawned
processes that die with the coordinator (:mod:`._lifecycle`), or a Dask
cluster (``client``). At most two tasks per worker are in flight, so a
million-file folder never sits in memory as futures. A worker that dies (a
crash, or the kernel killing it for memory) breaks a local pool: the tasks in
flight are then retried one at a time on a fresh pool, and a task that kills
its worker alone gets ``failed(task, ...)``.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .._caches import private_caches_until_exit
from ._lifecycle import spawn_pool

__all__ = ["WORKER_DIED", "run_tasks"]

T = TypeVar("T")
R = TypeVar("R")
Work = Callable[[T, Callable[[], Any]], R]

#: The reason given for a task whose local worker process died on it.
WORKER_DIED = "the worker process died on this file (crash or out of memory)"


def run_tasks(
    tasks: Iterable[T],
    work: Work[T, R],
    handle: Callable[[T, R], None],
    *,
    setup: Callable[[], Any],
    failed: Callable[[T, str], R],
    workers: int = 0,
    client: Any = None,
    before: Callable[[T], None] | None = None,
) -> None:
    """Run ``work`` on every task and ``handle`` each result in this process.

    Args:
        tasks: the tasks, consumed lazily in order.
        work: ``(task, state) -> result`` (module-level, to pickle by name).
        handle: called in this process with each task and its result, in
            order for ``workers=0``, as they complete otherwise.
        setup: builds a process's state; picklable unless ``workers=0``.
        failed: the result for a task whose worker died, given why.
        workers: processes in the local pool; 0 runs in this process.
        client: a ``dask.distributed.Client`` to run on instead (``workers``
            is then ignored).
        before: called with each task just before it is started (to mark it
            as started in a manifest, say).
    """
    before = before or _nothing
    if client is None and workers == 0:
        state = functools.cache(setup)
        for task in tasks:
            before(task)
            handle(task, work(task, state))
        return
    job = _Job(work, handle, pickle.dumps(setup), failed, before)
    if client is not None:
        _run_dask(job, iter(tasks), client)
    else:
        _run_pool(job, iter(tasks), workers)


def _nothing(task: Any) -> None:
    pass


@dataclass(frozen=True)
class _Job(Generic[T, R]):
    """What a run does with each task, as :func:`run_tasks` was given it (``setup`` pickled)."""

    work: Work[T, R]
    handle: Callable[[T, R], None]
    setup: bytes
    failed: Callable[[T, str], R]
    before: Callable[[T], None]


# -- in a worker process -------------------------------------------------------

# The state of each run a worker process has served, by the digest of the run's
# pickled setup (and thread: detectors are not all thread-safe); a new run's
# state replaces an older one's, closing it. A local pool's processes get the
# setup once, when they start (it may be large: a synthetic run's donor pool),
# and then only its digest with each task.
_STATES: dict[tuple[str, int], Any] = {}
_SETUPS: dict[str, bytes] = {}


def _digest(setup: bytes) -> str:
    return hashlib.sha256(setup).hexdigest()


def _state(setup: bytes | str) -> Any:
    """The state of the run whose setup (or, in a local pool's process, its digest) is given."""
    digest = setup if isinstance(setup, str) else _digest(setup)
    key = (digest, threading.get_ident())
    if key not in _STATES:
        for old in [k for k in _STATES if k[0] != digest]:
            close = getattr(_STATES.pop(old), "close", None)
            if close is not None:
                close()
        _STATES[key] = pickle.loads(_SETUPS[digest] if isinstance(setup, str) else setup)()
    return _STATES[key]


def _start(setup: bytes) -> None:
    """Pool initializer: dependencies' caches made private (see ``_caches``), then the state built (models loaded)."""
    private_caches_until_exit()
    _SETUPS.clear()
    _SETUPS[_digest(setup)] = setup
    _state(setup)


def _run_one(work: Work[T, R], task: T, setup: bytes | str) -> R:
    return work(task, functools.partial(_state, setup))


# -- in the coordinator --------------------------------------------------------


def _run_pool(job: _Job[T, R], queue: Iterator[T], workers: int) -> None:
    """Run on a local pool, ``2 * workers`` tasks in flight; retry alone what a dead worker held."""
    task = next(queue, None)
    if task is None:
        return
    window, suspects = 2 * workers, list[T]()
    digest = _digest(job.setup)  # sent with each task; the setup itself once per process
    pool = spawn_pool(workers, _start, (job.setup,))

    def fresh(old: ProcessPoolExecutor) -> ProcessPoolExecutor:
        old.shutdown(wait=False, cancel_futures=True)
        return spawn_pool(workers, _start, (job.setup,))

    try:
        pending: dict[Future[R], T] = {}
        while True:
            if suspects:  # one at a time, to find the task that kills workers
                suspect = suspects.pop(0)
                try:
                    job.handle(suspect, pool.submit(_run_one, job.work, suspect, digest).result())
                except BrokenProcessPool:
                    job.handle(suspect, job.failed(suspect, WORKER_DIED))
                    pool = fresh(pool)
                continue
            while len(pending) < window and task is not None:
                job.before(task)
                pending[pool.submit(_run_one, job.work, task, digest)] = task
                task = next(queue, None)
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                finished = pending.pop(future)
                try:
                    job.handle(finished, future.result())
                except BrokenProcessPool:
                    broken = True
                    suspects.append(finished)
            if broken:
                suspects.extend(pending.values())
                pending.clear()
                pool = fresh(pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(job: _Job[T, R], queue: Iterator[T], client: Any) -> None:
    """Run on a Dask cluster, two tasks per worker thread in flight.

    The scheduler retries a task whose worker died elsewhere; a task that
    keeps killing workers (or a lost connection) ends as ``failed``, with the
    cluster's error as the reason.
    """
    from distributed import as_completed

    window = 2 * max(1, sum(client.nthreads().values()))
    futures: dict[Any, T] = {}
    setup = client.scatter(job.setup, broadcast=True, hash=False)  # sent to each worker once, not with each task

    def submit() -> Any | None:
        task = next(queue, None)
        if task is None:
            return None
        job.before(task)
        key = f"facesafe-{hashlib.sha256(repr(task).encode()).hexdigest()[:20]}-{id(task)}"
        future = client.submit(_run_one, job.work, task, setup, pure=False, key=key)
        futures[future] = task
        return future

    running = as_completed([f for f in (submit() for _ in range(window)) if f is not None])
    for future in running:
        task = futures.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # KilledWorker, or a lost connection: the task failed, with why
            result = job.failed(task, f"cluster error: {type(exc).__name__}: {exc}")
        job.handle(task, result)
        future.release()
        new = submit()
        if new is not None:
            running.add(new)
