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
* ``path`` of the struct becomes null: it named the source file;
* the table's key-value metadata only under the keys in ``KEPT_METADATA``
  (the Hugging Face features and the pandas schema); the codec of the input's
  first column.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._core import Runner, Session, Task, atomic_output, failed

__all__ = ["KEPT_METADATA", "find_tables", "image_column", "anonymize_table"]

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


def _rows(table: Any, name: str) -> Iterator[tuple[int, Any]]:
    yield from enumerate(table.column(name).to_pylist())


def anonymize_table(source: Path, rel: str, output: Path, session: Session, runner: Runner, *, column: str | None) -> None:
    """Write the anonymised copy of one Parquet table to ``output`` (atomically), recording every row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table_file = pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as exc:
        session.fail_unit(source, rel=rel, reason=f"not a readable Parquet file: {exc}")
        return
    name, kind = image_column(table_file.schema_arrow, column, table=rel)
    schema = _clean_schema(table_file.schema_arrow)
    index = schema.get_field_index(name)
    metadata = table_file.metadata
    codec = _CODECS.get(metadata.row_group(0).column(0).compression, "snappy") if metadata.num_row_groups else "snappy"
    session.plan_unit(source, rel, output)
    written = 0
    with atomic_output(output) as temp:
        with pq.ParquetWriter(temp, schema, compression=codec) as writer:
            for group in range(metadata.num_row_groups):
                table = table_file.read_row_group(group)
                start = written
                keep, images = [], []

                def tasks_of(row: tuple[int, Any], group: int = group) -> list[Task]:
                    data = row[1]["bytes"] if kind == "struct" and row[1] is not None else row[1]
                    return [] if data is None else [Task(f"{source}#group={group}&row={row[0]}", data)]

                for (row, cell), outcomes in runner.map(_rows(table, name), tasks_of):
                    location = f"{rel}#group={group}&row={row}"
                    if not outcomes:
                        if kind == "struct" and cell is not None and cell.get("path") is not None:
                            outcome = failed(f"{source}#group={group}&row={row}",
                                             "the image is a path, not embedded bytes: only embedded images are read")
                            session.record(outcome, rel=location, output=None)
                            keep.append(False)
                            continue
                        keep.append(True)  # a null image: nothing to anonymise
                        images.append(None)
                        written += 1
                        continue
                    outcome = outcomes[0]
                    session.record(outcome, rel=location, output=f"{output}#row={written}")
                    keep.append(outcome.status == "written")
                    if outcome.status == "written":
                        images.append(outcome.data)
                        written += 1
                if written == start:
                    continue
                column_type = schema.field(index).type
                values = images if kind == "binary" else [None if b is None else {"bytes": b, "path": None} for b in images]
                kept = table.filter(pa.array(keep, pa.bool_())) if not all(keep) else table
                kept = kept.set_column(index, schema.field(index), pa.array(values, type=column_type))
                writer.write_table(kept.replace_schema_metadata(schema.metadata), row_group_size=kept.num_rows)
    session.done_unit(source, rel, output)

