"""WebDataset shards: member order and keys kept, images anonymised, other members copied, headers scrubbed."""

import io
import tarfile
from pathlib import Path

import numpy as np
from _fakes import RedDetector, reddish
from _records import assert_clean, dirty, photo, pixels
from PIL import Image

from facesafe._batch._manifest import Manifest
from facesafe._datasets import anonymize_dataset

FILL = dict(method="fill", shape="box", detector=RedDetector())


def _add(tar: tarfile.TarFile, name: str, data: bytes, **header) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.uid, info.gid, info.uname, info.gname = len(data), 1_700_000_000, 1000, 1000, "alice", "alice_smith"
    info.pax_headers = {"comment": "FSLEAK-pax"}
    for key, value in header.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data))


def _bmp(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "BMP")
    return buffer.getvalue()


def _shard(path: Path, exiftool: str | None) -> dict[str, bytes]:
    members = {
        "s/0001.jpg": dirty(photo(1), exiftool=exiftool),
        "s/0001.json": b'{"caption": "a person"}',
        "s/0001.cls": b"3",
        "s/0002.png": dirty(photo(2), "PNG", exiftool=exiftool),
        "s/0002.txt": b"text",
        "s/0003.jpg": dirty(photo(3))[:300],  # truncated: the sample goes
        "s/0003.cls": b"1",
        "s/0004.bmp": _bmp(photo(4)),  # written as PNG, renamed .png
        "s/0005.jpg": b"not an image, named like one",
        "s/0007.seg.png": dirty(photo(7, face=None), "PNG"),
        "s/0007.jpg": dirty(photo(8), exiftool=exiftool),
        "s/0008.cls": b"7",  # a sample without an image
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            _add(tar, name, data)
            if name == "s/0005.jpg":
                _add(tar, "s/0006.lnk", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd")
    return members


def test_shard_members_kept_in_order_images_clean_headers_scrubbed(tmp_path: Path, exiftool: str):
    members = _shard(tmp_path / "src" / "train-000.tar", exiftool)
    report = anonymize_dataset(tmp_path / "src", tmp_path / "out", workers=0, **FILL)
    assert (report.written, report.failed, report.units) == (5, 3, 1), report

    output = tmp_path / "out" / "train-000.tar"
    with tarfile.open(output) as tar:
        infos = tar.getmembers()
        data = {info.name: tar.extractfile(info).read() for info in infos}
    assert [info.name for info in infos] == ["s/0001.jpg", "s/0001.json", "s/0001.cls", "s/0002.png", "s/0002.txt", "s/0004.png",
                                             "s/0007.seg.png", "s/0007.jpg", "s/0008.cls"]
    for info in infos:
        assert (info.uid, info.gid, info.uname, info.gname, info.mtime, info.mode) == (0, 0, "", "", 0, 0o644)
        assert info.pax_headers == {}
    for name in ("s/0001.json", "s/0001.cls", "s/0002.txt", "s/0008.cls"):
        assert data[name] == members[name], "other members are copied byte for byte"
    images = {name: data[name] for name in ("s/0001.jpg", "s/0002.png", "s/0004.png", "s/0007.seg.png", "s/0007.jpg")}
    assert data["s/0001.jpg"][:3] == b"\xff\xd8\xff" and data["s/0004.png"][:4] == b"\x89PNG"
    for name, image in images.items():
        assert not reddish(pixels(image)).any(), name
    assert_clean(images, exiftool)
    raw = output.read_bytes()
    assert b"alice" not in raw and b"FSLEAK" not in raw

    with Manifest(report.manifest) as db:
        rows = {row.rel: row for row in db.rows()}
    assert "CorruptImageError" in rows["train-000.tar#s/0003.jpg"].reason
    assert "named like an image (.jpg)" in rows["train-000.tar#s/0005"].reason
    assert "link" in rows["train-000.tar#s/0006"].reason
    assert rows["train-000.tar#s/0004.bmp"].output.endswith("train-000.tar#s/0004.png")


def test_a_sample_with_one_bad_image_is_dropped_whole(tmp_path: Path):
    with tarfile.open(tmp_path / "a.tar", "w") as tar:
        _add(tar, "k.left.jpg", dirty(photo(1)))
        _add(tar, "k.right.jpg", b"\xff\xd8\xff broken")
        _add(tar, "k.json", b"{}")
        _add(tar, "m.jpg", dirty(photo(2)))
    report = anonymize_dataset(tmp_path / "a.tar", tmp_path / "out", workers=2, **FILL)
    assert (report.written, report.failed) == (1, 2)
    with tarfile.open(tmp_path / "out" / "a.tar") as tar:
        assert tar.getnames() == ["m.jpg"]
