"""Parquet tables (every Hugging Face image dataset is one): one image column anonymised, the rest untouched.

The image column holds either encoded bytes (``binary`` / ``large_binary``)
or the Hugging Face ``Image`` struct ``{bytes, path}``. Each table is read one
row group at a time and written as one row group of the same rows, so memory
holds one row group (and the images in flight), however large the table.

What the output keeps and changes:

* every other column, and the order of the rows, unchanged; a row whose image
  fails is dropped (and recorded); a null image stays null;
* each image in its own format (JPEG stays JPEG, at the run's quality, 92 by
  default), rebuilt from pixels without metadata;
* ``path`` of the struct becomes null: it named the source file (with
  ``--rename hmac``, the keyed hash of it, as folder runs name outputs);
* the table's key-value metadata only under the keys in ``KEPT_METADATA``
  (the Hugging Face features and the pandas schema); the codec of the input's
  first column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._batch._run import hmac_name
from ._core import Broken, Closed, FileForFile, Opened, Outcome, Session, Task, failed

__all__ = ["KEPT_METADATA", "Tables", "find_tables", "image_column"]

# Table metadata that describes the columns, not their content: kept. Any other key goes.
KEPT_METADATA = (b"huggingface", b"pandas")
_CODECS = {"SNAPPY": "snappy", "GZIP": "gzip", "BROTLI": "brotli", "ZSTD": "zstd", "LZ4": "lz4", "LZ4_RAW": "lz4",
           "UNCOMPRESSED": "none"}


def find_tables(source: Path) -> list[tuple[Path, str]]:
    """``(table, rel)`` for a ``.parquet`` file, or every one under a folder (sorted)."""
    if source.is_file():
        return [(source, source.name)]
    return [(path, path.relative_to(source).as_posix()) for path in sorted(source.rglob("*.parquet")) if path.is_file()]


def _cell_kind(type_: Any) -> str | None:
    import pyarrow as pa

    if pa.types.is_binary(type_) or pa.types.is_large_binary(type_):
        return "binary"
    if pa.types.is_struct(type_):
        names = {type_.field(i).name for i in range(type_.num_fields)}
        if "bytes" in names and names <= {"bytes", "path"} and _cell_kind(type_.field("bytes").type) == "binary":
            return "struct"
    return None


def image_column(schema: Any, column: str | None, *, table: str) -> tuple[str, str]:
    """``(name, kind)`` of the image column: ``column`` if given, else the only binary or ``{bytes, path}`` column."""
    if column is not None:
        if column not in schema.names:
            raise ValueError(f"column: {table} has no column {column!r} (columns: {', '.join(schema.names)})")
        kind = _cell_kind(schema.field(column).type)
        if kind is None:
            raise ValueError(f"column: {column!r} of {table} is {schema.field(column).type}, not binary or a {{bytes, path}} struct")
        return column, kind
    found = [(f.name, kind) for f in schema if (kind := _cell_kind(f.type)) is not None]
    if len(found) != 1:
        names = ", ".join(name for name, _ in found) or "none"
        raise ValueError(f"column: {table} has {len(found)} image-like columns ({names}); name one with --column")
    return found[0]


def _clean_schema(schema: Any) -> Any:
    metadata = {k: v for k, v in (schema.metadata or {}).items() if k in KEPT_METADATA}
    return schema.with_metadata(metadata) if metadata else schema.remove_metadata()


@dataclass(frozen=True)
class _Open(Opened):
    """A table begins: its output is opened with the cleaned schema and the input's codec."""

    schema: Any = field(repr=False)
    codec: str
    index: int
    kind: str


@dataclass(frozen=True)
class _Row:
    """One row's image cell (``data``: its bytes, ``None`` when the cell has none); ``key``: ``table#group=G&row=R``."""

    key: str
    group: int
    row: int
    cell: Any = field(repr=False)
    data: bytes | None = field(repr=False)


@dataclass(frozen=True)
class _GroupEnd:
    """A row group read: the rows kept are written as one row group."""

    table: Any = field(repr=False)


Item = _Open | _Row | _GroupEnd | Closed | Broken


class Tables(FileForFile):
    """The Parquet adapter: reads every table under ``src`` row group by row group, writes their copies in order.

    With ``rename_key``, the ``path`` of a ``{bytes, path}`` cell becomes the
    keyed hash of the source ``path`` (with the output format's suffix)
    instead of null, as ``--rename hmac`` names a folder run's outputs.
    """

    def __init__(self, src: Path, out: Path, session: Session, *, column: str | None, rename_key: bytes | None = None) -> None:
        super().__init__(src, out, session)
        self.column, self.rename_key = column, rename_key
        self._keep: list[bool] = []
        self._images: list[Any] = []
        self._written = self._group_start = 0

    def find(self, src: Path) -> list[tuple[Path, str]]:
        """The tables under ``src``."""
        return find_tables(src)

    def read(self, source: Path, rel: str, output: Path) -> Iterator[Item]:
        """A table's rows, row group by row group, each group followed by its :class:`_GroupEnd`."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table_file = pq.ParquetFile(source)
        except (pa.ArrowException, OSError) as exc:
            yield Broken(source, rel, f"not a readable Parquet file: {exc}")
            return
        name, kind = image_column(table_file.schema_arrow, self.column, table=rel)
        schema = _clean_schema(table_file.schema_arrow)
        metadata = table_file.metadata
        codec = _CODECS.get(metadata.row_group(0).column(0).compression, "snappy") if metadata.num_row_groups else "snappy"
        yield _Open(source, rel, output, schema, codec, schema.get_field_index(name), kind)
        try:
            for group in range(metadata.num_row_groups):
                # On this thread: pyarrow's allocator (mimalloc) keeps a heap per thread, and
                # release_unused() below empties only the calling thread's. Decoded on the
                # reader's thread pool, each group's pages stayed in those threads' heaps
                # (measured: the command's peak +16 to 19 MB from 480 to 4,800 rows; read here, flat).
                table = table_file.read_row_group(group, use_threads=False)
                for row, cell in enumerate(table.column(name).to_pylist()):
                    yield _Row(f"{source}#group={group}&row={row}", group, row, cell,
                               cell["bytes"] if kind == "struct" and cell is not None else cell)
                yield _GroupEnd(table)
        except (pa.ArrowException, OSError) as exc:
            yield Broken(source, rel, f"not a readable Parquet file: {exc}")
            return
        yield Closed()

    def tasks_of(self, item: Item) -> list[Task]:
        """A row's image as a task; nothing for the other items."""
        if not isinstance(item, _Row) or item.data is None:
            return []
        return [Task(item.key, item.data)]

    def open_writer(self, opened: _Open, temp: Path) -> Any:
        """A Parquet writer of the cleaned schema, with the input's codec."""
        import pyarrow.parquet as pq

        self._written = self._group_start = 0
        self._keep, self._images = [], []
        return pq.ParquetWriter(temp, opened.schema, compression=opened.codec)

    def write(self, item: Item, outcomes: tuple[Outcome, ...]) -> None:
        """A row recorded and kept (or dropped); at a group's end, the kept rows written as one row group."""
        if isinstance(item, _Row):
            self._row(item, outcomes)
        elif isinstance(item, _GroupEnd):
            self._group(item.table)

    def _row(self, item: _Row, outcomes: tuple[Outcome, ...]) -> None:
        table = self.opened
        assert isinstance(table, _Open)
        location = f"{table.rel}#group={item.group}&row={item.row}"
        if not outcomes:
            if table.kind == "struct" and item.cell is not None and item.cell.get("path") is not None:
                outcome = failed(item.key, "the image is a path, not embedded bytes: only embedded images are read")
                self._keep.append(False)
                self.session.record(outcome, rel=location, output=None)
                return
            self._keep.append(True)  # a null image: nothing to anonymise
            self._images.append(None)
            self._written += 1
            return
        outcome = outcomes[0]
        written = outcome.status == "written"
        self._keep.append(written)
        if written:
            path = item.cell.get("path") if table.kind == "struct" else None
            renamed = None if self.rename_key is None or path is None else hmac_name(self.rename_key, path, outcome.output_format or "")
            self._images.append((outcome.data, renamed))
            self._written += 1
        self.session.record(outcome, rel=location, output=f"{table.output}#row={self._written - 1}" if written else None)

    def _group(self, source: Any) -> None:
        import pyarrow as pa

        table = self.opened
        assert isinstance(table, _Open)
        keep, images = self._keep, self._images
        self._keep, self._images = [], []
        if self._written == self._group_start:
            return
        self._group_start = self._written
        field_ = table.schema.field(table.index)
        if table.kind == "binary":
            values = [None if image is None else image[0] for image in images]
        else:
            values = [None if image is None else {"bytes": image[0], "path": image[1]} for image in images]
        kept = source.filter(pa.array(keep, pa.bool_())) if not all(keep) else source
        kept = kept.set_column(table.index, field_, pa.array(values, type=field_.type))
        self.writer.write_table(kept.replace_schema_metadata(table.schema.metadata), row_group_size=kept.num_rows)
        # pyarrow's allocator (mimalloc) keeps the pages of every row group read and
        # written for reuse, and their number grew with the table (measured: +30 MB
        # of the command's RSS over 1,440 rows, all returned by this call); handed
        # back after each group, the command's memory holds one row group.
        pa.default_memory_pool().release_unused()
