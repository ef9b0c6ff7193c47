"""The first pass of a synthetic run: a bounded sample of the batch's faces, pooled in memory as the donor.

``--method synthetic`` replaces faces with mixes of many faces of the release
itself (:class:`~facesafe.DonorPool`). Before any output is written, workers
read a sample of the images (at most ``SAMPLE_IMAGES``, chosen by a seeded
hash of their relative paths, so the same folder gives the same sample
whatever the order of discovery or completion), find and mesh their faces and
send back the aligned textures; the coordinator keeps at most
``pool.capacity`` of them (the smallest keys: again independent of order).
Nothing of it is written to disk, and the pool travels to the second pass's
workers inside the pickled anonymizer only. Dataset runs (``facesafe._datasets``)
do the same with their records (:func:`chosen_names` of their locations,
:func:`pool_faces` with their own worker function).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .._anonymize import Anonymizer
from .._io import load_image
from .._redact import DonorPool, Synthesize
from .._redact._pool import aligned_faces, image_digest
from . import _fs
from ._runner import run_tasks
from ._worker import Task, failure_reason, load_anonymizer

__all__ = ["SAMPLE_IMAGES", "Sampled", "chosen_names", "describe", "fill_pool", "pool_faces", "pool_to_fill", "sample",
           "sampled_faces"]

SAMPLE_IMAGES = 2000  # images read by the first pass at most, whatever the folder's size


@dataclass(frozen=True)
class Sampled:
    """What the first pass found in one image: its pixels' digest and its aligned faces, or why not."""

    origin: str = ""
    faces: tuple[tuple[int, np.ndarray, np.ndarray], ...] = ()  # (index, texture, shape): see aligned_faces
    reason: str | None = None


def pool_to_fill(anonymizer: Anonymizer, *, donor_pool: bool) -> DonorPool | None:
    """The empty :class:`DonorPool` a run should fill in a first pass, set as the run's donor; else ``None``.

    A ``Synthesize`` without a donor gets a default ``DonorPool`` (unless
    ``donor_pool`` is false); one given an empty ``DonorPool`` has it filled.
    A filled pool or a ``KSamePool`` is used as it is.
    """
    synth = anonymizer.redaction
    if not isinstance(synth, Synthesize):
        return None
    if synth.donor is None and donor_pool:
        pool = DonorPool(seed=synth.seed)
        anonymizer.redaction = anonymizer._redaction = dataclasses.replace(synth, donor=pool)
        return pool
    if isinstance(synth.donor, DonorPool) and len(synth.donor) == 0:
        return synth.donor
    return None


def sampled_faces(worker: Anonymizer, data: bytes, *, name: str, size: int, min_width: float) -> Sampled:
    """The aligned faces of the first frame of the image ``data`` fit for a pool, found by ``worker`` (raises for a bad image)."""
    picture = load_image(data, max_pixels=worker.max_pixels, name=name)
    frame = picture.frames[0]
    synth = worker.redaction
    assert isinstance(synth, Synthesize)  # pool_to_fill set it
    faces = synth.meshed(frame, [f for f in worker.detect(frame) if f.kind == "face"])
    return Sampled(image_digest(frame), tuple(aligned_faces(frame, faces, size=size, min_width=min_width)))


def sample(task: Task, anonymizer: Callable[[], Anonymizer], *, size: int, min_width: float) -> Sampled:
    """The aligned faces of ``task.source``'s first frame fit for a pool; never raises (a bad file says why)."""
    try:
        return sampled_faces(anonymizer(), _fs.read_bytes(task.source), name=task.source, size=size, min_width=min_width)
    except Exception as exc:  # the second pass records this file's failure; here it only adds no face
        return Sampled(reason=failure_reason(exc))


def _name_key(seed: int, name: str) -> bytes:
    return hashlib.blake2b(f"{seed}\0{name}".encode(), digest_size=8).digest()


def chosen_names(names: Iterable[str], seed: int, limit: int = SAMPLE_IMAGES) -> set[str]:
    """The at most ``limit`` of ``names`` with the smallest seeded hash (``names`` is streamed: memory holds ``limit``)."""
    return set(heapq.nsmallest(limit, names, key=functools.partial(_name_key, seed)))


def _chosen(tasks: Sequence[Task], seed: int, limit: int) -> list[Task]:
    """At most ``limit`` tasks, those with the smallest seeded hash of their relative path, in their own order."""
    keep = {id(t) for t in heapq.nsmallest(limit, tasks, key=lambda task: _name_key(seed, task.rel))}
    return [t for t in tasks if id(t) in keep]


T = TypeVar("T")


def pool_faces(pool: DonorPool, tasks: Iterable[T], work: Callable[..., Sampled], name_of: Callable[[T], str],
               pickled: bytes, *, workers: int, client: object = None) -> tuple[int, int]:
    """Run ``work(task, anonymizer, size=, min_width=)`` on every task into ``pool``; return ``(images read, images that failed)``.

    ``name_of(task)`` names a task's image in the pool's sampling keys.
    """
    read = failed = 0

    def keep(task: T, found: Sampled) -> None:
        nonlocal read, failed
        read += 1
        failed += found.reason is not None
        for index, texture, shape in found.faces:
            pool.keep(texture, shape, origin=found.origin, key=pool.key(name_of(task), index))

    run_tasks(tasks, functools.partial(work, size=pool.size, min_width=pool.min_width), keep,
              setup=functools.partial(load_anonymizer, pickled), failed=_failed, workers=workers, client=client)
    return read, failed


def fill_pool(
    pool: DonorPool, tasks: Sequence[Task], pickled: bytes, *, workers: int, client: object = None
) -> tuple[int, int]:
    """Run the first pass over a sample of ``tasks`` into ``pool``; return ``(images read, images that failed)``."""
    chosen = _chosen(tasks, pool.seed, SAMPLE_IMAGES)
    return pool_faces(pool, chosen, sample, _rel, pickled, workers=workers, client=client)


def _rel(task: Task) -> str:
    return task.rel


def _failed(task: Any, reason: str) -> Sampled:
    return Sampled(reason=reason)


def describe(pool: DonorPool, images: int, failed: int) -> str:
    """What a run's summary says of the pool it built: its size, or that it is too small and the built-in donor is used."""
    unread = f", {failed:,} unreadable" if failed else ""
    if len(pool) < pool.k + 1:
        return (f"built-in donor: {len(pool)} of the faces in {images:,} sampled images{unread} fit the pool, "
                f"fewer than k + 1 = {pool.k + 1}")
    return f"a pool of {len(pool):,} faces from {images:,} sampled images{unread} (k={pool.k})"
