"""Finding the inputs of a batch command and where their outputs go.

Used by every command that takes ``SRC... --out DIR`` (``strip``, ``anonymize``)::

    refuse_out_inside(sources, out)            # ValueError (naming out) when out is (inside) a source
    for item in discover(sources, out):        # one Found per file under the sources, sorted
        if item.format is None:                # item.status "skipped" (not an image) or "failed"
            report(item.path, item.reason)
        else:
            dst = out / item.rel               # the output mirrors the input's relative path

discover(sources, out_dir=None) -> Iterator[Found]
Found(path: Path, rel: PurePosixPath, format: str | None, status: str, reason: str | None)
    also unpacks as ``src, rel = item``.

* ``sources``: files and folders. A folder is walked recursively (its files
  by name, then its sub-folders by name; symlinked folders not followed); ``rel`` is the file's path relative to that
  folder. A file given directly has ``rel`` = its name.
* A file named twice (``coll coll/a.png``; the same file by two spellings)
  is found once, where it is first met: its ``rel`` is the first spelling's.
* Inputs are classified by :func:`facesafe._formats.classify` (the one rule
  every command uses) from their content: ``status`` is ``"image"`` with the
  format to decode; ``"failed"`` (``format=None``) for an image facesafe
  recognises but cannot decode (``unsupported image format: XCF (GIMP)``) or
  a file named like an image whose content is not one (an empty ``.jpg``), as
  for an unreadable file or a missing source; ``"skipped"`` for a file that
  is not an image at all.
* ``out_dir``, when given, is checked first with :func:`refuse_out_inside`.
* Output names: :func:`output_rel` changes ``rel``'s suffix to the output
  format's, and :func:`claim_outputs` finds two inputs that would write the
  same output (compared case-insensitively, so that it holds on every file
  system); :func:`unique_rel` then names the later one ``name~2.ext``
  (``~3``...), deterministically in input order.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ._formats import HEAD_BYTES, classify, format_for_suffix
from ._io import suffix_for

__all__ = ["Found", "discover", "refuse_out_inside", "classify_file", "output_rel", "claim_outputs", "unique_rel"]


@dataclass(frozen=True)
class Found:
    """One file met under the sources: an image to process, or a file skipped or failed."""

    path: pathlib.Path
    rel: pathlib.PurePosixPath
    format: str | None
    status: str  # "image", "skipped" or "failed"
    reason: str | None = None

    def __iter__(self) -> Iterator[Any]:
        """Unpack as ``(path, rel)``."""
        return iter((self.path, self.rel))


def refuse_out_inside(sources: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str]) -> None:
    """Raise ``ValueError`` (naming ``out``) when ``out`` is a source folder, inside one, or holds a source file's output.

    Outputs inside a source would be read back as inputs on the next run, and
    an output folder equal to a file source's folder would replace the input.
    """
    out_real = pathlib.Path(os.path.realpath(out))
    for source in sources:
        src_real = pathlib.Path(os.path.realpath(source))
        if os.path.isdir(src_real):
            if out_real == src_real or src_real in out_real.parents:
                raise ValueError(f"out: {os.fspath(out)!r} is inside the source folder {os.fspath(source)!r}; choose another folder")
        elif out_real == src_real.parent:
            raise ValueError(f"out: {os.fspath(out)!r} is the folder of the source {os.fspath(source)!r}; outputs would replace inputs")
        elif out_real == src_real:
            raise ValueError(f"out: {os.fspath(out)!r} is a source file")


def classify_file(path: str | os.PathLike[str]) -> tuple[str | None, str, str | None]:
    """``(format, status, reason)`` of a local file (see :func:`facesafe._formats.classify`). Raises OSError."""
    with open(path, "rb") as fp:
        return classify(fp.read(HEAD_BYTES), path)


def _walk(root: pathlib.Path, failures: list[Found]) -> Iterator[pathlib.Path]:
    def onerror(exc: OSError) -> None:
        path = pathlib.Path(exc.filename or root)
        rel = pathlib.PurePosixPath(path.relative_to(root).as_posix()) if path != root else pathlib.PurePosixPath(root.name)
        failures.append(Found(path, rel, None, "failed", f"cannot list folder: {exc.strerror or exc}"))

    for folder, dirs, files in os.walk(root, onerror=onerror):
        dirs.sort()
        for name in sorted(files):
            yield pathlib.Path(folder, name)


def discover(
    sources: Iterable[str | os.PathLike[str]], out_dir: str | os.PathLike[str] | None = None
) -> Iterator[Found]:
    """Yield a :class:`Found` for every file under ``sources`` (see the module docstring)."""
    paths = [pathlib.Path(s) for s in sources]
    if out_dir is not None:
        refuse_out_inside(paths, out_dir)
    seen: set[str] = set()  # an input named twice (a folder and a file in it) is one input
    for source in paths:
        failures: list[Found] = []
        if source.is_dir():
            candidates: Iterable[pathlib.Path] = _walk(source, failures)
            root = source
        elif source.exists():
            candidates, root = [source], source.parent
        else:
            yield Found(source, pathlib.PurePosixPath(source.name), None, "failed", "no such file or folder")
            continue
        for path in candidates:
            yield from failures
            failures.clear()
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            rel = pathlib.PurePosixPath(path.relative_to(root).as_posix())
            try:
                fmt, status, reason = classify_file(path)
            except OSError as exc:
                yield Found(path, rel, None, "failed", f"cannot read: {exc.strerror or exc}")
                continue
            yield Found(path, rel, fmt, status, reason)
        yield from failures


def output_rel(rel: pathlib.PurePosixPath, fmt: str) -> pathlib.PurePosixPath:
    """``rel`` with the suffix of output format ``fmt``, unless its suffix already names ``fmt``.

    ``a/scan.bmp`` -> ``a/scan.png`` for PNG; ``IMG.JPEG`` stays; a name whose
    suffix names no image format keeps it (``photo.v2`` -> ``photo.v2.jpg``).
    """
    if format_for_suffix(rel) == fmt:
        return rel
    wanted = suffix_for(fmt)
    return rel.with_suffix(wanted) if format_for_suffix(rel) else rel.with_name(rel.name + wanted)


def claim_outputs() -> Callable[[pathlib.PurePosixPath, pathlib.Path], pathlib.Path | None]:
    """A claim function: ``claim(rel, source)`` returns the earlier source that took ``rel``, or None.

    Names are compared case-insensitively (``A.jpg`` and ``a.jpg`` collide on
    macOS and Windows).
    """
    taken: dict[str, pathlib.Path] = {}

    def claim(rel: pathlib.PurePosixPath, source: pathlib.Path) -> pathlib.Path | None:
        key = rel.as_posix().casefold()
        if key in taken:
            return taken[key]
        taken[key] = source
        return None

    return claim


def unique_rel(claim: Callable[..., Any], rel: pathlib.PurePosixPath, source: Any) -> pathlib.PurePosixPath:
    """``rel``, or ``name~2.ext`` (``~3``, ...) when an earlier source claimed it: the first name ``claim`` grants."""
    candidate, n = rel, 1
    while claim(candidate, source) is not None:
        n += 1
        candidate = rel.with_name(f"{rel.stem}~{n}{rel.suffix}")
    return candidate
