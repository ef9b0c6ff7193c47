"""Locations that are local paths or fsspec URLs (``s3://``, ``gs://``, ``memory://``, ``file://``).

Local paths (and ``file://`` URLs) go through the local file system with
atomic writes; any other URL goes through fsspec, whose object stores write a
whole object or nothing. fsspec is imported only when a URL is used.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from .._errors import OutputExistsError
from .._formats import HEAD_BYTES
from .._io import atomic_write_bytes

__all__ = ["is_url", "localise", "read_bytes", "write_bytes", "exists", "sha256", "find", "join", "sniff"]

_CHUNK = 1 << 20


def is_url(location: str | os.PathLike[str]) -> bool:
    """True for an fsspec URL other than ``file://`` (those are local paths)."""
    text = os.fspath(location)
    return "://" in text and not text.startswith("file://")


def localise(location: str | os.PathLike[str]) -> str:
    """A ``file://`` URL as a plain path; anything else unchanged."""
    text = os.fspath(location)
    return text[len("file://") :] if text.startswith("file://") else text


def _fs(location: str) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs
    except ImportError:  # pragma: no cover - fsspec comes with the dask extra
        raise ValueError(f"{location}: URLs need fsspec: pip install 'facesafe[dask]'") from None
    return url_to_fs(location)


def read_bytes(location: str) -> bytes:
    """The whole content of ``location``."""
    if not is_url(location):
        with open(location, "rb") as fh:
            return fh.read()
    fs, path = _fs(location)
    return fs.cat_file(path)


def size(location: str) -> int:
    """Size in bytes."""
    if not is_url(location):
        return os.path.getsize(location)
    fs, path = _fs(location)
    return int(fs.size(path))


def sniff(location: str) -> bytes:
    """The first bytes of ``location`` that recognise its format (:data:`facesafe._formats.HEAD_BYTES`)."""
    if not is_url(location):
        with open(location, "rb") as fh:
            return fh.read(HEAD_BYTES)
    fs, path = _fs(location)
    return fs.cat_file(path, start=0, end=HEAD_BYTES)


def exists(location: str) -> bool:
    """Whether something is at ``location``."""
    if not is_url(location):
        return os.path.lexists(location)
    fs, path = _fs(location)
    return bool(fs.exists(path))


def sha256(location: str) -> str | None:
    """SHA-256 of the content at ``location``, or None when there is nothing."""
    digest = hashlib.sha256()
    try:
        if not is_url(location):
            with open(location, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        else:
            fs, path = _fs(location)
            digest.update(fs.cat_file(path))
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def write_bytes(location: str, data: bytes, *, replace: bool) -> None:
    """Write ``data`` whole or not at all (local: temporary file then rename)."""
    if not is_url(location):
        atomic_write_bytes(location, data, overwrite=replace)
        return
    fs, path = _fs(location)
    if not replace and fs.exists(path):
        raise OutputExistsError(location, "already exists (pass overwrite to replace it)")
    parent = path.rsplit("/", 1)[0]
    if parent:
        fs.makedirs(parent, exist_ok=True)
    fs.pipe_file(path, data)


def find(root: str) -> Iterator[tuple[str, PurePosixPath]]:
    """Every file under the URL ``root`` (or ``root`` itself), sorted, as ``(url, rel)``."""
    fs, path = _fs(root)
    if fs.isfile(path):
        yield root, PurePosixPath(path.rsplit("/", 1)[-1])
        return
    base = path.rstrip("/")
    for found in sorted(fs.find(path)):
        rel = found[len(base) :].lstrip("/")
        yield fs.unstrip_protocol(found), PurePosixPath(rel)


def join(root: str, rel: PurePosixPath) -> str:
    """``root`` and a relative path, for URLs and local paths alike."""
    if is_url(root):
        return root.rstrip("/") + "/" + rel.as_posix()
    return os.path.join(root, *rel.parts)
