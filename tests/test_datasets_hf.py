"""AnonymizeColumn: a picklable transform for Dataset.map(batched=True, num_proc=N); failed rows dropped, never passed through."""

import io
import json
import pickle
from pathlib import Path

import pytest
from _fakes import RedDetector, reddish
from _records import assert_clean, dirty, photo, pixels
from PIL import Image

from facesafe import FacesafeError
from facesafe._datasets._hf import AnonymizeColumn

FILL = dict(method="fill", shape="box", detector=RedDetector())


def test_every_kind_of_cell_anonymised_in_its_format_failed_rows_dropped(tmp_path: Path, exiftool: str):
    jpeg, png = dirty(photo(1), exiftool=exiftool), dirty(photo(2), "PNG", exiftool=exiftool)
    (tmp_path / "on_disk.jpg").write_bytes(dirty(photo(3)))
    batch = {
        "image": [jpeg, {"bytes": png, "path": "/home/alice/a.png"}, {"bytes": None, "path": str(tmp_path / "on_disk.jpg")},
                  Image.open(io.BytesIO(jpeg)), None, b"\xff\xd8\xff broken"],
        "label": [0, 1, 2, 3, 4, 5],
    }
    transform = pickle.loads(pickle.dumps(AnonymizeColumn("image", provenance="facesafe", failures=tmp_path / "f.jsonl", **FILL)))
    out = transform(batch, indices=[10, 11, 12, 13, 14, 15])
    assert out["label"] == [0, 1, 2, 3, 4]
    first, second, third, fourth, fifth = out["image"]
    assert isinstance(first, bytes) and first[:3] == b"\xff\xd8\xff"
    assert second["path"] is None and second["bytes"][:4] == b"\x89PNG"
    assert third["path"] is None and fourth["bytes"][:3] == b"\xff\xd8\xff", "a decoded JPEG comes back as JPEG"
    assert fifth is None and out["facesafe"][4] is None
    images = {"0": first, "1": second["bytes"], "2": third["bytes"], "3": fourth["bytes"]}
    for name, data in images.items():
        assert not reddish(pixels(data)).any(), name
    assert_clean(images, exiftool)
    note = out["facesafe"][0]
    assert (note["faces"], note["method"], note["format"]) == (1, "fill", "JPEG") and len(note["boxes"][0]) == 5
    failures = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert failures[0]["index"] == 15 and "CorruptImageError" in failures[0]["reason"]


def test_stop_raises_instead_of_dropping():
    transform = AnonymizeColumn("image", on_error="stop", **FILL)
    with pytest.raises(FacesafeError, match="row 1"):
        transform({"image": [dirty(photo(1)), b"broken"]})


def test_dataset_map_with_two_processes_and_an_iterable_dataset(tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    rows = [{"bytes": dirty(photo(i)), "path": f"/home/alice/{i}.jpg"} for i in range(5)]
    rows[2] = {"bytes": b"\xff\xd8\xff broken", "path": "x.jpg"}
    dataset = datasets.Dataset.from_dict({"image": rows, "label": list(range(5))}, features=features)
    transform = AnonymizeColumn("image", failures=tmp_path / "f.jsonl", **FILL)
    # decode=False: a broken image reaches the transform (decoded, datasets itself fails on it first).
    raw = dataset.cast_column("image", datasets.Image(decode=False))
    clean = raw.map(transform, batched=True, batch_size=2, num_proc=2, with_indices=True)
    assert clean["label"] == [0, 1, 3, 4]
    assert [cell["path"] for cell in clean["image"]] == [None] * 4
    assert not any(reddish(pixels(cell["bytes"])).any() for cell in clean["image"])
    assert [json.loads(line)["index"] for line in (tmp_path / "f.jsonl").read_text().splitlines()] == [2]
    assert clean.cast_column("image", datasets.Image())[0]["image"].format == "JPEG"

    decoded = dataset.select([0, 1, 3]).to_iterable_dataset()  # PIL images in; out as {bytes, path} (map drops the features)
    streamed = list(decoded.map(AnonymizeColumn("image", **FILL), batched=True, batch_size=2))
    assert [row["label"] for row in streamed] == [0, 1, 3]
    assert all(row["image"]["path"] is None and not reddish(pixels(row["image"]["bytes"])).any() for row in streamed)

