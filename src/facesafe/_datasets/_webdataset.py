"""WebDataset shards: ``.tar`` files of samples, written shard for shard.

A sample is the run of consecutive members that share a key (the member name
up to the first dot of its base name: ``a/b/0001.jpg`` and ``a/b/0001.cls``
are sample ``a/b/0001``, WebDataset's ``__key__``). The output shard has the
same members in the same order, with:

* every image member anonymised, in its own format (its suffix changes only
  when the format does: ``.bmp`` becomes ``.png``). What is an image is
  decided as for folders (``facesafe._formats.classify``): its content, or a
  name that claims an image format; such a member that facesafe cannot read
  fails, it is never passed through;
* every other member (``.json``, ``.cls``, ``.txt``, ``.npy``, ...) copied
  byte for byte: their content is the user's responsibility;
* every member's owner and group names and ids set to empty and 0, its time
  to 0 (1970), its mode to 0644 (0755 for folders), and no pax headers
  (which may carry extended attributes or other times).

A sample with an image that fails is dropped whole (every member of it) and
recorded with the shard and key. Links and device members are refused (their
sample fails). Shards are read and written as streams: memory holds the
samples in flight, never a whole shard.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ._core import Broken, Closed, FileForFile, Opened, Outcome, Task, failed

__all__ = ["Shards", "find_shards", "sample_key"]


def find_shards(source: Path) -> list[tuple[Path, str]]:
    """``(shard, rel)`` for a ``.tar`` file, or every one under a folder (sorted)."""
    if source.is_file():
        return [(source, source.name)]
    return [(path, path.relative_to(source).as_posix()) for path in sorted(source.rglob("*.tar")) if path.is_file()]


def sample_key(name: str) -> tuple[str, str]:
    """``(key, suffix)`` of a member name as WebDataset splits it: ``"a/0001.seg.png"`` -> ``("a/0001", "seg.png")``."""
    folder, _, base = name.rpartition("/")
    stem, dot, suffix = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), suffix if dot else ""


@dataclass
class _Sample:
    """The members of one sample, read; ``source``: its shard."""

    source: Path
    key: str
    members: list[tuple[tarfile.TarInfo, bytes | None, bool]] = field(default_factory=list)  # (header, data, is an image)
    problem: str | None = None  # why the sample fails before any image is read


def _samples(shard: tarfile.TarFile, source: Path) -> Iterator[_Sample]:
    from .._formats import HEAD_BYTES, classify

    sample: _Sample | None = None
    for info in shard:
        key, _ = sample_key(info.name)
        if sample is not None and key != sample.key:
            yield sample
            sample = None
        if sample is None:
            sample = _Sample(source, key)
        if info.isfile():
            reader = shard.extractfile(info)
            data = reader.read() if reader is not None else b""
            # One rule for what is an image (content, or a name that claims one): facesafe._formats.classify.
            _, status, reason = classify(data[:HEAD_BYTES], PurePosixPath(info.name).name)
            if status == "failed" and sample.problem is None:
                sample.problem = f"member {info.name!r}: {reason}"
            sample.members.append((info, data, status == "image"))
        elif info.isdir():
            sample.members.append((info, None, False))
        elif sample.problem is None:
            sample.problem = f"member {info.name!r} is a link or a device, not a file"
    if sample is not None:
        yield sample


def _clean_info(info: tarfile.TarInfo, name: str, size: int) -> tarfile.TarInfo:
    clean = tarfile.TarInfo(name)
    clean.type = info.type
    clean.size = size
    clean.mode = 0o755 if info.isdir() else 0o644
    clean.mtime = 0
    clean.uid = clean.gid = 0
    clean.uname = clean.gname = ""
    return clean


def _output_name(name: str, fmt: str) -> str:
    """The member's name for an output in ``fmt``: its suffix changes only when it names another image format."""
    from .._discover import output_rel
    from .._io import format_for_suffix

    return name if format_for_suffix(name) in (None, fmt) else str(output_rel(PurePosixPath(name), fmt))


Item = Opened | _Sample | Closed | Broken


class Shards(FileForFile):
    """The WebDataset adapter: reads every shard under ``src`` sample by sample, writes their copies in order."""

    def find(self, src: Path) -> list[tuple[Path, str]]:
        """The shards under ``src``."""
        return find_shards(src)

    def read(self, source: Path, rel: str, output: Path) -> Iterator[Item]:
        """A shard's samples, read as a stream."""
        try:
            shard = tarfile.open(source, "r|")  # noqa: SIM115 - a stream read across yields; closed below
        except (tarfile.TarError, OSError) as exc:
            yield Broken(source, rel, f"not a readable tar file: {exc}")
            return
        yield Opened(source, rel, output)
        with shard:
            try:
                yield from _samples(shard, source)
            except (tarfile.TarError, OSError) as exc:
                yield Broken(source, rel, f"not a readable tar file: {exc}")
                return
        yield Closed()

    def open_writer(self, opened: Opened, temp: Path) -> tarfile.TarFile:
        """A tar writer (pax headers are never given to members: ``_clean_info``)."""
        return tarfile.open(temp, "w", format=tarfile.PAX_FORMAT)

    @staticmethod
    def tasks_of(item: Item) -> list[Task]:
        """A sample's images as tasks; nothing for a sample that already failed, or another item."""
        if not isinstance(item, _Sample) or item.problem is not None:
            return []
        return [Task(f"{item.source}#{info.name}", data) for info, data, image in item.members if image and data is not None]

    def write(self, item: _Sample, outcomes: tuple[Outcome, ...]) -> None:
        """A sample recorded, and written whole unless one of its images failed."""
        self._sample(item, outcomes)

    def _sample(self, sample: _Sample, outcomes: tuple[Outcome, ...]) -> None:
        shard, out = self.opened, self.writer
        assert shard is not None and out is not None
        location = f"{shard.rel}#{sample.key}"
        if sample.problem is not None:
            self.session.record(failed(f"{shard.source}#{sample.key}", sample.problem), rel=location, output=None)
            return
        bad = [o for o in outcomes if o.status != "written"]
        for outcome in outcomes:
            member = outcome.key.rpartition("#")[2]
            # A sample with one failed image is dropped whole: its other images are not written either.
            if bad and outcome.status == "written":
                outcome = failed(outcome.key, f"dropped with its sample: {bad[0].key.rpartition('#')[2]} failed")
            name = member if outcome.output_format is None else _output_name(member, outcome.output_format)
            self.session.record(outcome, rel=f"{shard.rel}#{member}", output=f"{shard.output}#{name}")
        if bad:
            return
        done = iter(outcomes)
        for info, data, image in sample.members:
            name = info.name
            if image:
                outcome = next(done)
                data, name = outcome.data, _output_name(info.name, outcome.output_format or "")
            out.addfile(_clean_info(info, name, len(data or b"")), None if data is None else io.BytesIO(data))
