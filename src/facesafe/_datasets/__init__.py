"""Datasets, not just folders: Parquet tables, WebDataset shards, COCO files.

:func:`anonymize_dataset` recognises the kind of dataset from ``source`` and
hands it to its format adapter (``_parquet``, ``_webdataset``, ``_coco``); each
adapter reads records, sends their images through a runner as tasks keyed by
their location in the dataset, and writes what comes back in the input's
order. The guarantees are those of folder runs: outputs rebuilt from pixels
without metadata, a record that fails dropped and recorded (never passed
through), a manifest row per record keyed by its location, output files
written atomically, and a finished output file not redone by a re-run.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._anonymize import Anonymizer
from .._batch._lifecycle import refuse_unguarded_script
from .._batch._manifest import Manifest, default_manifest_path
from .._batch._run import hmac_key
from .._batch._sample import chosen_names, describe, pool_faces, pool_to_fill
from .._discover import refuse_out_inside
from .._redact import DonorPool
from ._coco import Coco
from ._core import DatasetReport, Runner, Session, Stopped, Task, sample_record
from ._parquet import Tables
from ._webdataset import Shards

if TYPE_CHECKING:
    from .._detect import Preset

__all__ = ["DatasetReport", "anonymize_dataset", "dataset_kind"]

KINDS = ("parquet", "webdataset", "coco")


def dataset_kind(source: Path, *, images: Path | None = None) -> str:
    """``"parquet"``, ``"webdataset"`` or ``"coco"`` for ``source``; ``ValueError`` when it is none of them."""
    if images is not None:
        if not (source.is_file() and source.suffix.lower() == ".json"):
            raise ValueError(f"images: --images goes with a COCO annotation file (.json) as the source, not {os.fspath(source)!r}")
        if not images.is_dir():
            raise ValueError(f"images: {os.fspath(images)!r} is not a folder")
        return "coco"
    if source.is_file():
        suffix = source.suffix.lower()
        if suffix == ".json":
            raise ValueError(f"images: the COCO annotation file {os.fspath(source)!r} needs --images DIR")
        kinds = {".parquet": "parquet", ".tar": "webdataset"}
        if suffix in kinds:
            return kinds[suffix]
        raise ValueError(f"source: {os.fspath(source)!r} is not a .parquet table, a .tar shard or a COCO .json file")
    if source.is_dir():
        has_tables = next(source.rglob("*.parquet"), None) is not None
        has_shards = next(source.rglob("*.tar"), None) is not None
        if has_tables and has_shards:
            raise ValueError(f"source: {os.fspath(source)!r} holds both .parquet tables and .tar shards; give one kind")
        if has_tables or has_shards:
            return "parquet" if has_tables else "webdataset"
        raise ValueError(f"source: {os.fspath(source)!r} holds no .parquet table and no .tar shard (for a plain folder of images "
                         "use `facesafe anonymize`)")
    raise ValueError(f"source: {os.fspath(source)!r} does not exist")


def anonymize_dataset(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    images: str | os.PathLike[str] | None = None,
    column: str | None = None,
    method: str | Any = "blur",
    preset: str | Preset = "balanced",
    detector: Any = None,
    format: str | None = None,
    quality: int = 92,
    workers: int | None = None,
    threads: int | None = None,
    manifest: str | os.PathLike[str] | None = None,
    on_error: str = "drop",
    overwrite: bool = False,
    rename: str | None = None,
    faces_category: str | None = None,
    max_pixels: int | None = None,
    command: str | None = None,
    quiet: bool = True,
    client: Any = None,
    donor_pool: bool = True,
    **options: Any,
) -> DatasetReport:
    """Anonymise every image of a dataset into ``out_dir``.

    Args:
        source: a ``.parquet`` table or a folder of them (mirrored), a ``.tar``
            WebDataset shard or a folder of them (mirrored), or a COCO
            annotation ``.json`` (with ``images``).
        out_dir: output folder; it may not be, or lie inside, a source folder.
        images: the folder the COCO file's ``file_name`` entries are relative to.
        column: the Parquet image column (default: the only binary or ``{bytes, path}`` column).
        method, preset, detector, format, quality, max_pixels, options: as for
            :class:`~facesafe.Anonymizer`; ``format=None`` keeps each image's
            format (JPEG stays JPEG, at ``quality``).
        workers: worker processes (default: every core); ``0`` works in this process.
        threads: inference threads per worker (default: cores / workers).
        manifest: SQLite manifest (default ``<out_dir>.facesafe.sqlite`` beside it).
        on_error: ``"drop"`` (default) drops a record whose image fails and
            goes on; ``"stop"`` stops the run at the first failure (the output
            file being written is not written).
        overwrite: replace output files that this manifest did not write.
        rename: ``"hmac"``: Parquet ``{bytes, path}`` cells get the keyed hash
            of their ``path`` instead of null, COCO images are named by the
            keyed hash of their ``file_name`` (the key is kept beside the
            manifest, as for folder runs). WebDataset keys are kept, so a
            shard refuses it.
        faces_category: COCO: add a category of this name with one annotation
            per face found (box in the output's pixels, score), for review.
        command: the command line, recorded in the manifest.
        quiet: no progress lines (otherwise one on stderr per file written, and every 10 seconds).
        client: a ``dask.distributed.Client``: run the images on its cluster (tasks carry the image bytes, so workers
            need no access to the files). Use single-threaded workers for outputs byte-identical to a local run.
            ``workers`` is then ignored.
        donor_pool: as for :func:`~facesafe.anonymize_dir` (a first pass pools a sample of the dataset's faces in
            memory; docs/synthetic.md); ``False`` keeps the painted donor.

    Returns a :class:`DatasetReport`; ``report.ok`` is false when any record
    failed. Re-running the same call skips output files an earlier run wrote
    from unchanged inputs with the same settings.
    """
    started = time.monotonic()
    plan = _plan(source, out_dir, images=images, manifest=manifest, workers=workers, rename=rename,
                 faces_category=faces_category)
    anonymizer = Anonymizer(method=method, preset=preset, detector=detector, format=format, quality=quality,
                            max_pixels=max_pixels, threads=_threads(plan.workers, threads, client), **options)
    pool = pool_to_fill(anonymizer, donor_pool=donor_pool)  # empty: the settings (and the resume key) name its recipe
    runner = Runner(anonymizer, workers=plan.workers, client=client)
    if client is None and plan.workers > 0:
        refuse_unguarded_script(runner.setup)  # before anything is written
    plan.out.mkdir(parents=True, exist_ok=True)
    with Manifest(plan.manifest) as db:
        session = Session(anonymizer, db, kind=plan.kind, on_error=on_error, overwrite=overwrite, command=command,
                          progress=None if quiet else sys.stderr, rename=rename)
        adapter = _adapter(plan, session, column=column, faces_category=faces_category,
                           rename_key=hmac_key(plan.manifest) if rename == "hmac" else None)
        stopped, donor = _run(runner, adapter, session, pool, root=plan.src)
    return session.report(manifest=plan.manifest, seconds=time.monotonic() - started, stopped=stopped, donor=donor)


def _first_pass(runner: Runner, adapter: Any, pool: DonorPool, *, root: Path) -> str:
    """Fill the run's empty ``pool`` from a sample of the dataset's images (in memory only); what the report says of it.

    The dataset is read twice here, as a stream: once for the names of its
    records (the sample is those with the smallest seeded hash of their
    location under ``root``, as a folder run's is of relative paths), once for
    the sampled images, which the runner's workers find and mesh.
    """
    prefix = str(root)

    def name_of(task: Task) -> str:
        return task.key[len(prefix):] if task.key.startswith(prefix) else task.key

    chosen = chosen_names((name_of(t) for t in adapter.all_tasks()), pool.seed)
    sampled = (t for t in adapter.all_tasks() if name_of(t) in chosen)
    found = pool_faces(pool, sampled, sample_record, name_of, runner.pickled, workers=runner.workers, client=runner.client)
    return describe(pool, *found)


def _run(runner: Runner, adapter: Any, session: Session, pool: DonorPool | None, *, root: Path) -> tuple[bool, str]:
    """Send the adapter's records through ``runner``, after the pool's first pass if ``pool`` (and anything is left to write).

    Returns whether ``on_error="stop"`` stopped the run, and what the report
    says of the pool. The session is finished either way.
    """
    donor = ""
    try:
        if pool is not None and not adapter.done():
            donor = _first_pass(runner, adapter, pool, root=root)
            runner = Runner(runner.anonymizer, workers=runner.workers, client=runner.client)  # now with the pool's faces
        runner.run(adapter.items(), adapter.tasks_of, adapter.emit)
    except Stopped:
        return True, donor
    finally:
        adapter.abort()
        session.finish()
    return False, donor


@dataclass(frozen=True)
class _Plan:
    """Where a dataset run reads and writes, resolved and checked before anything is built or written."""

    kind: str
    src: Path
    images: Path | None
    out: Path
    manifest: Path
    workers: int


def _plan(source: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, images: str | os.PathLike[str] | None,
          manifest: str | os.PathLike[str] | None, workers: int | None, rename: str | None,
          faces_category: str | None) -> _Plan:
    """The run's paths, kind and worker count; ``ValueError`` naming the argument for any that cannot be used."""
    src = Path(source).resolve()
    images_dir = None if images is None else Path(images).resolve()
    kind = dataset_kind(src, images=images_dir)
    _require(kind)
    out = Path(out_dir).resolve()
    refuse_out_inside([src] if images_dir is None else [src, images_dir], out)
    manifest_path = Path(manifest).resolve() if manifest is not None else default_manifest_path(out)
    if manifest_path == out or out in manifest_path.parents:
        raise ValueError(f"manifest must not be inside the output folder {out} (it names the source files)")
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if rename not in (None, "hmac"):
        raise ValueError(f"rename must be None or 'hmac', got {rename!r}")
    if rename is not None and kind == "webdataset":
        raise ValueError("rename: WebDataset keys and member names are kept (the samples' keys tie their members together)")
    if faces_category is not None and (kind != "coco" or not str(faces_category).strip()):
        raise ValueError("faces_category: a non-empty category name, for a COCO dataset only")
    return _Plan(kind, src, images_dir, out, manifest_path, workers)


def _threads(workers: int, threads: int | None, client: Any) -> int:
    """Inference threads per worker: one on a Dask cluster, else ``threads`` or the cores shared among the workers."""
    if client is not None:
        return 1
    if threads is None:
        return max(1, (os.cpu_count() or 1) // max(workers, 1))
    return threads


def _require(kind: str) -> None:
    """``ValueError`` (a usage error) when the reader this kind needs is not installed."""
    import importlib.util

    needed = {"parquet": "pyarrow", "coco": "pycocotools"}.get(kind)
    if needed is not None and importlib.util.find_spec(needed) is None:
        raise ValueError(f"source: {kind} datasets need {needed}: pip install 'facesafe[datasets]'")


def _adapter(plan: _Plan, session: Session, *, column: str | None, faces_category: str | None,
             rename_key: bytes | None) -> Any:
    """The format adapter for ``plan.kind``: ``items()`` reads, ``tasks_of(item)``, ``emit(item, outcomes)`` writes, ``abort()``;
    ``all_tasks()`` and ``done()`` serve the pool's first pass."""
    if plan.kind == "parquet":
        return Tables(plan.src, plan.out, session, column=column, rename_key=rename_key)
    if plan.kind == "webdataset":
        return Shards(plan.src, plan.out, session)
    assert plan.images is not None
    return Coco(plan.src, plan.images, plan.out, session, faces_category=faces_category, rename_key=rename_key)
