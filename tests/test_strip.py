"""strip_dir: the library behind `facesafe strip`, on the shared runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facesafe
from facesafe import strip_dir


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    exif = Image.Exif()
    exif[0x013B] = "Somebody"  # Artist
    for i in range(3):
        image = Image.fromarray(np.random.default_rng(i).integers(0, 255, (40, 50, 3), dtype=np.uint8))
        image.save(src / ("deep" if i else ".") / f"p{i}.jpg", exif=exif)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src / "twin.bmp")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src / "twin.png")
    (src / "notes.txt").write_text("not an image")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return src


def test_every_file_is_settled_once_in_discovery_order(folder: Path, tmp_path: Path):
    seen: list[facesafe._batch._strip.Stripped] = []
    report = strip_dir(folder, tmp_path / "out", on_file=seen.append)
    assert (report.written, report.skipped, report.failed, report.ok) == (5, 1, 1, False)
    assert [(s.source.name, s.status, s.output and s.output.name) for s in seen] == [
        ("broken.jpg", "failed", None), ("notes.txt", "skipped", None), ("p0.jpg", "written", "p0.jpg"),
        ("twin.bmp", "written", "twin.png"), ("twin.png", "written", "twin~2.png"), ("p1.jpg", "written", "p1.jpg"),
        ("p2.jpg", "written", "p2.jpg")]
    assert report.failures == ((str(folder / "broken.jpg"), report.failures[0][1]),)
    assert b"Somebody" not in (tmp_path / "out" / "deep" / "p1.jpg").read_bytes()
    assert b"Somebody" in (folder / "deep" / "p1.jpg").read_bytes()


def test_workers_write_the_same_files(folder: Path, tmp_path: Path):
    alone = strip_dir(folder, tmp_path / "alone")
    pooled = strip_dir(folder, tmp_path / "pooled", workers=2)
    assert (pooled.written, pooled.skipped, pooled.failed) == (alone.written, alone.skipped, alone.failed)

    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(tmp_path / "pooled") == files(tmp_path / "alone") and len(files(tmp_path / "alone")) == 5


def test_an_output_inside_a_source_is_refused(folder: Path):
    with pytest.raises(ValueError):
        strip_dir(folder, folder / "out")
    assert not (folder / "out").exists()
