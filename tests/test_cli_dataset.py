"""`facesafe dataset`: exit codes, messages and the kinds it recognises."""

import io
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from _records import dirty, photo

from facesafe.cli import main


def test_parquet_with_a_broken_row_exits_1_and_names_it(tmp_path: Path, capsys):
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"image": [dirty(photo(1)), b"\xff\xd8\xff broken"], "n": [1, 2]}), src)
    code = main(["dataset", str(src), "--out", str(tmp_path / "out"), "--preset", "fast", "--workers", "0", "--method", "pixelate"])
    captured = capsys.readouterr()
    assert code == 1
    assert "t.parquet#group=0&row=1: " in captured.err
    assert "parquet: 1 records written" in captured.out and "1 failed" in captured.out
    assert "facesafe: t.parquet written (2 records" in captured.err, "a progress line per file written"
    assert pq.read_table(tmp_path / "out" / "t.parquet").column("n").to_pylist() == [1]


def test_shard_without_images_exits_0_and_is_copied(tmp_path: Path, capsys):
    with tarfile.open(tmp_path / "s.tar", "w") as tar:
        info = tarfile.TarInfo("k.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    assert main(["dataset", str(tmp_path / "s.tar"), "--out", str(tmp_path / "out"), "--workers", "0", "-q"]) == 0
    captured = capsys.readouterr()
    assert "webdataset: 0 records written" in captured.out and captured.err == ""
    with tarfile.open(tmp_path / "out" / "s.tar") as tar:
        assert tar.extractfile("k.txt").read() == b"hello"


def test_usage_errors_exit_2(tmp_path: Path, capsys):
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.jpg").write_bytes(dirty(photo(1)))
    assert main(["dataset", str(tmp_path / "a.json"), "--out", str(tmp_path / "o")]) == 2
    assert "needs --images" in capsys.readouterr().err
    assert main(["dataset", str(tmp_path / "plain"), "--out", str(tmp_path / "o")]) == 2
    assert "facesafe anonymize" in capsys.readouterr().err
    assert main(["dataset", str(tmp_path / "plain"), "--out", str(tmp_path / "plain" / "o"), "--images", str(tmp_path)]) == 2
