"""Targets: parsing, the detector kinds they need, and which redaction each kind gets."""

from __future__ import annotations

import numpy as np
import pytest

from facesafe import Blur, Box, Crop, Face, Fill
from facesafe._redact._text import redact_by_kind
from facesafe._targets import TARGETS, parse_targets, text_kinds


def test_parse_targets_normalises_and_names_the_parameter():
    assert parse_targets("faces") == ("faces",)
    assert parse_targets(" text,faces ,plates") == TARGETS
    assert parse_targets(["plates", "plates"]) == ("plates",)
    for bad in ("", "faces,cars", [], ["Faces"]):
        with pytest.raises(ValueError, match="targets"):
            parse_targets(bad)


def test_text_kinds():
    assert text_kinds(["faces"]) == ()
    assert text_kinds("plates,text") == ("plate", "text")


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (60, 100, 3), dtype=np.uint8)


def test_faces_get_the_redaction_and_plates_the_text_method():
    image = _image()
    face = Face(Box(5, 5, 25, 25))
    plate = Face(Box(50, 30, 90, 40), kind="plate")
    out = redact_by_kind(image, [face, plate], redaction=Fill(color=(0, 255, 0), shape="box", grow=1.0),
                         text_method="fill")
    assert (out[5:25, 5:25] == (0, 255, 0)).all()  # the face: the user's redaction
    assert (out[30:40, 50:90] == 0).all()  # the plate: a black fill, not green
    untouched = np.ones((60, 100), bool)
    untouched[5:25, 5:25] = untouched[30:40, 50:90] = False
    assert np.array_equal(out[untouched], image[untouched])


def test_plates_are_hidden_before_a_crop_cuts_the_image():
    image = _image()
    face = Face(Box(80, 0, 100, 60))  # the right strip: crop keeps the left 80 columns
    plate = Face(Box(10, 10, 40, 20), kind="plate")
    out = redact_by_kind(image, [face, plate], redaction=Crop(grow=1.0, min_share=0.5), text_method="fill")
    assert out.shape[1] < 100 and (out[10:20, 10:40] == 0).all()


def test_no_regions_is_the_redaction_of_no_faces():
    image = _image()
    out = redact_by_kind(image, [], redaction=Blur())
    assert np.array_equal(out, image) and out is not image


def test_a_plain_callable_redaction_is_accepted():
    image = _image()
    seen = []

    def paint(img, faces):
        seen.append(len(faces))
        return np.zeros_like(img)

    plate = Face(Box(10, 10, 40, 20), kind="plate")
    out = redact_by_kind(image, [plate, Face(Box(0, 0, 5, 5))], redaction=paint)
    assert seen == [1] and not out.any()


# -- wired into Anonymizer / anonymize (PP-OCRv4 models of the text extra) -----

def _has_text_extra() -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution("rapidocr-onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


# rapidocr-onnxruntime 1.4.4 has no Python 3.13 release (see tests/test_text.py)
needs_text = pytest.mark.skipif(not _has_text_extra(), reason="needs the text extra (rapidocr-onnxruntime 1.4.4, Python <= 3.12)")

def _no_faces(image):
    return ()


@pytest.fixture(scope="module")
def plate_scene():
    from test_text import _scene

    return _scene(sign=False)


@pytest.fixture(scope="module")
def reader():
    from facesafe._detect._text import TextReader

    return TextReader(threads=1)


@needs_text
def test_anonymize_with_plates_hides_the_plate_and_faces_alone_leaves_it(plate_scene, reader):
    from test_text import PLATE_TEXT, _similar

    from facesafe import anonymize

    image, plate, _ = plate_scene
    plain = anonymize(image, detector=_no_faces)
    assert plain.faces == () and np.array_equal(plain.image, image)
    assert _similar(reader(plain.image, plate)[0], PLATE_TEXT) >= 0.8  # readable: the check below can fail
    face = Face(Box(20, 20, 80, 90), 0.9)
    done = anonymize(image, detector=lambda im: (face,), method="fill", targets="faces,plates", threads=1)
    assert done.faces[0] == face and {f.kind for f in done.faces[1:]} == {"plate"}
    for box in (plate, plate.expanded(1.3)):
        assert _similar(reader(done.image, box)[0], PLATE_TEXT) < 0.3
    assert (done.image[face.box.expanded(0.5).to_slices()] == 0).all()  # the face got the fill, the plate a mosaic
    assert not (done.image[plate.expanded(0.5).to_slices()] == 0).all()


@needs_text
def test_crop_keeps_the_frame_free_of_faces_with_the_plate_hidden(plate_scene, reader):
    from test_text import PLATE_TEXT, _similar

    from facesafe import Anonymizer

    image, plate, _ = plate_scene
    face = Face(Box(0, 0, 60, 60), 0.9)
    with Anonymizer(method="crop", detector=lambda im: (face,), targets=["plates"] + ["faces"], threads=1) as anonymizer:
        result = anonymizer.anonymize(image)
    assert result.region is not None and (result.region.x0 >= 60 or result.region.y0 >= 60)
    dx, dy = result.region.x0, result.region.y0
    shifted = Box(plate.x0 - dx, plate.y0 - dy, plate.x1 - dx, plate.y1 - dy)
    assert _similar(reader(result.image, shifted)[0], PLATE_TEXT) < 0.3


@needs_text
def test_targets_are_settings():
    import pickle

    from facesafe import Anonymizer

    faces = Anonymizer(detector=_no_faces)
    both = Anonymizer(detector=_no_faces, targets=("plates", "faces"))
    assert faces.targets == ("faces",) and "targets" not in faces.settings()  # earlier manifests still resume
    assert both.targets == ("faces", "plates") and both.settings()["targets"] == ["faces", "plates"]
    assert faces.settings() != both.settings() and "targets='faces,plates'" in repr(both)
    assert pickle.loads(pickle.dumps(both)).targets == both.targets


def test_unknown_targets_and_a_missing_extra_are_refused(without_text_extra):
    from facesafe import Anonymizer, MissingExtraError

    with pytest.raises(ValueError, match="'cars'"):
        Anonymizer(targets="faces,cars")

    with pytest.raises(MissingExtraError, match=r"pip install 'facesafe\[text\]'"):
        Anonymizer(targets="plates")
    Anonymizer(targets="faces")  # faces alone never needs it


@needs_text
def test_cli_targets_record_plates_by_kind_in_the_manifest(tmp_path, plate_scene, reader, capsys):
    from PIL import Image
    from test_text import PLATE_TEXT, _similar

    from facesafe._batch._manifest import box_kind, read_manifest
    from facesafe.cli import main

    image, plate, _ = plate_scene
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(image).save(src / "car.png")
    run = ["anonymize", str(src), "--preset", "fast", "--workers", "1", "-q"]
    assert main([*run, "--out", str(tmp_path / "faces")]) == 0
    assert " 0 faces found in " in capsys.readouterr().out  # no plate count when only faces are asked
    assert main([*run, "--out", str(tmp_path / "plates"), "--targets", "plates,faces"]) == 0
    assert "; 0 faces, 1 plate found" in capsys.readouterr().out
    kept = np.asarray(Image.open(tmp_path / "faces" / "car.png").convert("RGB"))
    hidden = np.asarray(Image.open(tmp_path / "plates" / "car.png").convert("RGB"))
    assert _similar(reader(kept, plate)[0], PLATE_TEXT) >= 0.8
    assert _similar(reader(hidden, plate)[0], PLATE_TEXT) < 0.3
    runs, rows = read_manifest(tmp_path / "plates.facesafe.sqlite")
    (row,) = rows
    assert row.faces == 0 and [box_kind(b) for b in row.boxes[0]] == ["plate"]
    core = plate.expanded(0.8)
    assert Box(*row.boxes[0][0][:4]).intersection(core) >= 0.99 * core.area  # the recorded region is on the plate
    assert runs[0]["params"]["targets"] == ["faces", "plates"]
    _, (faces_row,) = read_manifest(tmp_path / "faces.facesafe.sqlite")
    assert faces_row.boxes == [[]] and faces_row.params_key != row.params_key
    # the HTML report counts plates apart from faces, and only when the run asked for them
    import re

    from facesafe import render_report

    def cards(manifest):
        page = render_report(tmp_path / manifest, tmp_path / "r.html").read_text(encoding="utf-8")
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))

    assert "0 faces found and redacted 1 licence plates found and hidden" in cards("plates.facesafe.sqlite")
    assert "licence plates" not in cards("faces.facesafe.sqlite")
    # verify re-checks the plates the manifest records, with the run's text detector
    from facesafe import verify

    report = verify(tmp_path / "plates", preset="fast", manifest=tmp_path / "plates.facesafe.sqlite")
    assert report.clean and report.notes == ("plates and text the manifest records were re-checked in 1 files",)
    assert verify(tmp_path / "faces", preset="fast", manifest=tmp_path / "faces.facesafe.sqlite").notes == ()
    # a changed target set is a new run over the same output folder, not a resume
    assert main([*run, "--out", str(tmp_path / "plates"), "--targets", "faces"]) == 0
    assert "1 written" in capsys.readouterr().out
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "plates" / "car.png").convert("RGB")), hidden)


def test_cli_refuses_an_unknown_target_or_a_missing_extra(tmp_path, without_text_extra, capsys):
    from facesafe.cli import main

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(b"not read")
    out = tmp_path / "out"
    assert main(["anonymize", str(src), "--out", str(out), "--targets", "faces,cars"]) == 2
    assert "'cars'" in capsys.readouterr().err

    assert main(["anonymize", str(src), "--out", str(out), "--targets", "text"]) == 2
    assert "pip install 'facesafe[text]'" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.facesafe.sqlite").exists()


@needs_text
def test_verify_flags_text_still_found_inside_a_recorded_plate(tmp_path, plate_scene):
    import hashlib

    from PIL import Image

    from facesafe._detect._text import TextDetector
    from facesafe._redact._text import redact_regions
    from facesafe._verify import Recorded, _ReadableText, check_file

    image, plate, _ = plate_scene
    readable = _ReadableText(("plate",), 1)
    with TextDetector(kinds=("plate",), threads=1) as plates:
        found = plates(image)
        for name, pixels in (("kept", image), ("hidden", redact_regions(image, found))):
            path = tmp_path / f"{name}.png"
            Image.fromarray(pixels).save(path)
            recorded = Recorded(hashlib.sha256(path.read_bytes()).hexdigest(), (), None, ((plate,),), ("plate",))
            check = check_file(path, _no_faces, recorded=recorded, text_detector=readable)
            if name == "kept":  # the plate the manifest says was hidden is still there
                assert not check.clean and len(check.text) == 1 and check.text[0].box.intersection(plate) > 0
                assert check.to_dict()["text"][0]["frame"] == 0
                from facesafe import VerifyReport

                said = str(VerifyReport(tmp_path, (check,), "fast", 0.5))
                assert "kept.png: text still detected at" in said and "FOUND SOMETHING" in said and "1 with text left" in said
            else:
                assert check.clean and check.text == ()


@needs_text
def test_verify_needs_the_recogniser_to_read_a_line_not_only_the_detector_to_see_it():
    from pathlib import Path

    from PIL import Image

    from facesafe._detect._text import TextDetector
    from facesafe._verify import _ReadableText

    portrait = np.asarray(Image.open(Path(__file__).parent.parent / "examples" / "portrait.jpg").convert("RGB"))
    with TextDetector(kinds=("text",), threads=1) as texts:
        assert texts(portrait)  # the detector calls the head a text line...
    assert _ReadableText(("text",), 1)(portrait) == ()  # ...which the recogniser does not read


@needs_text
def test_dataset_targets_hide_plates_beside_annotated_faces_and_count_them(tmp_path, plate_scene, reader, capsys):
    """COCO hints (the dataset's own face boxes) keep the run's targets: the plate is hidden and recorded by kind."""
    import json

    from PIL import Image
    from test_text import PLATE_TEXT, _similar

    from facesafe._batch._manifest import Manifest, box_kind
    from facesafe.cli import main

    image, plate, _ = plate_scene
    (tmp_path / "images").mkdir()
    Image.fromarray(image).save(tmp_path / "images" / "car.png")
    height, width = image.shape[:2]
    data = {"images": [{"id": 1, "file_name": "car.png", "width": width, "height": height}],
            "categories": [{"id": 1, "name": "face"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 20], "area": 400, "iscrowd": 0}]}
    (tmp_path / "a.json").write_text(json.dumps(data))
    out = tmp_path / "out"
    code = main(["dataset", str(tmp_path / "a.json"), "--images", str(tmp_path / "images"), "--out", str(out),
                 "--targets", "faces,plates", "--method", "fill", "--preset", "fast", "--workers", "0", "-q",
                 "--faces-category", "found"])
    assert code == 0
    assert "1 plate found" in capsys.readouterr().out
    done = np.asarray(Image.open(out / "images" / "car.png").convert("RGB"))
    assert _similar(reader(done, plate)[0], PLATE_TEXT) < 0.3
    assert (done[4:24, 4:24] == 0).all()  # the annotated face got the fill
    with Manifest(f"{out}.facesafe.sqlite") as db:
        row = db.get(f"{tmp_path / 'a.json'}#image=1")
    assert sorted(box_kind(b) for b in row.boxes[0]) == ["face", "plate"], row.boxes
    written = json.loads((out / "annotations.json").read_text())
    (found,) = [c["id"] for c in written["categories"] if c["name"] == "found"]
    assert [a["bbox"] for a in written["annotations"] if a["category_id"] == found] == [[4.0, 4.0, 20.0, 20.0]]  # the face only
