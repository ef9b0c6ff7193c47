"""COCO: images anonymised into DST/images, entries allowlisted, every annotation moved with a crop (pycocotools re-reads)."""

import json
from pathlib import Path

import numpy as np
import pytest
from _fakes import RedDetector, reddish
from _records import MARKER, assert_clean, dirty, mark, photo, pixels
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from facesafe._batch._manifest import Manifest
from facesafe._datasets import anonymize_dataset
from facesafe._datasets._coco import clip_polygon, crop_annotation

CROP = dict(method="crop", detector=RedDetector())
KEPT = (45, 0, 128, 96)  # what crop keeps of a 128 x 96 image with a face at x 10..40, y 20..50 (grown by 1.3)


def _square(x: int, y: int, size: int = 4) -> list[float]:
    return [x, y, x + size, y, x + size, y + size, x, y + size]


def _rle(x: int, y: int, *, compressed: bool) -> dict:
    mask = np.zeros((96, 128), np.uint8)
    mask[y : y + 4, x : x + 4] = 1
    rle = coco_mask.encode(np.asfortranarray(mask))
    if compressed:
        return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
    flat = mask.ravel(order="F")
    runs = np.diff(np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])).tolist()
    return {"size": [96, 128], "counts": runs}


@pytest.fixture()
def coco(tmp_path: Path, exiftool: str) -> Path:
    images = tmp_path / "src" / "images"
    (images / "alice_smith").mkdir(parents=True)
    first = photo(1)
    for x, y in ((80, 40), (100, 70), (60, 10)):
        mark(first, x, y)
    (images / "alice_smith" / "IMG_0001.png").write_bytes(dirty(first, "PNG", exiftool=exiftool))
    (images / "b.jpg").write_bytes(dirty(photo(2, face=None), exiftool=exiftool))
    (images / "d.png").write_bytes(dirty(photo(4), "PNG"))
    identifying = {"flickr_url": "http://farm.example/alice", "coco_url": "http://images.example/1.jpg",
                   "date_captured": "2013-11-14 16:28:13", "photographer": "Alice Smith", "license": 3}
    data = {
        "info": {"description": "test set"},
        "licenses": [{"id": 3, "name": "CC BY"}],
        "categories": [{"id": 1, "name": "thing", "keypoints": ["a", "b"], "skeleton": []}, {"id": 2, "name": "crowd"}],
        "images": [
            {"id": 1, "file_name": "alice_smith/IMG_0001.png", "width": 128, "height": 96, **identifying},
            {"id": 2, "file_name": "b.jpg", "width": 128, "height": 96, **identifying},
            {"id": 3, "file_name": "missing.jpg", "width": 128, "height": 96},
            {"id": 4, "file_name": "d.png", "width": 100, "height": 100},  # not the file's size
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [80, 40, 4, 4], "area": 16, "iscrowd": 0,
             "segmentation": [_square(80, 40)], "keypoints": [82, 42, 2, 20, 30, 2], "num_keypoints": 2},
            {"id": 11, "image_id": 1, "category_id": 1, "bbox": [12, 22, 10, 10], "area": 100, "iscrowd": 0,
             "segmentation": [_square(12, 22, 10)]},  # inside the face: dropped
            {"id": 12, "image_id": 1, "category_id": 1, "bbox": [30, 60, 40, 10], "area": 400, "iscrowd": 0,
             "segmentation": [[30, 60, 70, 60, 70, 70, 30, 70]], "caption": "kept as is"},
            {"id": 13, "image_id": 1, "category_id": 2, "bbox": [100, 70, 4, 4], "area": 16, "iscrowd": 1,
             "segmentation": _rle(100, 70, compressed=True)},
            {"id": 14, "image_id": 1, "category_id": 2, "bbox": [60, 10, 4, 4], "area": 16, "iscrowd": 1,
             "segmentation": _rle(60, 10, compressed=False)},
            {"id": 20, "image_id": 2, "category_id": 1, "bbox": [1.5, 2.5, 30, 40], "area": 1200, "iscrowd": 0, "segmentation": []},
            {"id": 30, "image_id": 3, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0},
            {"id": 40, "image_id": 4, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0},
        ],
    }
    path = tmp_path / "src" / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_crop_moves_every_annotation_into_the_kept_region(coco: Path, tmp_path: Path, exiftool: str):
    report = anonymize_dataset(coco, tmp_path / "out", images=coco.parent / "images", workers=0, **CROP)
    assert (report.written, report.failed, report.dropped_annotations) == (2, 2, 3), report  # 11 left; 30, 40 lost their image

    out = tmp_path / "out"
    api = COCO(str(out / "annotations.json"))  # the independent reader
    assert sorted(api.imgs) == [1, 2]
    for entry in api.imgs.values():
        assert set(entry) <= {"id", "file_name", "width", "height", "license"}
    assert b"flickr" not in (out / "annotations.json").read_bytes() and b"Alice" not in (out / "annotations.json").read_bytes()
    x0, y0, x1, y1 = KEPT
    assert (api.imgs[1]["width"], api.imgs[1]["height"]) == (x1 - x0, y1 - y0)
    assert (api.imgs[2]["width"], api.imgs[2]["height"]) == (128, 96)

    image = pixels((out / "images" / api.imgs[1]["file_name"]).read_bytes())
    assert image.shape == (y1 - y0, x1 - x0, 3) and not reddish(image).any()
    green = np.all(image == MARKER, axis=-1)
    anns = {ann["id"]: ann for ann in api.loadAnns(api.getAnnIds())}
    assert sorted(anns) == [10, 12, 13, 14, 20]

    assert anns[10]["bbox"] == [80 - x0, 40, 4, 4]
    bx, by, bw, bh = anns[10]["bbox"]
    assert green[by : by + bh, bx : bx + bw].all(), "the box lands on its marker"
    assert anns[10]["keypoints"] == [82 - x0, 42, 2, 0, 0, 0] and anns[10]["num_keypoints"] == 1
    kx, ky = anns[10]["keypoints"][:2]
    assert green[ky, kx]
    polygon = api.annToMask(anns[10]).astype(bool)
    assert (polygon & green).sum() == 16 and anns[10]["area"] == pytest.approx(polygon.sum())

    assert anns[12]["bbox"] == [0, 60, 25, 10] and anns[12]["caption"] == "kept as is"
    assert anns[12]["area"] == pytest.approx(api.annToMask(anns[12]).sum())
    for ann_id, (mx, my) in ((13, (100, 70)), (14, (60, 10))):
        mask = api.annToMask(anns[ann_id]).astype(bool)
        assert mask.shape == green.shape
        expected = np.zeros_like(green)
        expected[my : my + 4, mx - x0 : mx - x0 + 4] = True
        assert (mask == expected).all() and (green & expected).sum() == 16
        assert anns[ann_id]["area"] == 16
    assert isinstance(anns[13]["segmentation"]["counts"], str) and isinstance(anns[14]["segmentation"]["counts"], list)
    assert anns[20]["bbox"] == [1.5, 2.5, 30, 40], "an image with no face keeps its annotations as they were"

    second = (out / "images" / "b.jpg").read_bytes()
    assert second[:3] == b"\xff\xd8\xff"
    assert_clean({"1": (out / "images" / api.imgs[1]["file_name"]).read_bytes(), "2": second}, exiftool)

    with Manifest(report.manifest) as db:
        rows = {row.rel: row for row in db.rows()}
    assert "cannot read" in rows["missing.jpg"].reason
    assert "differs from the annotations' 100x100" in rows["d.png"].reason
    assert rows["alice_smith/IMG_0001.png"].region == list(KEPT)
    assert not (out / "images" / "d.png").exists()

    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    again = anonymize_dataset(coco, out, images=coco.parent / "images", workers=2, **CROP)
    assert (again.written, again.failed, again.units) == (2, 2, 1)
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before, "a rerun replaces its own outputs alike"


def test_polygon_clipping_and_keypoints_outside():
    assert clip_polygon([0, 0, 10, 0, 10, 10, 0, 10], (5, 5, 20, 20)) == [0, 0, 5, 0, 5, 5, 0, 5]
    assert clip_polygon([0, 0, 4, 0, 4, 4], (5, 5, 20, 20)) == []
    moved = crop_annotation({"bbox": [0, 0, 10, 10], "keypoints": [1, 1, 1, 8, 9, 2]}, (5, 5, 20, 20), (20, 20))
    assert moved == {"bbox": [0, 0, 5, 5], "keypoints": [0, 0, 0, 3, 4, 2], "num_keypoints": 1}
    assert crop_annotation({"bbox": [0, 0, 4, 4]}, (5, 5, 20, 20), (20, 20)) is None


def test_someone_elses_annotation_file_is_not_replaced(coco: Path, tmp_path: Path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "annotations.json").write_text("theirs")
    report = anonymize_dataset(coco, tmp_path / "out", images=coco.parent / "images", workers=0, **CROP)
    assert report.failed == 1 and "exists" in report.failures[0][1] and report.written == 0
    assert (tmp_path / "out" / "annotations.json").read_text() == "theirs"


def test_coco_needs_images_and_a_coco_file(tmp_path: Path):
    path = tmp_path / "a.json"
    path.write_text("{}")
    (tmp_path / "imgs").mkdir()
    with pytest.raises(ValueError, match="--images"):
        anonymize_dataset(path, tmp_path / "out", workers=0, **CROP)
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        anonymize_dataset(path, tmp_path / "out", images=tmp_path / "imgs", workers=0, **CROP)


def test_faces_the_annotations_know_are_redacted_too(tmp_path: Path):
    image = photo(5, face=None)
    blue = {"face box": (10, 10), "head keypoints": (60, 30), "unannotated": (100, 60)}
    for x, y in blue.values():
        image[y : y + 12, x : x + 12] = (0, 0, 255)  # "faces" the detector does not find
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "p.png").write_bytes(dirty(image, "PNG"))
    data = {
        "images": [{"id": 1, "file_name": "p.png", "width": 128, "height": 96}],
        "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_hip"]},
                       {"id": 2, "name": "human_face"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 2, "bbox": [10, 10, 12, 12], "area": 144, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 20, 30, 70], "area": 2100, "iscrowd": 0, "num_keypoints": 4,
             "keypoints": [66, 37, 2, 63, 34, 2, 69, 34, 1, 0, 0, 0, 61, 35, 2, 70, 80, 2]},
        ],
    }
    (tmp_path / "a.json").write_text(json.dumps(data))
    report = anonymize_dataset(tmp_path / "a.json", tmp_path / "out", images=tmp_path / "images", workers=0,
                               method="fill", shape="box", detector=RedDetector())
    assert report.ok and report.faces == 2
    out = pixels((tmp_path / "out" / "images" / "p.png").read_bytes())
    is_blue = np.all(out == (0, 0, 255), axis=-1)
    for name, (x, y) in blue.items():
        assert is_blue[y : y + 12, x : x + 12].any() == (name == "unannotated"), name
    with Manifest(report.manifest) as db:
        assert len(db.get(f"{tmp_path / 'a.json'}#image=1").boxes[0]) == 2


def test_faces_found_as_a_review_category_and_hmac_names(tmp_path: Path):
    (tmp_path / "images" / "alice_smith").mkdir(parents=True)
    (tmp_path / "images" / "alice_smith" / "IMG_1.png").write_bytes(dirty(photo(1), "PNG"))
    (tmp_path / "images" / "b.jpg").write_bytes(dirty(photo(2, face=None)))
    data = {"images": [{"id": 7, "file_name": "alice_smith/IMG_1.png", "width": 128, "height": 96},
                       {"id": 8, "file_name": "b.jpg", "width": 128, "height": 96}],
            "categories": [{"id": 3, "name": "dog"}],
            "annotations": [{"id": 40, "image_id": 7, "category_id": 3, "bbox": [60, 60, 10, 10], "area": 100, "iscrowd": 0}]}
    (tmp_path / "a.json").write_text(json.dumps(data))
    report = anonymize_dataset(tmp_path / "a.json", tmp_path / "out", images=tmp_path / "images", workers=0, method="fill",
                               shape="box", detector=RedDetector(), faces_category="face (facesafe)", rename="hmac")
    assert report.ok and report.faces == 1
    api = COCO(str(tmp_path / "out" / "annotations.json"))
    (face_category,) = api.loadCats(api.getCatIds(catNms=["face (facesafe)"]))
    assert face_category["id"] == 4 and api.loadCats([3])[0]["name"] == "dog"
    (face,) = api.loadAnns(api.getAnnIds(catIds=[4]))
    assert face["image_id"] == 7 and face["id"] == 41 and face["score"] == 0.9
    assert face["bbox"] == [10, 20, 30, 30], "the face RedDetector finds, in the output's pixels"
    names = {entry["id"]: entry["file_name"] for entry in api.loadImgs([7, 8])}
    assert names[7].endswith(".png") and names[8].endswith(".jpg") and "/" not in names[7] and "alice" not in names[7]
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == sorted(names.values())
    assert b"alice_smith" not in (tmp_path / "out" / "annotations.json").read_bytes()
    with pytest.raises(ValueError, match="faces_category"):
        anonymize_dataset(tmp_path / "a.json", tmp_path / "o2", images=tmp_path / "images", workers=0, faces_category=" ", **CROP)
