"""The run manifest: one SQLite row per input, the record a privacy officer audits.

It names the source files, so by default it lives *beside* the output folder
(``<out>.facesafe.sqlite``), never inside it: it must not ship with a release.

Rows are written by one process only (the coordinator); workers return
outcomes. A row is first written as ``pending`` with its planned output path
before any worker touches the file, and completed when the outcome arrives, so
that a run killed at any moment can tell its own half-done outputs from files
it must not overwrite.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import OutputError

__all__ = ["Manifest", "Row", "box_kind", "default_manifest_path", "read_manifest"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    finished REAL,
    facesafe_version TEXT NOT NULL,
    models TEXT NOT NULL,        -- JSON: model file -> version/hash
    params TEXT NOT NULL,        -- JSON: every setting that decides the output
    command TEXT                 -- the command line, when run from the CLI
);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,     -- absolute path of the input
    rel TEXT NOT NULL,           -- path relative to its source folder
    status TEXT NOT NULL,        -- pending | written | failed | skipped
    reason TEXT,                 -- why it failed or was skipped
    input_hash TEXT,             -- sha256 of the input bytes
    input_format TEXT,
    faces INTEGER,               -- faces found over all frames (not plates or text)
    boxes TEXT,                  -- JSON: per frame, [[x0, y0, x1, y1, score], ...]; a plate or text
                                 -- region has its kind last: [x0, y0, x1, y1, score, "plate"]
    fell_back INTEGER,           -- faces that got the method's fallback redaction
    donors TEXT,                 -- JSON: per frame, each face's donor (synthetic: "pool", "synthetic" for the
                                 -- built-in one, "fallback", ...), in the order of its face boxes; else null
    region TEXT,                 -- JSON [x0, y0, x1, y1]: the part kept by crop
    output TEXT,                 -- output path (planned while pending)
    output_hash TEXT,            -- sha256 of the output bytes
    output_format TEXT,
    method TEXT,
    preset TEXT,
    params_key TEXT,             -- hash of params: equal keys give equal outputs
    facesafe_version TEXT,
    models TEXT,
    started REAL,
    finished REAL,
    run_id INTEGER REFERENCES runs(id)
);
CREATE INDEX IF NOT EXISTS files_status ON files(status);
CREATE INDEX IF NOT EXISTS files_output ON files(output);
"""


def default_manifest_path(out_dir: str | os.PathLike[str]) -> Path:
    """``<out>.facesafe.sqlite`` beside the output folder ``out``."""
    out = Path(out_dir).resolve()
    return out.with_name(out.name + ".facesafe.sqlite")


def read_manifest(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[Row]]:
    """The runs and rows of the run manifest at ``path``, opened read-only (nothing is written to it).

    Returns ``(runs, rows)``: ``runs`` are dicts, one per run (``id``,
    ``started``, ``finished``, ``facesafe_version``, ``models``, ``params``:
    every setting that decides the output, ``command``); ``rows`` are frozen
    records, one per input, whose fields are the manifest's columns:
    ``source``, ``rel``, ``status`` (``written``, ``failed``, ``skipped`` or
    ``pending``), ``reason``, ``input_hash``, ``input_format``, ``faces``,
    ``boxes`` (per frame, ``[x0, y0, x1, y1, score]`` for a face,
    ``[x0, y0, x1, y1, score, kind]`` for a ``"plate"`` or ``"text"``
    region: see :func:`box_kind`), ``fell_back`` (how
    many faces got the method's fallback redaction), ``region`` (the part
    kept by ``crop``), ``output``, ``output_hash``, ``output_format``,
    ``method``, ``preset``, ``params_key``, ``facesafe_version``, ``models``,
    ``started``, ``finished``, ``run_id``, ``donors`` (per frame, each face's
    donor, in the order of its face boxes: ``"pool"``, ``"synthetic"`` for
    the built-in donor, ``"fallback"``...; ``None`` for a method that has no
    donor, and in manifests older than the column).

    >>> runs, rows = read_manifest("out.facesafe.sqlite")            # doctest: +SKIP
    >>> [row.rel for row in rows if row.status == "failed"]          # doctest: +SKIP

    Raises ``ValueError`` naming the file when it is missing or is not a
    facesafe run manifest.
    """
    source = Path(path)
    if not source.is_file():
        raise ValueError(f"manifest: {os.fspath(path)!r} is not a file")
    try:
        with Manifest(source, read_only=True) as db:
            return db.runs(), list(db.rows())
    except (sqlite3.Error, ValueError, TypeError) as exc:
        raise ValueError(f"manifest: {os.fspath(path)!r} is not a facesafe run manifest ({exc})") from exc


def box_kind(box: Any) -> str:
    """The kind of one recorded box: ``"face"`` (five values), else its sixth, ``"plate"`` or ``"text"``.

    >>> box_kind([1, 2, 3, 4, 0.9]), box_kind([1, 2, 3, 4, 0.9, "plate"])
    ('face', 'plate')
    """
    return str(box[5]) if len(box) > 5 else "face"


@dataclass(frozen=True)
class Row:
    """One input's record (see the ``files`` table for the fields)."""

    source: str
    rel: str
    status: str
    reason: str | None
    input_hash: str | None
    input_format: str | None
    faces: int | None
    boxes: Any
    fell_back: int | None
    region: Any
    output: str | None
    output_hash: str | None
    output_format: str | None
    method: str | None
    preset: str | None
    params_key: str | None
    facesafe_version: str | None
    models: Any
    started: float | None
    finished: float | None
    run_id: int | None
    donors: Any = None


_COLUMNS = tuple(Row.__dataclass_fields__)
_JSON = ("boxes", "region", "models", "donors")
_ADDED = {"donors": "TEXT"}  # columns newer than some manifests: added to them when opened for writing


class Manifest:
    """A manifest database; open with ``Manifest(path)`` and use as a context manager.

    ``read_only=True`` opens an existing file for reading only: no schema is
    created and nothing is written to it (see :func:`read_manifest`).
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = Path(path)
        self._read_only = read_only
        if read_only:
            self._db = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(files)")}
            for name, kind in _ADDED.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE files ADD COLUMN {name} {kind}")
        except (OSError, sqlite3.Error) as exc:
            if hasattr(self, "_db"):
                self._db.close()  # opened, but not a manifest we can write: not left for the garbage collector
            raise _unwritable(self.path, "cannot open the manifest", exc) from None

    def _write(self, sql: str, args: Any = ()) -> sqlite3.Cursor:
        """Execute a statement that writes; an unwritable file or a full disk is an ``OutputError`` naming the manifest."""
        try:
            return self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise _unwritable(self.path, "cannot write the manifest", exc) from None

    def close(self) -> None:
        """Close the database.

        A manifest written to is left in rollback-journal mode, one file: a
        reader (verify, report) of a file in WAL mode would create ``-wal``
        and ``-shm`` files beside it and leave them there.
        """
        if not self._read_only:
            try:
                self._db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise _unwritable(self.path, "cannot write the manifest", exc) from None
                # Another run has it open: it stays in WAL mode, and that run's close switches it.
        self._db.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            self.close()
        except (OutputError, sqlite3.Error):
            if exc_type is None:  # never hide the error that is already on its way out
                raise

    # -- runs ---------------------------------------------------------------
    def start_run(self, *, version: str, models: Mapping[str, str], params: Mapping[str, Any], command: str | None) -> int:
        """Record the start of a run; returns its id."""
        cur = self._write(
            "INSERT INTO runs (started, facesafe_version, models, params, command) VALUES (?, ?, ?, ?, ?)",
            (time.time(), version, json.dumps(dict(models), sort_keys=True), json.dumps(dict(params), sort_keys=True), command),
        )
        assert cur.lastrowid is not None  # an INSERT sets it
        return int(cur.lastrowid)

    def finish_run(self, run_id: int) -> None:
        """Record the end of a run."""
        self._write("UPDATE runs SET finished = ? WHERE id = ?", (time.time(), run_id))

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first."""
        cur = self._db.execute("SELECT id, started, finished, facesafe_version, models, params, command FROM runs ORDER BY id")
        keys = [d[0] for d in cur.description]
        out = []
        for values in cur:
            run = dict(zip(keys, values, strict=True))
            run["models"], run["params"] = json.loads(run["models"]), json.loads(run["params"])
            out.append(run)
        return out

    # -- files --------------------------------------------------------------
    def get(self, source: str) -> Row | None:
        """The row of ``source``, or ``None``."""
        cur = self._db.execute(f"SELECT {self._select()} FROM files WHERE source = ?", (source,))
        values = cur.fetchone()
        return None if values is None else self._row(values)

    def owner_of(self, output: str) -> str | None:
        """The source whose (planned or written) output is ``output``, if any."""
        cur = self._db.execute("SELECT source FROM files WHERE output = ?", (output,))
        found = cur.fetchone()
        return None if found is None else found[0]

    def absolutise_sources(self, absolute: Callable[[str], str]) -> int:
        """Key rows recorded with a relative source (facesafe before 0.x) by ``absolute(source)``; return how many.

        Only rows whose file exists from the current working directory are
        rewritten, so an old manifest resumes when run from the folder it was
        run from. When the absolute key is already there, the written one of
        the two rows is kept (the other is the same input recorded twice).
        """
        moved = 0
        relative = [r[0] for r in self._db.execute("SELECT source FROM files") if not os.path.isabs(r[0]) and "://" not in r[0]]
        for source in relative:
            if not os.path.lexists(source):
                continue
            key = absolute(source)
            current = self._db.execute("SELECT status FROM files WHERE source = ?", (key,)).fetchone()
            if current is not None and current[0] == "written":
                self._write("DELETE FROM files WHERE source = ?", (source,))
            else:
                self._write("DELETE FROM files WHERE source = ?", (key,))
                self._write("UPDATE files SET source = ? WHERE source = ?", (key, source))
            moved += 1
        return moved

    def plan(self, source: str, rel: str, output: str | None, run_id: int) -> None:
        """Mark ``source`` as taken by this run before any output is written.

        A row that is already complete keeps its record (needed to resume);
        only a new source gets a ``pending`` row with its planned output.
        """
        self._write(
            "INSERT INTO files (source, rel, status, output, started, run_id) VALUES (?, ?, 'pending', ?, ?, ?) "
            "ON CONFLICT(source) DO UPDATE SET run_id = excluded.run_id, "
            "output = CASE WHEN files.status = 'written' THEN files.output ELSE excluded.output END",
            (source, rel, output, time.time(), run_id),
        )

    def record(self, **fields: Any) -> None:
        """Insert or replace a complete row (``source`` required)."""
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown manifest fields: {sorted(unknown)}")
        for key in _JSON:
            if key in fields and not isinstance(fields[key], (str, type(None))):
                fields[key] = json.dumps(fields[key])
        fields.setdefault("finished", time.time())
        names = list(fields)
        self._write(
            f"INSERT INTO files ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)}) "
            f"ON CONFLICT(source) DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in names if n != 'source')}",
            [fields[n] for n in names],
        )

    def rows(self, status: str | None = None) -> Iterator[Row]:
        """Every row (optionally only those with ``status``), in source order."""
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        for values in self._db.execute(f"SELECT {self._select()} FROM files {where} ORDER BY source", args):
            yield self._row(values)

    def _select(self) -> str:
        """The columns to select: every one, as null where an older manifest (read-only) lacks it."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(files)")}
        return ", ".join(name if name in present else f"NULL AS {name}" for name in _COLUMNS)

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        return dict(self._db.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall())

    @staticmethod
    def _row(values: tuple[Any, ...]) -> Row:
        data = dict(zip(_COLUMNS, values, strict=True))
        for key in _JSON:
            if data[key] is not None:
                data[key] = json.loads(data[key])
        return Row(**data)


def _unwritable(path: Path, what: str, exc: BaseException) -> OutputError:
    """``PATH: cannot write the manifest: database or disk is full`` (the OS's or SQLite's own words)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return OutputError(path, f"{what}: {reason}")
