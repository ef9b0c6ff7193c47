"""What every dataset format shares: records in, outcomes out, in order.

A format adapter (``_parquet``, ``_webdataset``, ``_coco``) reads its dataset
as a stream of *items* (a row, a sample, an image entry, and markers that open
and close an output file) and turns each image into a :class:`Task` (the
encoded bytes and the record's location in the dataset, e.g.
``part-0.parquet#group=0&row=12``). :func:`anonymize_record` is the worker
function: bytes in, an :class:`Outcome` out, never raising for a bad record.
The :class:`Runner` runs the tasks of a whole run, every file of it, on the
shared batch runner (one pool, models loaded once) and hands each item back
with its outcomes *in input order*, so the adapter writes its outputs in the
input's order: the adapter reads, the coordinator writes. A :class:`Session`
holds what the adapters record with: the manifest, the settings key, the
counts, the failure policy.

Failure policy: a record whose image fails is dropped from the output and
recorded with its reason and location (never passed through); with
``on_error="stop"`` the run stops at the first failure instead, and the output
unit it was writing is not written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from .. import __version__
from .._anonymize import Anonymizer
from .._batch._manifest import box_kind
from .._batch._run import Report, _count, _fallback_name, _model_versions, _Tally
from .._batch._runner import run_tasks
from .._batch._sample import Sampled, sampled_faces
from .._batch._worker import failure_reason, load_anonymizer, recorded_donors, recorded_region
from .._geometry import Box, Face
from .._io import load_image

__all__ = [
    "Broken", "Closed", "DatasetReport", "FileForFile", "Opened", "Outcome", "OutputFile", "Runner", "Session", "Stopped",
    "Task", "anonymize_record", "atomic_output", "sample_record",
]

T = TypeVar("T")
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
        self.detector = detector
        self.faces = tuple(Face(Box(*hint), 1.0, detector="annotation") for hint in hints)

    def __call__(self, image: Any) -> tuple[Any, ...]:
        height, width = image.shape[:2]
        inside = tuple(f for f in self.faces if f.box.clipped(width=width, height=height).area > 0)
        return tuple(self.detector(image)) + inside


def _hinted(anonymizer: Anonymizer, hints: tuple[tuple[float, float, float, float], ...]) -> Anonymizer:
    """The same settings (targets too), with the dataset's face boxes added to the detector's."""
    return anonymizer._with_face_detector(_WithHints(anonymizer.detector, hints))


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
    boxes: tuple[tuple[tuple[float | str, ...], ...], ...] = ()
    region: tuple[int, int, int, int] | None = None
    fell_back: int = 0
    donors: tuple[tuple[str, ...], ...] | None = None
    started: float = 0.0
    finished: float = 0.0

    @property
    def faces(self) -> int:
        """Faces found over all frames."""
        return self.regions("face")

    def regions(self, kind: str) -> int:
        """Regions of ``kind`` (``"face"``, ``"plate"``, ``"text"``) found over all frames."""
        return sum(box_kind(box) == kind for frame in self.boxes for box in frame)

    def face_boxes(self) -> list[tuple[float, float, float, float, float]]:
        """The faces of the first frame as ``(x0, y0, x1, y1, score)``; plates and text are left out."""
        first = self.boxes[0] if self.boxes else ()
        return [(float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(b[4])) for b in first if box_kind(b) == "face"]


def failed(key: str, reason: str) -> Outcome:
    """A failure decided without running the task (a record with no readable image)."""
    now = time.time()
    return Outcome(key, "failed", reason=reason, started=now, finished=now)


def anonymize_record(task: Task, anonymizer_of: Callable[[], Anonymizer]) -> Outcome:
    """Anonymise one record's image with the worker's anonymizer (``anonymizer_of()``); never raises for a bad image."""
    started = time.time()
    base: dict[str, Any] = {"key": task.key, "started": started, "input_hash": hashlib.sha256(task.data).hexdigest()}
    try:
        anonymizer = anonymizer_of()
        if task.hints:
            anonymizer = _hinted(anonymizer, task.hints)
        picture = load_image(task.data, max_pixels=anonymizer.max_pixels)
        base["input_format"] = picture.format
        base["size"] = picture.size
        result = anonymizer.anonymize_picture(picture)
        encoded, fmt = anonymizer.encode(result, input_format=picture.format)
        boxes = tuple(tuple(recorded_region(f) for f in frame) for frame in result.faces)
        region = None
        if result.region is not None:
            x0, y0, x1, y1 = (int(v) for v in result.region.as_xyxy())
            region = (x0, y0, x1, y1)
        return Outcome(**base, status="written", data=encoded, output_format=fmt, output_hash=hashlib.sha256(encoded).hexdigest(),
                       boxes=boxes, region=region, fell_back=result.fell_back_count, donors=recorded_donors(result.donors),
                       finished=time.time())
    except Exception as exc:  # fail closed: any error is this record's failure, with its cause
        return Outcome(**base, status="failed", reason=failure_reason(exc), finished=time.time())


def sample_record(task: Task, anonymizer_of: Callable[[], Anonymizer], *, size: int, min_width: float) -> Sampled:
    """The first pass of a synthetic run: the faces of one record's image fit for the donor pool; never raises."""
    try:
        anonymizer = anonymizer_of()
        if task.hints:
            anonymizer = _hinted(anonymizer, task.hints)
        return sampled_faces(anonymizer, task.data, name=task.key, size=size, min_width=min_width)
    except Exception as exc:  # the second pass records this record's failure; here it only adds no face
        return Sampled(reason=failure_reason(exc))


@dataclass
class _Slot(Generic[T]):
    """An item waiting in the reorder buffer: the outcomes of its tasks as they come back."""

    item: T
    outcomes: list[Outcome | None]
    missing: int


class Runner:
    """Runs a dataset's images on the shared batch runner (:func:`facesafe._batch._runner.run_tasks`).

    So dataset runs get what folder runs get: this process (``workers=0``), a
    local pool whose workers die with the coordinator and do not re-import the
    caller's ``__main__``, a record that kills its worker retried alone and
    then failed, or a Dask cluster (``client``).

    :meth:`run` takes the adapter's *items* (a row, a sample, an image entry,
    and the markers that open and close an output file) and calls ``emit``
    with each item and the outcomes of its tasks **in input order**, in this
    process: the runner hands results back as they complete, and a reorder
    buffer holds the items that wait for an earlier one. It holds at most the
    runner's window of tasks (two per worker) plus the task-less items
    between them, so memory does not grow with the dataset.
    """

    def __init__(self, anonymizer: Anonymizer, *, workers: int, client: Any = None) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.anonymizer, self.pickled = anonymizer, pickle.dumps(anonymizer)
        self.setup = functools.partial(load_anonymizer, self.pickled)
        self.workers, self.client = workers, client

    def run(self, items: Iterable[T], tasks_of: Callable[[T], Sequence[Task]], emit: Callable[[T, tuple[Outcome, ...]], None]) -> None:
        """``emit(item, outcomes)`` for every item, in input order, once all of its tasks are done."""
        waiting: deque[_Slot[T]] = deque()
        where: dict[int, tuple[_Slot[T], int]] = {}  # by id() of a task in flight (alive until handled)

        def flush() -> None:
            while waiting and waiting[0].missing == 0:
                slot = waiting.popleft()
                emit(slot.item, tuple(o for o in slot.outcomes if o is not None))

        def tasks() -> Iterator[Task]:
            for item in items:
                group = list(tasks_of(item))
                slot = _Slot(item, [None] * len(group), len(group))
                waiting.append(slot)
                if not group:
                    flush()
                for index, task in enumerate(group):
                    where[id(task)] = (slot, index)
                    yield task

        def handle(task: Task, outcome: Outcome) -> None:
            slot, index = where.pop(id(task))
            slot.outcomes[index] = outcome
            slot.missing -= 1
            flush()

        run_tasks(tasks(), anonymize_record, handle, setup=self.setup, failed=_died, workers=self.workers, client=self.client)
        flush()


def _died(task: Task, reason: str) -> Outcome:
    """The outcome of a task whose worker died (or that the cluster gave up on)."""
    return failed(task.key, reason)




@dataclass(frozen=True)
class Opened:
    """An input file begins: its output is opened (``plan_unit``) before its records are written."""

    source: Path
    rel: str
    output: Path


@dataclass(frozen=True)
class Closed:
    """An input file read to its end: its output is put in place (``done_unit``)."""


@dataclass(frozen=True)
class Broken:
    """An input file that cannot be read (further): its output is not written, the file fails."""

    source: Path
    rel: str
    reason: str


class FileForFile:
    """What the file-for-file adapters share (Parquet tables, WebDataset shards): one output file per input file.

    :meth:`items` walks the input files (``find``), skips those an earlier run
    finished and those whose output is someone else's, and yields each file's
    items (``read``) between an :class:`Opened` and a :class:`Closed` (or a
    :class:`Broken`). :meth:`emit` opens the output (a hidden temporary,
    ``open_writer``), hands the records to ``write``, and puts the output in
    place when the file is done: at most one output is open at a time, since
    items come back in input order. :meth:`abort` drops the open one.
    """

    def __init__(self, src: Path, out: Path, session: Session) -> None:
        self.src, self.out, self.session = src, out, session
        self.opened: Opened | None = None
        self._file: OutputFile | None = None
        self.writer: Any = None
        self._finished: dict[Path, bool] = {}

    def find(self, src: Path) -> list[tuple[Path, str]]:
        """``(input file, rel)`` of every input under ``src``."""
        raise NotImplementedError

    def read(self, source: Path, rel: str, output: Path) -> Iterator[Any]:
        """One input file's items, from its :class:`Opened` to its :class:`Closed` (or :class:`Broken`)."""
        raise NotImplementedError

    def open_writer(self, opened: Any, temp: Path) -> Any:
        """The writer (anything with ``close()``) of an output about to be written to ``temp``."""
        raise NotImplementedError

    def write(self, item: Any, outcomes: tuple[Outcome, ...]) -> None:
        """Record and write one record item of the open output."""
        raise NotImplementedError

    def tasks_of(self, item: Any) -> Sequence[Task]:
        """The tasks of one item (none for markers)."""
        raise NotImplementedError

    def all_tasks(self) -> Iterator[Task]:
        """Every record's image task, read as a stream, finished files too, with no record made (the pool's first pass)."""
        for source, rel in self.find(self.src):
            for item in self.read(source, rel, self.out / rel):
                yield from self.tasks_of(item)

    def finished(self, source: Path, output: Path) -> bool:
        """Whether an earlier run wrote ``output`` from ``source`` as it is, with these settings (asked once per file)."""
        if source not in self._finished:
            self._finished[source] = self.session.previous(source, output)
        return self._finished[source]

    def done(self) -> bool:
        """Whether every output file is already done (the run has nothing to write, so no first pass is needed)."""
        return all(self.finished(source, self.out / rel) for source, rel in self.find(self.src))

    def items(self) -> Iterator[Any]:
        """Every input file's items, file after file; finished files (an earlier run's) are skipped."""
        for source, rel in self.find(self.src):
            output = self.out / rel
            if self.finished(source, output):
                self.session.unchanged_unit()
            elif self.session.may_write(source, output):
                yield from self.read(source, rel, output)

    def emit(self, item: Any, outcomes: tuple[Outcome, ...]) -> None:
        """Handle one item once its outcomes are all in (called in input order)."""
        if isinstance(item, Opened):
            self.session.plan_unit(item.source, item.rel, item.output)
            self.opened, self._file = item, OutputFile(item.output)
            self.writer = self.open_writer(item, self._file.temp)
        elif isinstance(item, Closed):
            assert self.opened is not None and self._file is not None
            self.writer.close()
            self._file.commit()
            self.session.done_unit(self.opened.source, self.opened.rel, self.opened.output)
            self.opened = self._file = self.writer = None
        elif isinstance(item, Broken):
            self.abort()
            self.session.fail_unit(item.source, rel=item.rel, reason=item.reason)
        else:
            self.write(item, outcomes)

    def abort(self) -> None:
        """Drop the output being written (a stop, an error): its temporary goes, the output is not written."""
        if self.writer is not None:
            self.writer.close()
        if self._file is not None:
            self._file.abort()
        self.opened = self._file = self.writer = None


class Stopped(Exception):
    """Raised inside a run when ``on_error="stop"`` meets a failed record."""


@dataclass(frozen=True)
class DatasetReport(Report):
    """The summary of one dataset run: a :class:`~facesafe.Report` whose counts are records.

    Attributes (beside :class:`~facesafe.Report`'s, counted in records: ``written``,
    ``without_faces``, ``failed`` -- dropped from the output because their image
    failed --, ``faces``, ``plates``, ``text``, ``fell_back``):
        kind: ``"parquet"``, ``"webdataset"`` or ``"coco"``.
        units: output files written (tables, shards; for COCO the annotation file).
        unchanged: output files already done by an earlier run with the same settings.
        dropped_annotations: COCO annotations dropped (left the kept region, or
            their image failed).
        stopped: the run stopped at a failure (``on_error="stop"``).
        failures: ``(location, reason)`` of failed records and units (the first 1,000).
    """

    kind: str = ""
    units: int = 0
    dropped_annotations: int = 0
    stopped: bool = False

    @property
    def ok(self) -> bool:
        """True when no record failed and the run was not stopped."""
        return self.failed == 0 and not self.stopped

    @property
    def images(self) -> int:
        """Records read: written or failed."""
        return self.written + self.failed

    def summary(self) -> str:
        """One line for people."""
        others = "".join(f", {_count(n, noun)}" for n, noun in ((self.plates, "plate"), (self.text, "text region")) if n)
        text = (f"{self.kind}: {self.written} records written ({self.without_faces} without faces), {self.failed} failed; "
                f"{self.units} files written, {self.unchanged} already done; {self.faces} faces{others} found in {self.seconds:.1f} s")
        if self.fell_back:
            fallback = f"the {self.fallback} fallback" if self.fallback else "the fallback"
            text += f"; {self.method}: {self.fell_back:,} of {_count(self.faces, 'face')} got {fallback}"
        if self.donor:
            text += f"; donor: {self.donor}"
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
                 progress: Any = None, every: float = 10.0, rename: str | None = None) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.anonymizer, self.db, self.kind = anonymizer, db, kind
        self.on_error, self.overwrite = on_error, overwrite
        self.version = __version__
        self.models = _model_versions(anonymizer)
        self.params = anonymizer.settings() | {"dataset": kind} | ({"rename": rename} if rename else {})
        self.params_key = hashlib.sha256(json.dumps([self.params, self.models, __version__], sort_keys=True).encode()).hexdigest()[:16]
        self.run_id = db.start_run(version=__version__, models=self.models, params=self.params, command=command)
        self.tally = _Tally()
        self.progress, self.every = progress, every
        self._started = self._said = time.monotonic()

    def _say(self, text: str, *, now: bool = True) -> None:
        """A progress line on ``progress`` (a text stream; ``None``: quiet), at most every ``every`` seconds unless ``now``."""
        if self.progress is None:
            return
        moment = time.monotonic()
        if now or moment - self._said >= self.every:
            self._said = moment
            done = self.tally.counts["written"] + self.tally.counts["failed"]
            rate = done / max(moment - self._started, 1e-9)
            print(f"facesafe: {text} ({done} records, {rate:.1f}/s)", file=self.progress, flush=True)

    def record(self, outcome: Outcome, *, rel: str, output: str | None) -> None:
        """Record one record's outcome in the manifest and the counts."""
        row: dict[str, Any] = dict(source=outcome.key, rel=rel, status=outcome.status, reason=outcome.reason,
                                   input_hash=outcome.input_hash, input_format=outcome.input_format, faces=outcome.faces,
                                   boxes=[list(map(list, f)) for f in outcome.boxes], fell_back=outcome.fell_back,
                                   donors=outcome.donors,
                                   region=None if outcome.region is None else list(outcome.region),
                                   output=output if outcome.status == "written" else None,
                                   output_hash=outcome.output_hash if outcome.status == "written" else None,
                                   output_format=outcome.output_format, method=self.anonymizer.method,
                                   preset=self.anonymizer.preset, params_key=self.params_key, facesafe_version=self.version,
                                   models=self.models, started=outcome.started, finished=outcome.finished, run_id=self.run_id)
        self.db.record(**row)
        self._say(f"at {rel}", now=False)
        self.tally.add(outcome.status, faces=outcome.faces, fell_back=outcome.fell_back, plates=outcome.regions("plate"),
                       text=outcome.regions("text"), source=outcome.key, reason=outcome.reason)
        if outcome.status == "written":
            return
        if self.on_error == "stop":
            raise Stopped(outcome.key)

    def previous(self, source: Path, output: Path | None = None, *, key: str | None = None) -> bool:
        """True when an earlier run of this manifest wrote ``output`` from these very bytes with these settings.

        ``key``: the record's (default: the source's path); ``output``: default
        the output that record names. Raises ``OSError`` when ``source`` or the
        output cannot be read.
        """
        row = self.db.get(str(source) if key is None else key)
        if row is None or row.status != "written" or row.params_key != self.params_key:
            return False
        if output is None:
            if row.output is None:
                return False
            output = Path(row.output)
        if not output.is_file():
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
        self.tally.counts["dropped_annotations"] += count

    def plan_unit(self, source: Path, rel: str, output: Path) -> None:
        """Mark an output file as this run's before writing it (pending until :meth:`done_unit`)."""
        self.db.record(source=str(source), rel=rel, status="pending", output=str(output), run_id=self.run_id,
                       params_key=None, started=time.time(), finished=None)

    def done_unit(self, source: Path, rel: str, output: Path) -> None:
        """Record a complete output file (what :meth:`previous` resumes from)."""
        self.db.record(source=str(source), rel=rel, status="written", output=str(output), input_hash=file_sha256(source),
                       output_hash=file_sha256(output), method=self.anonymizer.method, preset=self.anonymizer.preset,
                       params_key=self.params_key, facesafe_version=self.version, models=self.models, run_id=self.run_id)
        self.tally.counts["units"] += 1
        self._say(f"{rel} written")

    def unchanged_unit(self) -> None:
        """Count an output file left as an earlier run wrote it."""
        self.tally.counts["unchanged"] += 1
        self._say("a file already done by an earlier run left as it is")

    def fail_unit(self, source: Path, *, rel: str, reason: str) -> None:
        """Record a whole input file that could not be turned into an output."""
        self.db.record(source=str(source), rel=rel, status="failed", reason=reason, run_id=self.run_id)
        self.tally.add("failed", source=str(source), reason=reason)

    def report(self, *, manifest: Path, seconds: float, stopped: bool, donor: str = "") -> DatasetReport:
        """The frozen summary of this run (``donor``: what the first pass's pool holds, as :attr:`Report.donor`)."""
        return self.tally.report(manifest=manifest, seconds=seconds, method=self.anonymizer.method, donor=donor,
                                 fallback=_fallback_name(self.anonymizer), targets=self.anonymizer.targets,
                                 report_type=DatasetReport, kind=self.kind, stopped=stopped)

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


class OutputFile:
    """An output file being written: a hidden temporary beside it, renamed onto it by :meth:`commit`.

    A killed run leaves only a hidden ``.NAME.*.facesafe-tmp`` file, never a
    partial output; the next run that writes ``path`` removes such leftovers.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*.facesafe-tmp"):
            stale.unlink(missing_ok=True)
        self.path = path
        self.temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.facesafe-tmp")

    def commit(self) -> None:
        """Put the complete temporary in place of ``path``."""
        os.replace(self.temp, self.path)

    def abort(self) -> None:
        """Remove the temporary (nothing at ``path`` changes)."""
        self.temp.unlink(missing_ok=True)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (:class:`OutputFile`), renamed onto it when the block completes; removed on any error."""
    output = OutputFile(path)
    try:
        yield output.temp
        output.commit()
    finally:
        output.abort()
