"""What a worker process does with one input: paths in, an Outcome out.

Tasks carry paths, never pixels. A worker builds its :class:`Anonymizer` (and
so its detector) once per process and reuses it for every task (the runner,
``_runner``, keeps it). Whatever goes
wrong with one file becomes a ``failed`` outcome with its reason, and nothing
is written for it: outputs are written to a hidden temporary file in the output
folder and renamed into place only when complete (object stores write whole
objects); see ``_fs``.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._anonymize import Anonymizer
from .._errors import FacesafeError
from .._geometry import Face
from .._io import load_image
from . import _fs
from ._manifest import box_kind

__all__ = ["Outcome", "Task", "failure_reason", "left_as_is", "load_anonymizer", "process"]

@dataclass(frozen=True)
class Task:
    """One input to anonymise.

    Attributes:
        source: the input file.
        rel: its path relative to the source folder it was found in.
        output: where its output goes.
        replace: the output may be replaced (``--overwrite``, or it is this
            source's own output from an earlier run of the manifest).
        previous: ``(input_hash, output_hash)`` recorded by an earlier run with
            the same parameters; the file is not redone when both still match.
    """

    source: str
    rel: str
    output: str
    replace: bool = False
    previous: tuple[str, str] | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one task (status ``written``, ``unchanged`` or ``failed``)."""

    source: str
    rel: str
    status: str
    reason: str | None = None
    input_hash: str | None = None
    input_format: str | None = None
    boxes: tuple[tuple[tuple[float | str, ...], ...], ...] = ()
    output: str | None = None
    output_hash: str | None = None
    output_format: str | None = None
    started: float = 0.0
    finished: float = 0.0
    fell_back: int = 0
    region: tuple[float, float, float, float] | None = None
    donors: tuple[tuple[str, ...], ...] | None = None

    @property
    def faces(self) -> int:
        """Faces found over all frames (plates and text not counted)."""
        return self.regions("face")

    def regions(self, kind: str) -> int:
        """Regions of ``kind`` (``"face"``, ``"plate"``, ``"text"``) found over all frames."""
        return sum(box_kind(box) == kind for frame in self.boxes for box in frame)


def load_anonymizer(settings: bytes) -> Anonymizer:
    """A worker's anonymizer, rebuilt from the run's pickled one, its models loaded."""
    anonymizer: Anonymizer = pickle.loads(settings)
    anonymizer.load()  # the models now, not in the middle of a task
    return anonymizer


def left_as_is(task: Task, input_hash: str | None) -> bool:
    """Whether ``task``'s output is an earlier run's with these settings, from input bytes hashing to ``input_hash``, still in place."""
    return task.previous is not None and task.previous[0] == input_hash and _fs.sha256(task.output) == task.previous[1]


def process(task: Task, anonymizer: Callable[[], Anonymizer], *, max_file_bytes: int) -> Outcome:
    """Anonymise ``task.source`` into ``task.output``; never raises for a bad file.

    ``anonymizer()`` gives the worker's anonymizer (see :func:`load_anonymizer`);
    an input unchanged since the previous run does not need it.
    """
    started = time.time()
    base: dict[str, Any] = {"source": task.source, "rel": task.rel, "started": started}
    try:
        size = _fs.size(task.source)
        if size > max_file_bytes:
            return Outcome(**base, status="failed", reason=f"file is {size:,} bytes, over the {max_file_bytes:,}-byte limit", finished=time.time())
        data = _fs.read_bytes(task.source)
        input_hash = hashlib.sha256(data).hexdigest()
        base["input_hash"] = input_hash
        if task.previous is not None and left_as_is(task, input_hash):  # (narrowed for output_hash below)
            return Outcome(**base, status="unchanged", output=task.output, output_hash=task.previous[1], finished=time.time())
        worker = anonymizer()
        picture = load_image(data, max_pixels=worker.max_pixels, name=task.source)
        base["input_format"] = picture.format
        result = worker.anonymize_picture(picture)
        encoded, fmt = worker.encode(result, input_format=picture.format)
        _fs.write_bytes(task.output, encoded, replace=task.replace)
        region = None
        if result.region is not None:
            x0, y0, x1, y1 = result.region.as_xyxy()
            region = (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1))
        boxes = tuple(tuple(recorded_region(f) for f in frame) for frame in result.faces)
        return Outcome(
            **base,
            status="written",
            boxes=boxes,
            output=task.output,
            output_hash=hashlib.sha256(encoded).hexdigest(),
            output_format=fmt,
            fell_back=result.fell_back_count,
            donors=recorded_donors(result.donors),
            region=region,
            finished=time.time(),
        )
    except Exception as exc:  # fail closed: any error is this file's failure, with its cause
        return Outcome(**base, status="failed", reason=failure_reason(exc), finished=time.time())


def failure_reason(exc: Exception) -> str:
    """What the manifest records for an input that raised ``exc``: the error's
    class and reason (a facesafe error's ``reason``, without the path), or
    ``out of memory``."""
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, FacesafeError) and hasattr(exc, "reason"):
        return f"{type(exc).__name__}: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def recorded_donors(donors: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...] | None:
    """Each frame's faces' donors as the manifest records them; ``None`` when the method says none."""
    return donors if any(donors) else None


def recorded_region(face: Face) -> tuple[float | str, ...]:
    """A region as the manifest records it: ``(x0, y0, x1, y1, score)``, and its kind unless a face."""
    box = (round(face.box.x0, 1), round(face.box.y0, 1), round(face.box.x1, 1), round(face.box.y1, 1), round(face.score, 4))
    return box if face.kind == "face" else (*box, face.kind)
