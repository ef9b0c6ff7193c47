"""strip_dir(): the metadata of whole folders removed, pixels kept, on the shared runner.

No manifest and no resume: stripping is cheap and its outputs carry nothing
to audit. Every file found ends as written, skipped (not an image) or failed
with its reason, and nothing is written for a failure.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._discover import claim_outputs, discover, output_rel, refuse_out_inside, unique_rel
from .._errors import FacesafeError, OutputExistsError
from .._io import DEFAULT_MAX_PIXELS, output_format
from .._metadata import strip_metadata
from ._runner import run_tasks

__all__ = ["StripReport", "Stripped", "strip_dir"]


@dataclass(frozen=True)
class Stripped:
    """What became of one file: status ``written``, ``skipped`` or ``failed``.

    Attributes:
        source: the file found.
        status: ``written``, ``skipped`` (not an image) or ``failed``.
        reason: why it was skipped or failed.
        output: where it was written.
        warnings: what the stripper warned about while cleaning it (one message each).
    """

    source: Path
    status: str
    reason: str | None = None
    output: Path | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StripReport:
    """The summary of one :func:`strip_dir` run.

    Attributes:
        written: files cleaned into the output folder.
        skipped: files that are not images (nothing written).
        failed: files that could not be cleaned (nothing written).
        failures: ``(path, reason)`` of each failed file.
    """

    written: int = 0
    skipped: int = 0
    failed: int = 0
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return self.failed == 0


def strip_dir(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    max_pixels: int | None = None,
    workers: int = 0,
    on_file: Callable[[Stripped], None] | None = None,
) -> StripReport:
    """Remove all metadata from every image under ``sources`` into ``out_dir``.

    Each image goes through :func:`~facesafe.strip_metadata` (JPEG stays
    lossless); outputs mirror each input's path relative to its source folder.

    Args:
        sources: files and folders (searched recursively; images are
            recognised by content).
        out_dir: the output folder; it may not be, or lie inside, a source.
        overwrite: replace existing outputs.
        max_pixels: refuse images declaring more pixels than this.
        workers: processes to clean in; 0 (the default) cleans in this process.
        on_file: called with each file's :class:`Stripped` as it is settled
            (in discovery order when ``workers`` is 0).

    Raises ``ValueError`` when ``out_dir`` is, or is inside, a source.

    >>> report = strip_dir("photos/", "clean/")  # doctest: +SKIP
    >>> report.ok, report.written                # doctest: +SKIP
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    refuse_out_inside(sources, out_dir)
    tally: dict[str, int] = {"written": 0, "skipped": 0, "failed": 0}
    failures: list[tuple[str, str]] = []

    def settle(stripped: Stripped) -> None:
        tally[stripped.status] += 1
        if stripped.status == "failed":
            failures.append((str(stripped.source), stripped.reason or "unknown"))
        if on_file is not None:
            on_file(stripped)

    tasks = _tasks(sources, Path(out_dir), settle, overwrite=overwrite, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    run_tasks(tasks, _strip_one, lambda task, stripped: settle(stripped), setup=_no_state, failed=_died, workers=workers)
    return StripReport(**tally, failures=tuple(failures))


_Task = tuple[Path, Path, bool, int]  # source, output, overwrite, max_pixels


def _tasks(sources: Sequence[Any], out: Path, settle: Callable[[Stripped], None], *, overwrite: bool, max_pixels: int) -> Iterator[_Task]:
    """A task per image found, in discovery order; other files are settled on the way."""
    claim = claim_outputs()
    for item in discover(sources):
        if item.format is None:  # not an image (skipped), or an image that cannot be read (failed)
            settle(Stripped(item.path, item.status, item.reason))
            continue
        # Two inputs mapping to one name (a.png and a.bmp; A.jpg and a.jpg) get a.png and a~2.png.
        rel = unique_rel(claim, output_rel(item.rel, output_format(item.format)), item.path)
        yield item.path, out.joinpath(*rel.parts), overwrite, max_pixels


def _strip_one(task: _Task, state: Callable[[], None]) -> Stripped:
    """Runner work: clean one file; its failure is a result, with the reason."""
    source, output, overwrite, max_pixels = task
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            strip_metadata(source, output, overwrite=overwrite, max_pixels=max_pixels)
    except OutputExistsError:
        return Stripped(source, "failed", f"output {output} already exists (use --overwrite to replace it)")
    except (FacesafeError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, FacesafeError) and hasattr(exc, "reason") else str(exc)
        return Stripped(source, "failed", reason)
    return Stripped(source, "written", output=output, warnings=tuple(str(w.message) for w in caught))


def _no_state() -> None:
    return None


def _died(task: _Task, reason: str) -> Stripped:
    return Stripped(task[0], "failed", reason)
