"""anonymize_dir(): whole folders, in parallel, resumable, fail closed.

The coordinator (this process) finds the inputs, plans their output paths,
keeps the manifest and shows progress; workers do the pixel work (see
``_worker``), run by the shared runner (``_runner``). Every input ends as a written output or as a failure or
skip recorded with its reason, exactly once in the manifest.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import os
import pickle
import secrets
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from .. import __version__
from .._anonymize import Anonymizer, _method_name
from .._discover import claim_outputs, discover, output_rel, refuse_out_inside, unique_rel
from .._errors import OutputError
from .._formats import classify
from .._io import output_format as default_format
from .._io import suffix_for
from .._redact import DonorPool, Synthesize
from . import _fs
from ._lifecycle import refuse_unguarded_script
from ._manifest import Manifest, default_manifest_path
from ._runner import run_tasks
from ._sample import describe, fill_pool, pool_to_fill
from ._worker import Outcome, Task, left_as_is, load_anonymizer, process

if TYPE_CHECKING:
    from .._detect import Preset

__all__ = ["Report", "anonymize_dir", "hmac_key", "hmac_name", "plan_outputs"]

MAX_REPORTED_FAILURES = 1000


@dataclass(frozen=True)
class Report:
    """The summary of one :func:`anonymize_dir` run.

    Attributes:
        written: outputs written in this run (with or without faces).
        without_faces: of those, outputs in which no face was found.
        unchanged: inputs already done by an earlier run with the same settings.
        failed: inputs that failed; nothing was written for them.
        skipped: files that are not images (recorded, not written).
        faces: faces found over all written outputs.
        fell_back: of those, faces that got the method's fallback redaction
            (``crop``: every face of a photo it could not crop).
        fell_back_files: written outputs with at least one such face.
        method: the redaction's name; ``fallback``: its fallback's, if it has one.
        plates: licence plates found over all written outputs (``targets`` with plates).
        text: text lines found over all written outputs (``targets`` with text).
        targets: what the run was asked to find and hide.
        failures: ``(path, reason)`` of failed inputs (the first 1,000; the
            manifest has them all).
        manifest: where the manifest is.
        seconds: wall time of the run.
        donor: ``synthetic`` with a pool built by the run: what it holds, or
            that it was too small and the built-in donor was used.
    """

    written: int = 0
    without_faces: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    faces: int = 0
    fell_back: int = 0
    fell_back_files: int = 0
    method: str = ""
    fallback: str | None = None
    plates: int = 0
    text: int = 0
    failures: tuple[tuple[str, str], ...] = ()
    manifest: Path | None = None
    seconds: float = 0.0
    targets: tuple[str, ...] = ("faces",)
    donor: str = ""

    @property
    def ok(self) -> bool:
        """True when no input failed."""
        return self.failed == 0

    @property
    def images(self) -> int:
        """Images found: written, unchanged or failed (files that are not images are skipped)."""
        return self.written + self.unchanged + self.failed

    def summary(self) -> str:
        """One line for people: what was done, and what went otherwise than asked.

        >>> Report(written=30, faces=40, fell_back=1, fell_back_files=1, method="synthetic", fallback="pixelate").summary()
        '30 written (0 without faces), 0 already done, 0 failed, 0 skipped; 40 faces found in 0.0 s; synthetic: 1 of 40 faces got the pixelate fallback'
        >>> Report(unchanged=30, seconds=0.2).summary()
        'nothing to do: 30 unchanged (already done) in 0.2 s'
        """
        if self.images == 0:
            return f"no image found ({_count(self.skipped, 'file')} skipped, not images) in {self.seconds:.1f} s"
        if self.unchanged == self.images:
            return f"nothing to do: {self.unchanged:,} unchanged (already done) in {self.seconds:.1f} s"
        others = "".join(f", {_count(getattr(self, t), 'plate' if t == 'plates' else 'text region')}"
                         for t in ("plates", "text") if t in self.targets)
        line = (f"{self.written:,} written ({self.without_faces:,} without faces), {self.unchanged:,} already done, "
                f"{self.failed:,} failed, {self.skipped:,} skipped; {_count(self.faces, 'face')}{others} found in {self.seconds:.1f} s")
        if self.fell_back:
            fallback = f"the {self.fallback} fallback" if self.fallback else "the fallback"
            if self.method == "crop":
                with_faces = self.written - self.without_faces
                line += (f"; crop cropped {with_faces - self.fell_back_files:,} of {_count(with_faces, 'photo')} with faces, "
                         f"{_count(self.fell_back, 'face')} in the other {self.fell_back_files:,} got {fallback} instead")
            else:
                line += f"; {self.method}: {self.fell_back:,} of {_count(self.faces, 'face')} got {fallback}"
        if self.donor:
            line += f"; donor: {self.donor}"
        return line


R = TypeVar("R", bound=Report)


def _count(n: int, noun: str) -> str:
    """``1 face``, ``2 faces``, ``1,942 faces``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@dataclass
class _Tally:
    """What became of each input so far: :class:`Report`'s counts by field name, and the first failures."""

    counts: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def add(self, status: str, *, faces: int = 0, fell_back: int = 0, plates: int = 0, text: int = 0,
            source: str = "", reason: str | None = None) -> None:
        if status == "written":
            self.counts.update(written=1, without_faces=int(faces == 0), faces=faces, fell_back=fell_back,
                               fell_back_files=int(fell_back > 0), plates=plates, text=text)
        elif status in ("unchanged", "skipped"):
            self.counts[status] += 1
        else:
            self.counts["failed"] += 1
            if len(self.failures) < MAX_REPORTED_FAILURES:
                self.failures.append((source, reason or "unknown"))

    def report(self, *, manifest: Path, seconds: float, method: str = "", fallback: str | None = None,
               targets: tuple[str, ...] = ("faces",), donor: str = "", report_type: type[R] = Report, **fields: Any) -> R:  # type: ignore[assignment]  # a TypeVar default (PEP 696) mypy lacks
        """The frozen summary of these counts: a ``report_type`` (a :class:`Report`) with ``fields`` beside them."""
        return report_type(**self.counts, method=method, fallback=fallback, failures=tuple(self.failures), manifest=manifest,
                           seconds=seconds, targets=targets, donor=donor, **fields)


def hmac_key(manifest_path: Path) -> bytes:
    """The ``--rename hmac`` key of a manifest, kept beside it (``MANIFEST.key``, mode 0600), made on first use."""
    key_path = manifest_path.with_name(manifest_path.name + ".key")
    if key_path.exists():
        return bytes.fromhex(key_path.read_text().strip())
    key = secrets.token_bytes(32)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def hmac_name(key: bytes, name: str, fmt: str) -> str:
    """The ``--rename hmac`` name of ``name`` for an output in ``fmt``: its keyed hash (32 hex digits) and the format's suffix."""
    return hmac.new(key, name.encode(), hashlib.sha256).hexdigest()[:32] + suffix_for(fmt)


def plan_outputs(
    found: Iterable[tuple[str, PurePosixPath, str]],
    out_dir: str,
    *,
    output_format: str | None,
    rename_key: bytes | None = None,
) -> Iterator[tuple[str, PurePosixPath, str]]:
    """Map ``(source, rel, input_format)`` to ``(source, rel, output)``.

    Outputs mirror ``rel`` under ``out_dir``; the suffix changes only when the
    output format differs from what the suffix names. With ``rename_key``,
    outputs get keyed-hash names instead (flat, no folders). Two inputs that
    would share an output get distinct names (``name~2.ext``), deterministically
    in input order.
    """
    claim = claim_outputs()
    for source, rel, in_fmt in found:
        fmt = output_format or default_format(in_fmt)
        if rename_key is not None:
            base = PurePosixPath(hmac_name(rename_key, str(rel), fmt))
        else:
            base = output_rel(rel, fmt)
        yield source, rel, _fs.join(out_dir, unique_rel(claim, base, source))


class _Progress:
    """A tqdm bar on a terminal, plain lines every ``every`` seconds otherwise."""

    def __init__(self, total: int, *, quiet: bool, stream: Any = None, every: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.total, self.done, self.quiet, self.every = total, 0, quiet, every
        self.start = self.last = time.monotonic()
        self.bar = None
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", file=self.stream, dynamic_ncols=True, smoothing=0.1)

    def update(self, outcome_status: str, faces: int = 0) -> None:
        self.done += 1
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.monotonic()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(f"facesafe: {self.done}/{self.total} files, {rate:.1f}/s, ETA {eta:.0f} s", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def anonymize_dir(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    anonymizer: Anonymizer | None = None,
    method: str | Any = "blur",
    preset: str | Preset = "balanced",
    detector: Any = None,
    format: str | None = None,
    quality: int = 92,
    workers: int | None = None,
    threads: int | None = None,
    manifest: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    rename: str | None = None,
    max_pixels: int | None = None,
    quiet: bool = True,
    command: str | None = None,
    client: Any = None,
    donor_pool: bool = True,
    **options: Any,
) -> Report:
    """Anonymise every image under ``sources`` into ``out_dir``.

    Args:
        sources: files and folders (searched recursively); images are
            recognised by content, other files are recorded as skipped.
        out_dir: output folder; it mirrors each input's path relative to its
            source folder. It may not lie inside a source.
        anonymizer: an :class:`~facesafe.Anonymizer` holding the settings,
            instead of the next seven arguments. Workers use copies of it.
        method, preset, detector, format, quality, max_pixels, options: as for
            :class:`~facesafe.Anonymizer`, ``targets=`` too (regions recorded with their kind).
        workers: worker processes (default: every core); ``0`` works in this process. They do not re-run the calling
            script (no ``__main__`` guard needed) unless it defines a class they must import: then an unguarded call is a
            ``ValueError`` saying so.
        threads: inference threads per worker (default: cores / workers, at least 1; always 1 on a Dask cluster; an
            ``anonymizer``'s own ``threads``, when set, unless this is given).
        manifest: the SQLite manifest (default: ``<out_dir>.facesafe.sqlite``).
        overwrite: replace existing outputs that this manifest did not write.
        rename: ``"hmac"`` names outputs by a keyed hash of their relative
            path (key kept beside the manifest), for names that identify people.
        quiet: no progress output.
        command: the command line, recorded in the manifest.
        client: a ``dask.distributed.Client`` to run on instead of local processes (``workers`` is then ignored). Its
            workers must see the same files; single-threaded ones (``nthreads=1``) give outputs byte-identical to a local
            run. See docs/scale-out.md.
        donor_pool: ``synthetic`` without a donor of its own replaces faces by mixes of a sample of the run's faces, pooled in
            memory by a first pass (docs/synthetic.md); ``False`` keeps the painted donor.

    Re-running the same call resumes: inputs already done with the same settings and unchanged bytes are not redone.
    Returns a :class:`Report`; ``report.ok`` is false when any input failed.
    """
    started = time.monotonic()
    sources, out, manifest_path = _locations(sources, out_dir, manifest)
    workers = _check_options(rename=rename, workers=workers, threads=threads)
    settings = dict(method=method, preset=preset, detector=detector, format=format, quality=quality, max_pixels=max_pixels, **options)
    anonymizer = _run_anonymizer(anonymizer, settings, threads=1 if client is not None else threads, workers=workers, donor_pool=donor_pool)
    pickled = pickle.dumps(anonymizer)
    if client is None and workers > 0:
        refuse_unguarded_script(pickled)  # before anything is written
    fingerprint = _Fingerprint.of(anonymizer, rename=rename)
    _make_output_folder(out)
    with Manifest(manifest_path) as db:
        run_id = db.start_run(version=fingerprint.version, models=fingerprint.models, params=fingerprint.params, command=command)
        recorder = _Recorder(db, run_id, fingerprint, anonymizer.method, anonymizer.preset)
        tasks = _plan(sources, out, recorder, output_format=anonymizer.format, overwrite=overwrite,
                      rename_key=hmac_key(manifest_path) if rename == "hmac" else None)
        pickled, donor = _first_pass(anonymizer, tasks, pickled, workers=workers, client=client)
        recorder.progress = _Progress(len(tasks), quiet=quiet)
        try:
            run_tasks(tasks, functools.partial(process, max_file_bytes=anonymizer.max_pixels * 8 + (64 << 20)),
                      recorder.outcome, setup=functools.partial(load_anonymizer, pickled), failed=_failed,
                      workers=workers, client=client, before=recorder.started)
            _remove_stale_temporaries({Path(t.output).parent for t in tasks if not _fs.is_url(t.output)})
        finally:
            recorder.progress.close()
            db.finish_run(run_id)
    return recorder.tally.report(manifest=manifest_path, seconds=time.monotonic() - started, donor=donor,
                                 method=anonymizer.method, fallback=_fallback_name(anonymizer), targets=anonymizer.targets)


def _locations(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    manifest: str | os.PathLike[str] | None,
) -> tuple[list[str], str, Path]:
    """The sources, the output folder and the manifest path, resolved and checked against each other."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not sources:
        raise ValueError("sources must name at least one file or folder")
    found = [_fs.localise(s) for s in sources]
    found = [s if _fs.is_url(s) else absolute_source(s) for s in found]
    if _fs.is_url(out_dir) or any(_fs.is_url(s) for s in found):
        if manifest is None:
            raise ValueError("manifest: a run with URLs needs an explicit local manifest path")
        out = _fs.localise(out_dir).rstrip("/")
        if not _fs.is_url(out):
            out = str(Path(out).resolve())
        _refuse_url_out_inside(found, out)
    else:
        out = str(Path(_fs.localise(out_dir)).resolve())
        refuse_out_inside(found, out)
    manifest_path = Path(manifest).resolve() if manifest is not None else default_manifest_path(out)
    if not _fs.is_url(out) and (str(manifest_path) == out or Path(out) in manifest_path.parents):
        raise ValueError(f"manifest must not be inside the output folder {out} (it names the source files)")
    if manifest is None and not _fs.is_url(out):
        _warn_if_in_a_release(manifest_path, Path(out))
    return found, out, manifest_path


def _is_output(folder: Path) -> bool:
    """Whether ``folder`` is the output of a facesafe run (its default manifest is beside it)."""
    return bool(folder.name) and folder.with_name(folder.name + ".facesafe.sqlite").is_file()


def _warn_if_in_a_release(manifest_path: Path, out: Path) -> None:
    """Warn when the default manifest lands where it may ship: in a release made of facesafe outputs.

    That is inside another run's output folder, or in a folder that holds only
    facesafe outputs and their manifests (``--out rel/19--Couple`` beside
    ``rel/18--Meeting``). A working folder that also holds anything else (the
    sources, say) is not one, so the usual ``--out r1``, ``--out r2`` side by
    side does not warn.
    """
    folder = manifest_path.parent
    inside = next((a for a in (folder, *folder.parents) if _is_output(a)), None)
    if inside is None:
        if not folder.is_dir():  # a new folder holds nothing yet
            return
        ours = {manifest_path.name, out.name}
        entries = [e for e in folder.iterdir() if e.name not in ours and not e.name.startswith(manifest_path.name)]
        outputs = [e for e in entries if e.is_dir() and _is_output(e)]
        if not outputs or not all(e in outputs or ".facesafe.sqlite" in e.name for e in entries):
            return
        where = f"{folder}, which holds only facesafe outputs ({', '.join(sorted(e.name for e in outputs))})"
    else:
        where = f"{folder}, inside {inside}, the output of another facesafe run"
    warnings.warn(f"{manifest_path}: the manifest names the source files and lands in {where}; "
                  "if that is a release, pass --manifest outside it", UserWarning, stacklevel=3)


def _make_output_folder(out: str) -> None:
    """Create the local output folder; an ``OutputError`` naming it when that cannot be done."""
    if _fs.is_url(out):
        return
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(out, f"cannot create the output folder: {exc.strerror or exc}") from None


def absolute_source(source: str | os.PathLike[str]) -> str:
    """The path of a local source as the manifest keys it: absolute, its folders resolved.

    A folder is resolved whole; a file keeps its own name (a symlinked file is
    still found under the name it was given). The same input spelled another
    way, or named from another working directory, gets the same key.
    """
    path = Path(source)
    if path.is_dir():
        return os.path.realpath(path)
    return os.path.join(os.path.realpath(path.parent), path.name)


def _check_options(*, rename: str | None, workers: int | None, threads: int | None) -> int:
    """Check the plain options; return the number of workers."""
    if rename not in (None, "hmac"):
        raise ValueError(f"rename must be None or 'hmac', got {rename!r}")
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return workers


def _run_anonymizer(given: Anonymizer | None, settings: dict[str, Any], *, threads: int | None, workers: int,
                    donor_pool: bool = False) -> Anonymizer:
    """The anonymizer the workers copy: ``given`` (with their thread count), or one built from ``settings``.

    With ``donor_pool``, a ``synthetic`` one without a donor gets an empty
    :class:`DonorPool` (see :func:`_first_pass`).
    """
    default_threads = max(1, (os.cpu_count() or 1) // max(workers, 1))
    if given is None:
        built = Anonymizer(**settings, threads=default_threads if threads is None else threads)
        pool_to_fill(built, donor_pool=donor_pool)
        return built
    if not isinstance(given, Anonymizer):
        raise TypeError(f"anonymizer must be an Anonymizer, got {type(given).__name__}")
    defaults = {"method": "blur", "preset": "balanced", "detector": None, "format": None, "quality": 92, "max_pixels": None}
    beside = sorted(k for k, v in settings.items() if k not in defaults or v != defaults[k])
    if beside:
        raise ValueError(f"anonymizer: pass {', '.join(beside)} to the Anonymizer, not beside it")
    copy = pickle.loads(pickle.dumps(given))  # settings only: a default detector is not copied
    if threads is not None or copy.threads is None:
        copy.threads = default_threads if threads is None else threads
    pool_to_fill(copy, donor_pool=donor_pool)
    return copy


def _first_pass(anonymizer: Anonymizer, tasks: Sequence[Task], pickled: bytes, *, workers: int, client: Any) -> tuple[bytes, str]:
    """Fill the run's empty :class:`DonorPool` from a sample of ``tasks``: the pickled anonymizer with it, and what the report says.

    The run's settings were taken before, with the pool empty: they name its
    recipe, not its faces. Anything else is returned as it is, with ``""``;
    so is a run with nothing to write (every output an earlier run's, still
    in place: no pool is needed to leave them as they are).
    """
    synth = anonymizer.redaction
    pool = synth.donor if isinstance(synth, Synthesize) else None
    if not isinstance(pool, DonorPool) or len(pool) or all(map(_done, tasks)):
        return pickled, ""
    donor = describe(pool, *fill_pool(pool, tasks, pickled, workers=workers, client=client))
    return pickle.dumps(anonymizer), donor  # now with the pool's faces, in memory only


def _done(task: Task) -> bool:
    """Whether the worker will leave ``task`` unchanged: its output an earlier run's with these settings, from these bytes.

    The worker checks it again, by the same :func:`._worker.left_as_is`; a file that
    cannot be read here is simply not done.
    """
    if task.previous is None:
        return False
    try:
        return left_as_is(task, _fs.sha256(task.source))
    except OSError:  # the worker meets it again and records it; here it only means there is work to do
        return False


@dataclass(frozen=True)
class _Fingerprint:
    """What decides a run's outputs: equal keys give equal outputs, so a row with this key is done."""

    params: dict[str, Any]
    models: dict[str, str]
    version: str
    key: str

    @classmethod
    def of(cls, anonymizer: Anonymizer, *, rename: str | None) -> _Fingerprint:
        params = anonymizer.settings() | {"rename": rename}
        models = _model_versions(anonymizer)
        key = hashlib.sha256(json.dumps([params, models, __version__], sort_keys=True).encode()).hexdigest()[:16]
        return cls(params, models, __version__, key)


@dataclass
class _Recorder:
    """Writes what becomes of each input into the manifest, the tally and the progress display."""

    db: Manifest
    run_id: int
    fingerprint: _Fingerprint
    method: str
    preset: str
    tally: _Tally = field(default_factory=_Tally)
    progress: _Progress | None = None

    def found(self, source: str, rel: str, status: str, reason: str | None) -> None:
        """An input settled before any work: skipped, or failed as found or planned."""
        self.db.record(source=source, rel=rel, status=status, reason=reason, run_id=self.run_id)
        self.tally.add(status, source=source, reason=reason)

    def started(self, task: Task) -> None:
        """The task is handed to a worker: its row is pending, its output claimed."""
        self.db.plan(task.source, task.rel, task.output, self.run_id)

    def outcome(self, task: Task, outcome: Outcome) -> None:
        """A worker's outcome, recorded."""
        status = "written" if outcome.status == "unchanged" else outcome.status
        row: dict[str, Any] = dict(source=outcome.source, rel=outcome.rel, status=status, reason=outcome.reason,
                   input_hash=outcome.input_hash, output=outcome.output if status == "written" else None, run_id=self.run_id)
        if outcome.status != "unchanged":
            fingerprint = self.fingerprint
            row.update(input_format=outcome.input_format, faces=outcome.faces, boxes=[list(map(list, f)) for f in outcome.boxes],
                       fell_back=outcome.fell_back, donors=outcome.donors,
                       region=None if outcome.region is None else list(outcome.region),
                       output_hash=outcome.output_hash, output_format=outcome.output_format, method=self.method,
                       preset=self.preset, params_key=fingerprint.key, facesafe_version=fingerprint.version,
                       models=fingerprint.models, started=outcome.started, finished=outcome.finished)
        self.db.record(**row)
        self.tally.add(outcome.status, faces=outcome.faces, fell_back=outcome.fell_back, plates=outcome.regions("plate"),
                       text=outcome.regions("text"), source=outcome.source, reason=outcome.reason)
        if self.progress is not None:
            self.progress.update(outcome.status, outcome.faces)


def _plan(
    sources: Sequence[str],
    out: str,
    recorder: _Recorder,
    *,
    output_format: str | None,
    rename_key: bytes | None,
    overwrite: bool,
) -> list[Task]:
    """Discover the inputs, record those that are not images, and plan a task for each image."""
    db = recorder.db
    db.absolutise_sources(absolute_source)  # rows of manifests written before sources were kept absolute
    images: list[tuple[str, PurePosixPath, str]] = []
    for location, rel, fmt, status, reason in _discover_any(sources):
        if fmt is None:
            recorder.found(location, str(rel), status, reason)
        else:
            images.append((location, rel, fmt))
    tasks = []
    for source, rel, output in plan_outputs(images, out, output_format=output_format, rename_key=rename_key):
        row = db.get(str(source))
        ours = db.owner_of(str(output)) == str(source)  # written or planned by an earlier run of this manifest
        if not (overwrite or ours) and _fs.exists(output):
            reason = f"output {output} exists and was not written by this manifest (use --overwrite to replace it)"
            recorder.found(str(source), str(rel), "failed", reason)
            continue
        previous = None
        if ours and row is not None and row.status == "written" and row.params_key == recorder.fingerprint.key and row.output_hash and row.input_hash:
            previous = (row.input_hash, row.output_hash)
        # Existing outputs were ruled out above, so a retried task (a worker
        # died after writing) may replace the identical output it wrote.
        tasks.append(Task(str(source), str(rel), str(output), replace=True, previous=previous))
    return tasks


def _failed(task: Task, reason: str) -> Outcome:
    now = time.time()
    return Outcome(task.source, task.rel, "failed", reason=reason, started=now, finished=now)


def _discover_any(sources: Sequence[str]) -> Iterator[tuple[str, PurePosixPath, str | None, str, str | None]]:
    """``(location, rel, format, status, reason)`` for every file under local or URL sources."""
    for urls, group in itertools.groupby(sources, key=_fs.is_url):
        if not urls:  # one discover() call, so that an input named twice is found once
            for item in discover(list(group)):
                yield str(item.path), item.rel, item.format, item.status, item.reason
            continue
        for location, rel in (found for source in group for found in _fs.find(source)):
            try:
                head = _fs.sniff(location)
            except OSError as exc:
                yield location, rel, None, "failed", f"cannot read: {exc}"
                continue
            yield (location, rel, *classify(head, rel))


def _refuse_url_out_inside(sources: Sequence[str], out: str) -> None:
    for source in sources:
        root = source.rstrip("/")
        if out == root or out.startswith(root + "/"):
            raise ValueError(f"out: {out!r} is inside the source {source!r}; choose another location")


def _remove_stale_temporaries(folders: Iterable[Path]) -> None:
    """Remove temporary files left in output folders by a run that was killed."""
    for folder in folders:
        for temp in folder.glob(".*.facesafe-tmp"):
            temp.unlink(missing_ok=True)


def _fallback_name(anonymizer: Anonymizer) -> str | None:
    """The name of the redaction's fallback (``crop`` -> ``blur``, ``synthetic`` -> ``pixelate``), if it has one."""
    redaction = anonymizer.redaction
    fallback = getattr(redaction, "effective_fallback", None) or getattr(redaction, "fallback", None)
    return None if fallback is None else _method_name(fallback)


def _model_versions(anonymizer: Anonymizer) -> dict[str, str]:
    if not anonymizer._own_detector:
        return {"detector": repr(anonymizer._detector)}
    from .._detect import model_versions  # here: a run given its own detector never loads detection

    return dict(model_versions())
