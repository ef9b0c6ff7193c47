"""What every dataset format shares: records in, outcomes out, in order.

A format adapter (``_parquet``, ``_webdataset``, ``_coco``) reads its records
and turns each image into a :class:`Task` (the encoded bytes and the record's
location in the dataset, e.g. ``part-0.parquet#row=12``). :func:`anonymize_record`
is the worker function: bytes in, an :class:`Outcome` out, never raising for a
bad record. A :class:`Runner` (:class:`LocalRunner`: this process or a local
process pool; :class:`DaskRunner`: a Dask cluster) runs the tasks with a
bounded number in flight and hands the outcomes back *in input order*, grouped
as the adapter grouped its tasks (a row, a sample, an image), so the adapter
can write its output in the input's order; only it would change to drive the
adapters from the shared batch runner. A :class:`Session` holds what the
adapters record with: the manifest, the settings key, the counts, the failure
policy.

Failure policy: a record whose image fails is dropped from the output and
recorded with its reason and location (never passed through); with
``on_error="stop"`` the run stops at the first failure instead, and the output
unit it was writing is not written.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .._anonymize import Anonymizer
from .._batch._worker import load_anonymizer
from .._errors import FacesafeError

__all__ = ["Task", "Outcome", "anonymize_record", "Runner", "LocalRunner", "DaskRunner", "Session", "DatasetReport", "Stopped", "atomic_output"]

T = TypeVar("T")
MAX_REPORTED_FAILURES = 1000
ON_ERROR = ("drop", "stop")


@dataclass(frozen=True)
class Task:
    """One image of a dataset: its location (``file#row=N``, ``shard#key/member``) and encoded bytes.

    ``hints`` are face boxes ``(x0, y0, x1, y1)`` the dataset itself knows of
    (annotated faces); they are redacted together with the detector's faces.
    """

    key: str
    data: bytes = field(repr=False)
    hints: tuple[tuple[float, float, float, float], ...] = ()


class _WithHints:
    """A detector that adds the dataset's own face boxes to what ``detector`` finds."""

    def __init__(self, detector: Any, hints: tuple[tuple[float, float, float, float], ...]) -> None:
        from .._geometry import Box, Face

        self.detector = detector
        self.faces = tuple(Face(Box(*hint), 1.0, detector="annotation") for hint in hints)

    def __call__(self, image: Any) -> tuple[Any, ...]:
        height, width = image.shape[:2]
        inside = tuple(f for f in self.faces if f.box.clipped(width=width, height=height).area > 0)
        return tuple(self.detector(image)) + inside


def _hinted(anonymizer: Anonymizer, hints: tuple[tuple[float, float, float, float], ...]) -> Anonymizer:
    """The same settings, with the dataset's face boxes added to the detector's."""
    return Anonymizer(method=anonymizer.redaction, detector=_WithHints(anonymizer.detector, hints), format=anonymizer.format,
                      quality=anonymizer.quality, max_pixels=anonymizer.max_pixels)


@dataclass(frozen=True)
class Outcome:
    """What became of one :class:`Task` (status ``written`` or ``failed``).

    ``data`` is the anonymised image, encoded in the input's format (or the
    configured one); ``size`` is the input's ``(width, height)`` as displayed;
    ``region`` the part kept by ``crop`` (integers), else ``None``.
    """

    key: str
    status: str
    reason: str | None = None
    data: bytes | None = field(default=None, repr=False)
    input_hash: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    output_hash: str | None = None
    size: tuple[int, int] | None = None
    boxes: tuple[tuple[tuple[float, float, float, float, float], ...], ...] = ()
    region: tuple[int, int, int, int] | None = None
    fell_back: int = 0
    started: float = 0.0
    finished: float = 0.0

    @property
    def faces(self) -> int:
        """Faces found over all frames."""
        return sum(len(frame) for frame in self.boxes)


def failed(key: str, reason: str) -> Outcome:
    """A failure decided without running the task (a record with no readable image)."""
    now = time.time()
    return Outcome(key, "failed", reason=reason, started=now, finished=now)


# One anonymizer per (settings, thread) in each process, built on first use.
_ANONYMIZERS: dict[tuple[bytes, int], Anonymizer] = {}


def _anonymizer(settings: bytes) -> Anonymizer:
    key = (settings, threading.get_ident())
    anonymizer = _ANONYMIZERS.get(key)
    if anonymizer is None:
        for old in [k for k in _ANONYMIZERS if k[0] != settings]:
            _ANONYMIZERS.pop(old).close()
        anonymizer = _ANONYMIZERS[key] = load_anonymizer(settings)
    return anonymizer


def init_worker(settings: bytes) -> None:
    """Process-pool initializer: build the anonymizer (and load models) once."""
    _anonymizer(settings)


def anonymize_record(task: Task, settings: bytes) -> Outcome:
    """Anonymise one record's image; never raises for a bad image (it becomes a ``failed`` outcome)."""
    from .._io import load_image

    started = time.time()
    base: dict[str, Any] = {"key": task.key, "started": started, "input_hash": hashlib.sha256(task.data).hexdigest()}
    try:
        anonymizer = _anonymizer(settings)
        if task.hints:
            anonymizer = _hinted(anonymizer, task.hints)
        picture = load_image(task.data, max_pixels=anonymizer.max_pixels)
        base["input_format"] = picture.format
        base["size"] = picture.size
        result = anonymizer.anonymize_picture(picture)
        encoded, fmt = anonymizer.encode(result, input_format=picture.format)
        boxes = tuple(
            tuple((round(f.box.x0, 1), round(f.box.y0, 1), round(f.box.x1, 1), round(f.box.y1, 1), round(f.score, 4)) for f in frame)
            for frame in result.faces
        )
        region = None if result.region is None else tuple(int(v) for v in result.region.as_xyxy())
        return Outcome(**base, status="written", data=encoded, output_format=fmt, output_hash=hashlib.sha256(encoded).hexdigest(),
                       boxes=boxes, region=region, fell_back=result.fell_back_count, finished=time.time())
    except FacesafeError as exc:
        reason = exc.reason if hasattr(exc, "reason") else str(exc)
        return Outcome(**base, status="failed", reason=f"{type(exc).__name__}: {reason}", finished=time.time())
    except MemoryError:
        return Outcome(**base, status="failed", reason="out of memory", finished=time.time())
    except Exception as exc:  # fail closed: any other error is this record's failure, with its cause
        return Outcome(**base, status="failed", reason=f"{type(exc).__name__}: {exc}", finished=time.time())


class Runner:
    """Hands outcomes back in input order, grouped as given, with at most ``window`` tasks in flight."""

    window = 1

    def _submit(self, task: Task) -> Any:
        raise NotImplementedError

    def _result(self, future: Any, task: Task) -> Outcome:
        raise NotImplementedError

    def map(self, groups: Iterable[T], tasks_of: Callable[[T], list[Task]]) -> Iterator[tuple[T, tuple[Outcome, ...]]]:
        """Each group with the outcomes of its tasks, in input order; a bounded number of tasks in flight."""
        queue: deque[tuple[T, list[tuple[Any, Task]]]] = deque()
        in_flight = 0
        source = iter(groups)
        exhausted = False
        while True:
            while not exhausted and in_flight < self.window:
                group = next(source, _END)
                if group is _END:
                    exhausted = True
                    break
                futures = [(self._submit(task), task) for task in tasks_of(group)]
                in_flight += len(futures)
                queue.append((group, futures))
            if not queue:
                return
            group, futures = queue.popleft()
            in_flight -= len(futures)
            yield group, tuple(self._result(future, task) for future, task in futures)


class LocalRunner(Runner):
    """Runs tasks in this process (``workers=0``) or on a local process pool, in order.

    Use as a context manager; :meth:`map` may be called many times (once per
    file or shard) and reuses the pool and its loaded models.
    """

    def __init__(self, anonymizer: Anonymizer, *, workers: int) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.settings = pickle.dumps(anonymizer)
        self.workers = workers
        self.window = max(2 * workers, 1)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _submit(self, task: Task) -> Any:
        if self.workers == 0:
            return anonymize_record(task, self.settings)  # done now: the "future" is the outcome
        if self._pool is None:
            # spawn: workers start clean (no inherited threads or model state).
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=init_worker, initargs=(self.settings,))
        return self._pool.submit(anonymize_record, task, self.settings)

    def _result(self, future: Any, task: Task) -> Outcome:
        if isinstance(future, Outcome):
            return future
        try:
            return future.result()
        except BrokenProcessPool:
            # The pool is lost with every task in it; each of those records fails (fail closed).
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            return failed(task.key, "the worker process died while this record was in flight (crash or out of memory)")


class DaskRunner(Runner):
    """Runs tasks on a Dask cluster (``client``), in order. Tasks carry the image bytes, so workers need no files.

    Each worker process builds one anonymizer for the run; single-threaded
    workers give outputs byte-identical to a local run.
    """

    def __init__(self, anonymizer: Anonymizer, *, client: Any) -> None:
        self.settings = pickle.dumps(anonymizer)
        self.client = client
        self.window = 2 * max(1, sum(client.nthreads().values()))

    def __enter__(self) -> DaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _submit(self, task: Task) -> Any:
        return self.client.submit(anonymize_record, task, self.settings, pure=False)

    def _result(self, future: Any, task: Task) -> Outcome:
        try:
            return future.result()
        except Exception as exc:  # KilledWorker, a lost connection: this record failed, with why
            return failed(task.key, f"cluster error: {type(exc).__name__}: {exc}")
        finally:
            future.release()


_END: Any = object()


class Stopped(Exception):
    """Raised inside a run when ``on_error="stop"`` meets a failed record."""


@dataclass(frozen=True)
class DatasetReport:
    """The summary of one dataset run.

    Attributes:
        kind: ``"parquet"``, ``"webdataset"`` or ``"coco"``.
        written: records written (with or without faces).
        without_faces: of those, records in which no face was found.
        failed: records dropped from the output because their image failed.
        faces: faces found over all written records.
        units: output files written (tables, shards; for COCO the annotation file).
        unchanged: output files already done by an earlier run with the same settings.
        dropped_annotations: COCO annotations dropped (left the kept region, or
            their image failed).
        stopped: the run stopped at a failure (``on_error="stop"``).
        failures: ``(location, reason)`` of failed records and units (the first 1,000).
        manifest: where the manifest is.
        seconds: wall time.
    """

    kind: str
    written: int = 0
    without_faces: int = 0
    failed: int = 0
    faces: int = 0
    units: int = 0
    unchanged: int = 0
    dropped_annotations: int = 0
    stopped: bool = False
    failures: tuple[tuple[str, str], ...] = ()
    manifest: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no record failed and the run was not stopped."""
        return self.failed == 0 and not self.stopped

    def summary(self) -> str:
        """One line for people."""
        text = (f"{self.kind}: {self.written} records written ({self.without_faces} without faces), {self.failed} failed; "
                f"{self.units} files written, {self.unchanged} already done; {self.faces} faces found in {self.seconds:.1f} s")
        if self.kind == "coco":
            text += f"; {self.dropped_annotations} annotations dropped"
        return text + ("; STOPPED at the first failure" if self.stopped else "")


class Session:
    """One dataset run's shared state: settings, manifest, counts and failure policy.

    Adapters call :meth:`record` for every record outcome (it raises
    :class:`Stopped` under ``on_error="stop"``), :meth:`fail_unit` /
    :meth:`done_unit` for every output file, and :meth:`previous` to resume.
    """

    def __init__(self, anonymizer: Anonymizer, db: Any, *, kind: str, on_error: str, overwrite: bool, command: str | None,
                 progress: Any = None, every: float = 10.0) -> None:
        from .. import __version__
        from .._batch._run import _model_versions

        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.anonymizer, self.db, self.kind = anonymizer, db, kind
        self.on_error, self.overwrite = on_error, overwrite
        self.version = __version__
        self.models = _model_versions(anonymizer)
        self.params = anonymizer.settings() | {"dataset": kind}
        self.params_key = hashlib.sha256(json.dumps([self.params, self.models, __version__], sort_keys=True).encode()).hexdigest()[:16]
        self.run_id = db.start_run(version=__version__, models=self.models, params=self.params, command=command)
        self.counts: dict[str, int] = {"written": 0, "without_faces": 0, "failed": 0, "faces": 0, "units": 0, "unchanged": 0,
                                       "dropped_annotations": 0}
        self.failures: list[tuple[str, str]] = []
        self.progress, self.every = progress, every
        self._started = self._said = time.monotonic()

    def _say(self, text: str, *, now: bool = True) -> None:
        """A progress line on ``progress`` (a text stream; ``None``: quiet), at most every ``every`` seconds unless ``now``."""
        if self.progress is None:
            return
        moment = time.monotonic()
        if now or moment - self._said >= self.every:
            self._said = moment
            done = self.counts["written"] + self.counts["failed"]
            rate = done / max(moment - self._started, 1e-9)
            print(f"facesafe: {text} ({done} records, {rate:.1f}/s)", file=self.progress, flush=True)

    def _failure(self, location: str, reason: str) -> None:
        self.counts["failed"] += 1
        if len(self.failures) < MAX_REPORTED_FAILURES:
            self.failures.append((location, reason))

    def record(self, outcome: Outcome, *, rel: str, output: str | None) -> None:
        """Record one record's outcome in the manifest and the counts."""
        row: dict[str, Any] = dict(source=outcome.key, rel=rel, status=outcome.status, reason=outcome.reason,
                                   input_hash=outcome.input_hash, input_format=outcome.input_format, faces=outcome.faces,
                                   boxes=[list(map(list, f)) for f in outcome.boxes], fell_back=outcome.fell_back,
                                   region=None if outcome.region is None else list(outcome.region),
                                   output=output if outcome.status == "written" else None,
                                   output_hash=outcome.output_hash if outcome.status == "written" else None,
                                   output_format=outcome.output_format, method=self.anonymizer.method,
                                   preset=self.anonymizer.preset, params_key=self.params_key, facesafe_version=self.version,
                                   models=self.models, started=outcome.started, finished=outcome.finished, run_id=self.run_id)
        self.db.record(**row)
        self._say(f"at {rel}", now=False)
        if outcome.status == "written":
            self.counts["written"] += 1
            self.counts["without_faces"] += outcome.faces == 0
            self.counts["faces"] += outcome.faces
            return
        self._failure(outcome.key, outcome.reason or "unknown")
        if self.on_error == "stop":
            raise Stopped(outcome.key)

    def previous(self, source: Path, output: Path) -> bool:
        """True when an earlier run of this manifest wrote ``output`` from these very bytes with these settings."""
        row = self.db.get(str(source))
        if row is None or row.status != "written" or row.params_key != self.params_key or not output.is_file():
            return False
        return row.input_hash == file_sha256(source) and row.output_hash == file_sha256(output)

    def may_write(self, source: Path, output: Path) -> bool:
        """True unless ``output`` exists and was not planned by this manifest (then the unit fails, recorded)."""
        if not output.exists() or self.overwrite or self.db.owner_of(str(output)) == str(source):
            return True
        self.fail_unit(source, rel=output.name, reason=f"output {output} exists and was not written by this manifest "
                                                      "(use --overwrite to replace it)")
        return False

    def may_replace(self, key: str, output: Path) -> bool:
        """True when the record ``key`` may replace ``output`` (``overwrite``, or its own output from an earlier run)."""
        return self.overwrite or self.db.owner_of(str(output)) == key

    def drop_annotations(self, count: int) -> None:
        """Count annotations dropped from the output."""
        self.counts["dropped_annotations"] += count

    def plan_unit(self, source: Path, rel: str, output: Path) -> None:
        """Mark an output file as this run's before writing it (pending until :meth:`done_unit`)."""
        self.db.record(source=str(source), rel=rel, status="pending", output=str(output), run_id=self.run_id,
                       params_key=None, started=time.time(), finished=None)

    def done_unit(self, source: Path, rel: str, output: Path) -> None:
        """Record a complete output file (what :meth:`previous` resumes from)."""
        self.db.record(source=str(source), rel=rel, status="written", output=str(output), input_hash=file_sha256(source),
                       output_hash=file_sha256(output), method=self.anonymizer.method, preset=self.anonymizer.preset,
                       params_key=self.params_key, facesafe_version=self.version, models=self.models, run_id=self.run_id)
        self.counts["units"] += 1
        self._say(f"{rel} written")

    def unchanged_unit(self) -> None:
        """Count an output file left as an earlier run wrote it."""
        self.counts["unchanged"] += 1
        self._say("a file already done by an earlier run left as it is")

    def fail_unit(self, source: Path, *, rel: str, reason: str) -> None:
        """Record a whole input file that could not be turned into an output."""
        self.db.record(source=str(source), rel=rel, status="failed", reason=reason, run_id=self.run_id)
        self._failure(str(source), reason)

    def report(self, *, manifest: Path, seconds: float, stopped: bool) -> DatasetReport:
        """The frozen summary of this run."""
        return DatasetReport(kind=self.kind, **self.counts, stopped=stopped, failures=tuple(self.failures),
                             manifest=manifest, seconds=seconds)

    def finish(self) -> None:
        """Record the end of the run."""
        self.db.finish_run(self.run_id)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block completes; removed on any error.

    A killed run leaves only a hidden ``.*.facesafe-tmp`` file, never a partial output.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.facesafe-tmp")
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
