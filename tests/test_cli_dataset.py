"""`facesafe dataset`: exit codes, messages and the kinds it recognises."""

import io
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _records import dirty, photo
from conftest import needs_facemesh

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


def test_color_grow_seed_and_rename_reach_the_run(tmp_path: Path, capsys):
    from facesafe._batch._manifest import Manifest

    src = tmp_path / "t.parquet"
    cells = [{"bytes": dirty(photo(1)), "path": "/home/alice/IMG_1.jpg"}]
    pq.write_table(pa.table({"image": pa.array(cells, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))}), src)
    out = tmp_path / "out"
    argv = ["dataset", str(src), "--out", str(out), "--preset", "fast", "--workers", "0", "-q"]
    assert main([*argv, "--method", "fill", "--color", "00ff00", "--grow", "1.6", "--rename", "hmac"]) == 0
    with Manifest(Path(f"{out}.facesafe.sqlite")) as db:
        (run,) = db.runs()
    assert "grow=1.6" in run["params"]["redaction"] and "(0, 255, 0)" in run["params"]["redaction"], run["params"]
    assert run["params"]["rename"] == "hmac"
    (cell,) = pq.read_table(out / "t.parquet").column("image").to_pylist()
    assert len(cell["path"]) == len("0" * 32 + ".jpg") and "alice" not in cell["path"]
    assert main([*argv[:3], str(tmp_path / "o2"), *argv[4:], "--method", "pixelate", "--seed", "3"]) == 0
    assert main([*argv, "--method", "fill", "--seed", "3"]) == 2
    assert main([*argv, "--method", "blur", "--color", "ffffff"]) == 2
    with tarfile.open(tmp_path / "x.tar", "w") as tar:
        tar.addfile(tarfile.TarInfo("k.txt"), io.BytesIO(b""))
    assert main(["dataset", str(tmp_path / "x.tar"), "--out", str(tmp_path / "o3"), "--rename", "hmac"]) == 2
    assert "WebDataset keys" in capsys.readouterr().err


def test_targets_and_missing_extras_are_usage_errors_with_nothing_written(tmp_path: Path, monkeypatch, without_text_extra, capsys):
    import facesafe._datasets
    from facesafe import MissingExtraError

    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"image": [dirty(photo(1))]}), src)
    out = tmp_path / "out"
    assert main(["dataset", str(src), "--out", str(out), "--targets", "faces,cars"]) == 2
    assert "'cars'" in capsys.readouterr().err

    def missing_extra(*args, **kwargs):
        raise MissingExtraError("synthetic", "--method synthetic needs MediaPipe FaceMesh")

    monkeypatch.setattr(facesafe._datasets, "anonymize_dataset", missing_extra)
    assert main(["dataset", str(src), "--out", str(out), "--workers", "0"]) == 2
    assert "pip install 'facesafe[synthetic]'" in capsys.readouterr().err

    assert main(["dataset", str(src), "--out", str(out), "--targets", "plates"]) == 2
    assert "pip install 'facesafe[text]'" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.facesafe.sqlite").exists()


def test_summary_counts_plates_text_and_fallbacks():
    from facesafe._datasets._core import DatasetReport

    line = DatasetReport(kind="parquet", written=3, faces=5, plates=2, fell_back=4, method="synthetic", fallback="pixelate").summary()
    assert "5 faces, 2 plates found" in line and "synthetic: 4 of 5 faces got the pixelate fallback" in line
    assert "fallback" not in DatasetReport(kind="parquet", written=3, faces=5).summary()



@needs_facemesh
@pytest.mark.parametrize("command", ["anonymize", "dataset"])
def test_no_donor_pool_keeps_the_painted_donor_and_makes_no_first_pass(command: str, tmp_path: Path, capsys):
    if command == "dataset":
        src = tmp_path / "t.parquet"
        pq.write_table(pa.table({"image": [dirty(photo(1))]}), src)
    else:
        src = tmp_path / "photos"
        src.mkdir()
        (src / "a.jpg").write_bytes(dirty(photo(1)))
    argv = [command, str(src), "--preset", "fast", "--workers", "1", "-q", "--method", "synthetic"]
    assert main([*argv, "--out", str(tmp_path / "pooled")]) == 0
    assert "; donor: built-in donor: 0 of the faces in 1 sampled images" in capsys.readouterr().out  # a first pass ran
    assert main([*argv, "--out", str(tmp_path / "painted"), "--no-donor-pool"]) == 0
    assert "; donor:" not in capsys.readouterr().out
    assert main([command, str(src), "--out", str(tmp_path / "o"), "--method", "blur", "--no-donor-pool"]) == 2
    assert "--no-donor-pool applies to --method synthetic only" in capsys.readouterr().err
