"""Parquet tables: the image column anonymised, every other column and the row order kept, failures dropped and recorded."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _fakes import CrashingDetector, RedDetector, SlowRedDetector, reddish
from _records import assert_clean, dirty, photo, pixels

from facesafe._batch._manifest import Manifest
from facesafe._datasets import anonymize_dataset

FILL = dict(method="fill", shape="box", detector=RedDetector())


def _table(exiftool: str | None, n: int = 7) -> tuple[pa.Table, list[bytes]]:
    images = [dirty(photo(i), "JPEG" if i % 2 else "PNG", exiftool=exiftool) for i in range(n)]
    images[3] = images[3][: len(images[3]) // 2]  # truncated: must fail and be dropped
    images[5] = None  # no image: stays null
    table = pa.table({"id": list(range(n)), "caption": [f"caption {i}" for i in range(n)], "image": pa.array(images, pa.binary())})
    return table, images


def test_binary_column_rows_and_columns_kept_images_clean(tmp_path: Path, exiftool: str):
    table, _ = _table(exiftool)
    src = tmp_path / "src" / "train.parquet"
    src.parent.mkdir()
    pq.write_table(table, src, row_group_size=3)  # three row groups: 3 + 3 + 1 rows
    report = anonymize_dataset(src, tmp_path / "out", workers=0, **FILL)
    assert (report.written, report.failed, report.units) == (5, 1, 1), report  # the null image is kept, not counted

    out = pq.ParquetFile(tmp_path / "out" / "train.parquet")
    assert [out.metadata.row_group(i).num_rows for i in range(out.metadata.num_row_groups)] == [3, 2, 1]  # row 3 (group 1) dropped
    result = out.read()
    assert result.schema == table.schema
    assert result.column("id").to_pylist() == [0, 1, 2, 4, 5, 6]
    assert result.column("caption").to_pylist() == [f"caption {i}" for i in (0, 1, 2, 4, 5, 6)]
    cells = result.column("image").to_pylist()
    assert cells[4] is None
    written = {str(i): data for i, data in zip((0, 1, 2, 4, 6), cells[:4] + cells[5:], strict=True)}
    for index, data in written.items():
        assert data[:3] == (b"\xff\xd8\xff" if int(index) % 2 else b"\x89PN"), "each image keeps its format"
        assert not reddish(pixels(data)).any()
    assert_clean(written, exiftool)

    with Manifest(report.manifest) as db:
        rows = {row.rel: row for row in db.rows()}
    assert rows["train.parquet#group=1&row=0"].status == "failed"
    assert "CorruptImageError" in rows["train.parquet#group=1&row=0"].reason
    assert rows["train.parquet#group=2&row=0"].output.endswith("train.parquet#row=5")
    assert rows["train.parquet"].status == "written"


def test_pyarrow_memory_is_handed_back_after_each_row_group_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The bound on the command's memory (docs/datasets.md, benchmarks/datasets.py): the pages pyarrow's
    # allocator keeps after a row group is read and written go back to the system before the next one.
    # release_unused() empties the heap of the thread that calls it (mimalloc keeps one per thread), so
    # each group is also read on that thread: decoded on pyarrow's thread pool, the groups' pages stayed
    # in the pool threads' heaps and the command's peak grew with the table.
    released, threaded = [], []

    class Pool:
        def release_unused(self) -> None:
            released.append(len(written))

    src = tmp_path / "train.parquet"
    pq.write_table(pa.table({"image": [dirty(photo(i)) for i in range(7)]}), src, row_group_size=3)
    written: list[int] = []
    original, read = pq.ParquetWriter.write_table, pq.ParquetFile.read_row_group
    monkeypatch.setattr(pa, "default_memory_pool", Pool)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", lambda self, table, **kw: (written.append(table.num_rows), original(self, table, **kw))[1])
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda self, i, **kw: (threaded.append(kw.get("use_threads", True)), read(self, i, **kw))[1])
    report = anonymize_dataset(src, tmp_path / "out", workers=0, **FILL)
    assert report.written == 7
    assert written == [3, 3, 1] and released == [1, 2, 3]  # once per group, right after it is written
    assert threaded == [False, False, False]  # every group read on this thread, none on pyarrow's pool


def test_hugging_face_struct_path_dropped_metadata_allowlisted(tmp_path: Path):
    images = [dirty(photo(i)) for i in range(3)]
    column = pa.array([{"bytes": images[0], "path": "/home/alice_smith/IMG_0001.jpg"},
                       {"bytes": images[1], "path": "bob_jones.jpg"},
                       {"bytes": None, "path": "/data/carol_white.jpg"}],
                      pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    table = pa.table({"image": column, "label": [1, 2, 3]})
    hf = b'{"info": {"features": {"image": {"_type": "Image"}, "label": {"dtype": "int64", "_type": "Value"}}}}'
    table = table.replace_schema_metadata({b"huggingface": hf, b"uploader": b"alice_smith@example.org"})
    src = tmp_path / "data" / "train-00000-of-00001.parquet"
    src.parent.mkdir()
    pq.write_table(table, src)
    report = anonymize_dataset(src.parent, tmp_path / "out", workers=0, **FILL)
    assert (report.written, report.failed) == (2, 1)
    assert "path, not embedded" in report.failures[0][1]

    output = tmp_path / "out" / "train-00000-of-00001.parquet"
    result = pq.read_table(output)
    assert result.column("label").to_pylist() == [1, 2]
    assert [cell["path"] for cell in result.column("image").to_pylist()] == [None, None]
    assert result.schema.metadata == {b"huggingface": hf}
    raw = output.read_bytes()
    for name in (b"alice_smith", b"bob_jones", b"carol_white", b"IMG_0001"):
        assert name not in raw


def test_folder_mirrored_on_a_pool_and_a_rerun_resumes(tmp_path: Path):
    src = tmp_path / "src"
    for rel in ("a.parquet", "nested/b.parquet"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"img": [dirty(photo(len(rel) + i)) for i in range(3)]}), src / rel)
    first = anonymize_dataset(src, tmp_path / "out", workers=2, **FILL)
    assert (first.written, first.units, first.failed) == (6, 2, 0)
    before = {rel: (tmp_path / "out" / rel).read_bytes() for rel in ("a.parquet", "nested/b.parquet")}

    second = anonymize_dataset(src, tmp_path / "out", workers=0, **FILL)
    assert (second.written, second.units, second.unchanged) == (0, 0, 2)
    pq.write_table(pa.table({"img": [dirty(photo(99))]}), src / "a.parquet")  # changed input: redone
    third = anonymize_dataset(src, tmp_path / "out", workers=0, **FILL)
    assert (third.written, third.units, third.unchanged) == (1, 1, 1)
    assert (tmp_path / "out" / "nested/b.parquet").read_bytes() == before["nested/b.parquet"]


def test_stop_on_error_writes_nothing_for_the_table(tmp_path: Path):
    table, _ = _table(None)
    src = tmp_path / "t.parquet"
    pq.write_table(table, src)
    report = anonymize_dataset(src, tmp_path / "out", workers=0, on_error="stop", **FILL)
    assert report.stopped and not report.ok and report.failed == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_existing_output_not_overwritten(tmp_path: Path):
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"img": [dirty(photo(1))]}), src)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "t.parquet").write_bytes(b"someone else's")
    report = anonymize_dataset(src, tmp_path / "out", workers=0, **FILL)
    assert report.failed == 1 and "exists" in report.failures[0][1]
    assert (tmp_path / "out" / "t.parquet").read_bytes() == b"someone else's"


def test_image_column_must_be_named_when_ambiguous(tmp_path: Path):
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [b"x"], "b": [b"y"], "n": [1]}), src)
    with pytest.raises(ValueError, match="--column"):
        anonymize_dataset(src, tmp_path / "out", workers=0, **FILL)
    with pytest.raises(ValueError, match="'n'"):
        anonymize_dataset(src, tmp_path / "out", workers=0, column="n", **FILL)


def test_a_row_that_kills_its_worker_fails_alone_and_the_order_holds(tmp_path: Path):
    images = [photo(i) for i in range(8)]
    images[2][0, 0] = (0, 0, 255)  # CrashingDetector kills the worker that gets this one
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"n": list(range(8)), "img": [dirty(image, "PNG") for image in images]}), src, row_group_size=3)
    report = anonymize_dataset(src, tmp_path / "out", workers=2, method="fill", shape="box", detector=CrashingDetector())
    assert (report.written, report.failed) == (7, 1)
    assert report.failures[0][0].endswith("t.parquet#group=0&row=2") and "died" in report.failures[0][1]
    result = pq.read_table(tmp_path / "out" / "t.parquet")
    assert result.column("n").to_pylist() == [0, 1, 3, 4, 5, 6, 7], "rows keep their order, the killer is dropped"
    for n, data in zip(result.column("n").to_pylist(), result.column("img").to_pylist(), strict=True):
        assert not reddish(pixels(data)).any() and (pixels(data)[90:, 100:] == images[n][90:, 100:]).all(), n


def test_rename_hmac_puts_a_keyed_hash_in_path(tmp_path: Path):
    cells = [{"bytes": dirty(photo(i), "PNG" if i else "JPEG"), "path": f"/home/alice_smith/IMG_{i}.jpg"} for i in range(2)]
    cells.append({"bytes": dirty(photo(2)), "path": None})
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"image": pa.array(cells, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))}), src)
    report = anonymize_dataset(src, tmp_path / "out", workers=0, rename="hmac", **FILL)
    assert report.written == 3
    paths = [cell["path"] for cell in pq.read_table(tmp_path / "out" / "t.parquet").column("image").to_pylist()]
    assert paths[2] is None, "no path: none made up"
    assert paths[0].endswith(".jpg") and paths[1].endswith(".png") and len({p[:32] for p in paths[:2]}) == 2
    assert all(len(p.split(".")[0]) == 32 and "alice" not in p for p in paths[:2])
    key = Path(f"{report.manifest}.key")
    assert key.is_file(), "the key is kept beside the manifest, as for folder runs"
    again = anonymize_dataset(src, tmp_path / "again", workers=0, rename="hmac", manifest=report.manifest, overwrite=True, **FILL)
    assert again.written == 3
    assert [c["path"] for c in pq.read_table(tmp_path / "again" / "t.parquet").column("image").to_pylist()] == paths


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from _fakes import SlowRedDetector
from facesafe._datasets import anonymize_dataset

if __name__ == "__main__":
    anonymize_dataset({src!r}, {out!r}, workers=2, method="pixelate", detector=SlowRedDetector(0.15))
"""


def test_sigkill_of_the_coordinator_leaves_no_partial_table_and_a_rerun_matches(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    for t in range(3):
        pq.write_table(pa.table({"img": [dirty(photo(10 * t + i)) for i in range(4)], "t": [t] * 4}), src / f"{t}.parquet",
                       row_group_size=2)
    reference = anonymize_dataset(src, tmp_path / "reference", workers=0, method="pixelate", detector=SlowRedDetector(0.15))
    assert reference.units == 3
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), src=str(src), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "0.parquet").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)  # the coordinator alone: its workers must die with it
    proc.wait(30)
    finished = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert "0.parquet" in finished and len(finished) < 3
    for name in finished:  # no partial output: what is there is whole
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes()
    again = anonymize_dataset(src, out, workers=0, method="pixelate", detector=SlowRedDetector(0.15))
    # A table is renamed into place before the manifest records it, so the kill may land between the two
    # for the last table finished: the rerun then does that one again (same bytes), and no other.
    assert len(finished) - 1 <= again.unchanged <= len(finished) and again.units == 3 - again.unchanged

    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(out) == files(tmp_path / "reference"), "outputs differ after the kill and the rerun (or temporaries remain)"


def test_a_table_whose_row_group_cannot_be_read_fails_whole_and_writes_nothing(tmp_path: Path):
    # The footer reads, but the second row group's pages are garbage (a disk error, a bad copy): the rows
    # of the first group are already anonymised when the read fails. The table must end as one recorded
    # failure naming it, with no output table (no half table, no temporary file) and nothing else lost.
    table = pa.table({"id": list(range(6)), "image": pa.array([dirty(photo(i), "PNG") for i in range(6)], pa.binary())})
    src = tmp_path / "src"
    src.mkdir()
    pq.write_table(table, src / "bad.parquet", row_group_size=3, compression="none")
    data = bytearray((src / "bad.parquet").read_bytes())
    column = pq.ParquetFile(src / "bad.parquet").metadata.row_group(1).column(1)
    start = column.data_page_offset
    data[start : start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    (src / "bad.parquet").write_bytes(bytes(data))
    (src / "garbage.parquet").write_bytes(b"PAR1 not a table at all")
    pq.write_table(table, src / "good.parquet", row_group_size=3)

    report = anonymize_dataset(src, tmp_path / "out", workers=0, **FILL)

    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.parquet"], "no trace of the broken tables"
    assert pq.read_table(tmp_path / "out" / "good.parquet").column("id").to_pylist() == list(range(6))
    reasons = dict(report.failures)
    assert any(k.endswith("bad.parquet") and "not a readable Parquet file" in v for k, v in reasons.items()), reasons
    assert any(k.endswith("garbage.parquet") and "not a readable Parquet file" in v for k, v in reasons.items()), reasons
    with Manifest(report.manifest) as db:
        rows = {row.rel: row for row in db.rows()}
    assert rows["bad.parquet"].status == rows["garbage.parquet"].status == "failed"
    assert rows["bad.parquet"].output is None and rows["good.parquet"].status == "written"
