"""facesafe.verify: faces, metadata and unreadable files left in a released folder."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ASTRONAUT_FACE, needs_facemesh
from PIL import Image

import facesafe
from facesafe import Blur, Box, Face, Fill, Pixelate, encode_image, write_image
from facesafe._allowlist import extra_content
from facesafe._verify import FACE_SCORE_THRESHOLD, NO_MANIFEST_NOTE, Recorded, check_file, looks_redacted
from facesafe.cli import main

FACE = Face(ASTRONAUT_FACE, 0.99)


@pytest.fixture(scope="module")
def detector():
    """The thorough detector verify uses by default, loaded once."""
    from facesafe._detect import FaceDetector

    det = FaceDetector(preset="thorough")
    yield det
    if hasattr(det, "close"):
        det.close()


@pytest.fixture(scope="module")
def redacted(astronaut):
    """The astronaut after each real redaction facesafe offers (its face box given)."""
    return {"blur": Blur()(astronaut, [FACE]), "pixelate": Pixelate()(astronaut, [FACE]), "fill": Fill()(astronaut, [FACE])}


def _clean_folder(root: Path, redacted: dict[str, np.ndarray]) -> Path:
    write_image(root / "blur.jpg", redacted["blur"])
    write_image(root / "sub" / "pixelate.png", redacted["pixelate"])
    write_image(root / "sub" / "fill.webp", redacted["fill"])
    return root


# --------------------------------------------------------------------------- structure allowlist


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "GIF", "HEIF"])
def test_facesafe_outputs_hold_nothing_beyond_the_structural_allowlist(astronaut, fmt):
    alpha = np.full(astronaut.shape[:2], 200, np.uint8)
    still = encode_image(astronaut[:64, :64], format=fmt)
    assert extra_content(still, fmt) == ()
    if fmt != "JPEG":
        picture = facesafe.Picture((astronaut[:64, :64], astronaut[64:128, :64]), (alpha[:64, :64],) * 2, "PNG", durations=(100, 100))
        assert extra_content(encode_image(picture, format=fmt), fmt) == ()


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif", ".gif", ".heic", ".avif"])
def test_facesafe_outputs_pass_the_metadata_check(tmp_path, astronaut, suffix):
    alpha = np.full((64, 64), 200, np.uint8)
    pictures = [astronaut[:64, :64]]
    if suffix != ".jpg":
        pictures.append(facesafe.Picture((astronaut[:64, :64], astronaut[64:128, :64]), (alpha, alpha), "PNG", durations=(100, 100)))
    for index, picture in enumerate(pictures):
        path = write_image(tmp_path / f"{index}{suffix}", picture)
        check = check_file(path, lambda image: ())
        assert check.clean, check


def test_metadata_segments_and_trailing_bytes_are_named(astronaut):
    image = Image.fromarray(astronaut[:64, :64])
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 128, comment=b"Alice at home")
    found = extra_content(buf.getvalue() + b"vendor trailer", "JPEG")
    assert [f.split(" (")[0] for f in found] == ["EXIF", "ICC profile", "comment", "14 bytes after the end of the image"]

    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Alice")
    buf = io.BytesIO()
    image.save(buf, "PNG", pnginfo=info)
    assert extra_content(buf.getvalue(), "PNG") == ("text chunk tEXt 'Author' (12 bytes)",)


def test_a_file_whose_structure_cannot_be_walked_is_reported_not_passed():
    found = extra_content(b"\xff\xd8\xff\xe0\x00", "JPEG")
    assert len(found) == 1 and "not checked" in found[0]


# --------------------------------------------------------------------------- threshold semantics


def test_real_redactions_pass_and_the_intact_face_is_reported(tmp_path, detector, astronaut, redacted):
    write_image(tmp_path / "original.jpg", astronaut)
    check = check_file(tmp_path / "original.jpg", detector)
    assert [f.looks for f in check.faces] == [None] and check.faces[0].score >= FACE_SCORE_THRESHOLD
    assert check.faces[0].box.iou(ASTRONAUT_FACE) > 0.4
    for name, image in redacted.items():
        path = write_image(tmp_path / f"{name}.jpg", image)
        found = detector(facesafe.read_image(path))  # detect once, judge twice
        check = check_file(path, lambda image, found=found: found)
        assert check.clean, (name, check)
        # blur and fill leave only weak responses; the 8-cell mosaic scores high but looks redacted
        if name == "pixelate":
            assert [f.looks for f in check.redacted] == ["mosaic"] and check.redacted[0].score >= FACE_SCORE_THRESHOLD
        else:
            assert check.redacted == () and max(f.score for f in found) < FACE_SCORE_THRESHOLD
        strict = check_file(path, lambda image, found=found: found, judge_redaction=False)
        assert bool(strict.faces) == (name == "pixelate")


def test_a_fine_mosaic_is_too_weak_to_count_as_redacted(tmp_path, detector, astronaut):
    path = write_image(tmp_path / "fine.png", Pixelate(cells=12)(astronaut, [FACE]))
    check = check_file(path, detector)
    assert len(check.faces) == 1 and not check.clean


# The thorough detector's box on the astronaut with the top or bottom half of its
# face filled (or blurred, pixelated): it still finds the face, score 0.84-0.92.
HALF_DETECTION = Box(171.0, 55.0, 275.0, 185.0)


@pytest.mark.parametrize("method", [Blur, Pixelate, Fill])
@pytest.mark.parametrize("half", ["top", "bottom", "left"])
def test_a_half_covered_face_does_not_look_redacted(astronaut, method, half):
    f = ASTRONAUT_FACE
    cx, cy = f.center
    cover = {"top": Box(f.x0, f.y0 - 10, f.x1, cy), "bottom": Box(f.x0, cy, f.x1, f.y1 + 10),
             "left": Box(f.x0 - 10, f.y0, cx, f.y1)}[half]  # fmt: skip
    image = method(shape="box", grow=1.0)(astronaut, [Face(cover, 0.9)])
    # one edge of a fill across the face concentrates the gradient on one row: not a mosaic
    assert looks_redacted(image, HALF_DETECTION) is None
    assert looks_redacted(method()(astronaut, [FACE]), ASTRONAUT_FACE) is not None


def test_a_half_filled_face_is_reported(tmp_path, detector, astronaut):
    f = ASTRONAUT_FACE
    path = write_image(tmp_path / "half.png", Fill(shape="box", grow=1.0)(astronaut, [Face(Box(f.x0, f.y0 - 10, f.x1, f.center[1]), 0.9)]))
    check = check_file(path, detector)
    assert len(check.faces) == 1 and check.faces[0].box.iou(ASTRONAUT_FACE) > 0.4 and not check.redacted


def test_looks_redacted_on_synthetic_patterns():
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    box = Box(100, 100, 200, 200)
    assert looks_redacted(texture, box) is None
    flat = texture.copy()
    flat[80:220, 80:220] = 90
    assert looks_redacted(flat, box) == "smooth"
    mosaic = texture.copy()
    for y in range(80, 220, 14):
        for x in range(80, 220, 14):
            mosaic[y : y + 14, x : x + 14] = rng.integers(0, 255, 3)
    assert looks_redacted(mosaic, box) == "mosaic"


# --------------------------------------------------------------------------- verify()


def test_clean_folder_passes(tmp_path, detector, redacted):
    folder = _clean_folder(tmp_path / "release", redacted)
    report = facesafe.verify(folder, detector=detector)
    assert report.clean, str(report)
    assert sorted(f.rel for f in report.files) == ["blur.jpg", "sub/fill.webp", "sub/pixelate.png"]
    assert all(f.size == (512, 512) for f in report.files)


def test_face_left_metadata_left_and_stray_files_are_all_reported(tmp_path, detector, astronaut, redacted):
    folder = tmp_path / "release"
    # a face left: the unredacted astronaut composed into a larger grey picture
    canvas = np.full((560, 700, 3), 128, np.uint8)
    canvas[40:552, 150:662] = astronaut
    write_image(folder / "composed.png", canvas)
    # metadata left: a redacted photo saved with EXIF and GPS
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 21.0, 5.0)}
    Image.fromarray(redacted["blur"]).save(folder / "gps.jpg", exif=exif)
    (folder / "notes.txt").write_text("Alice, Bob")
    (folder / "broken.jpg").write_bytes((folder / "gps.jpg").read_bytes()[:300])

    report = facesafe.verify(folder, detector=detector)
    assert not report.clean
    flagged = {f.rel: f for f in report.flagged}
    assert sorted(flagged) == ["broken.jpg", "composed.png", "gps.jpg", "notes.txt"]
    faces = flagged["composed.png"].faces
    assert len(faces) == 1 and faces[0].score >= FACE_SCORE_THRESHOLD
    moved = Box(ASTRONAUT_FACE.x0 + 150, ASTRONAUT_FACE.y0 + 40, ASTRONAUT_FACE.x1 + 150, ASTRONAUT_FACE.y1 + 40)
    assert faces[0].box.iou(moved) > 0.4
    meta = " | ".join(flagged["gps.jpg"].metadata)
    assert "EXIF (APP1" in meta and "gps: GPSLatitude" in meta and "Make" in meta
    assert not flagged["gps.jpg"].faces
    assert "not an image" in flagged["notes.txt"].error
    assert flagged["broken.jpg"].error
    text = str(report)
    assert "composed.png: face at" in text and "FOUND SOMETHING" in text


def test_verify_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="min_score"):
        facesafe.verify(tmp_path, detector=lambda image: (), min_score=2)
    with pytest.raises(ValueError, match="folder"):
        facesafe.verify(tmp_path / "missing", detector=lambda image: ())


def test_weak_detections_are_listed_but_do_not_fail(tmp_path, astronaut):
    write_image(tmp_path / "a.png", astronaut)
    weak = lambda image: (Face(ASTRONAUT_FACE, 0.3),)  # noqa: E731
    report = facesafe.verify(tmp_path, detector=weak)
    assert report.clean and report.files[0].weak[0].score == pytest.approx(0.3)
    # a lower bar reports it (--strict: no second look, which this fixed detector would not answer)
    assert not facesafe.verify(tmp_path, detector=weak, min_score=0.25, judge_redaction=False).clean


def test_a_low_score_face_gets_a_second_look_and_is_reported_only_when_found_again(tmp_path, detector, astronaut):
    import cv2

    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)  # the face is 30 px high here
    quarter = lambda box: Box(*(v / 4 for v in box.as_xyxy()))  # noqa: E731
    suit = Box(40, 300, 100, 370)  # the flag and suit: no face there at any scale
    for image, face, other, name in ((astronaut, ASTRONAUT_FACE, suit, "big.png"), (small, quarter(ASTRONAUT_FACE), quarter(suit), "small.png")):
        write_image(tmp_path / name, image)
        found = (Face(face, 0.55), Face(other, 0.55), Face(other, 0.65))

        def looking(frame, found=found, shape=image.shape):  # the given answers on the photo, the real detector on a second look
            return found if frame.shape == shape else detector(frame)

        check = check_file(tmp_path / name, looking)
        # the real face (big or small) is found again: reported; what the detector does not find again is set aside
        assert [f.box for f in check.faces] == [face, other], name  # at 0.65 no second look is taken
        assert [(w.box, w.looks) for w in check.weak] == [(other, "unconfirmed")], name
        strict = check_file(tmp_path / name, looking, judge_redaction=False)  # --strict reports every one
        assert len(strict.faces) == 3 and not strict.weak


# --------------------------------------------------------------------------- CLI


def test_cli_exit_codes_and_json(tmp_path, redacted, astronaut, capsys):
    clean = tmp_path / "clean"
    write_image(clean / "fill.png", redacted["fill"])
    assert main(["verify", str(clean)]) == 0
    assert "CLEAN: 1 files checked" in capsys.readouterr().out

    dirty = tmp_path / "dirty"
    write_image(dirty / "face.jpg", astronaut)
    assert main(["verify", str(dirty), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["clean"] is False and data["with_faces"] == 1 and data["flagged"][0]["rel"] == "face.jpg"

    assert main(["verify", str(tmp_path / "missing")]) == 2
    assert main(["verify", str(clean), "--preset", "nope"]) == 2


def test_exiftool_agrees_the_clean_outputs_carry_no_metadata(tmp_path, redacted, exiftool):
    folder = _clean_folder(tmp_path / "release", redacted)
    out = subprocess.run([exiftool, "-j", "-G1", "-a", "-r", str(folder)], capture_output=True, text=True, check=True)
    groups = {key.split(":")[0] for item in json.loads(out.stdout) for key in item}
    assert groups <= {"SourceFile", "ExifTool", "System", "File", "JFIF", "PNG", "RIFF", "Composite", "VP8", "VP8L"}, groups


def test_links_are_reported_not_followed(tmp_path, redacted):
    outside = tmp_path / "originals"
    write_image(outside / "a.png", redacted["fill"])
    release = tmp_path / "release"
    write_image(release / "ok.png", redacted["fill"])
    (release / "original.png").symlink_to(outside / "a.png")
    (release / "more").symlink_to(outside, target_is_directory=True)
    report = facesafe.verify(release, detector=lambda image: ())
    errors = {f.rel: f.error for f in report.flagged}
    assert sorted(errors) == ["more", "original.png"]
    assert all("symbolic link" in e for e in errors.values())


def test_workers_give_the_same_findings(tmp_path, astronaut):
    from _fakes import RedDetector, draw_face

    for index in range(4):
        image = astronaut[:96, :96].copy()
        if index % 2:
            draw_face(image, 20, 20, 30)
        write_image(tmp_path / f"{index}.png", image)
    (tmp_path / "notes.txt").write_text("x")
    serial = facesafe.verify(tmp_path, detector=RedDetector(), judge_redaction=False)
    parallel = facesafe.verify(tmp_path, detector=RedDetector(), judge_redaction=False, workers=2)
    assert [f.to_dict() for f in parallel.files] == [f.to_dict() for f in serial.files]
    assert [f.rel for f in parallel.flagged] == ["1.png", "3.png", "notes.txt"]
    with pytest.raises(ValueError, match="workers"):
        facesafe.verify(tmp_path, detector=RedDetector(), workers=0)


def test_a_file_that_kills_its_worker_is_reported_not_the_whole_check(tmp_path, astronaut):
    from _fakes import CrashingDetector

    for index in range(3):
        write_image(tmp_path / f"{index}.png", astronaut[:64, :64])
    killer = astronaut[:64, :64].copy()
    killer[0, 0] = (0, 0, 255)
    write_image(tmp_path / "killer.png", killer)
    report = facesafe.verify(tmp_path, detector=CrashingDetector(), workers=2)
    assert [f.rel for f in report.flagged] == ["killer.png"]
    assert "worker process died" in report.flagged[0].to_dict()["error"]


# --------------------------------------------------------------------------- synthetic faces


@needs_facemesh
def test_synthetic_faces_recorded_in_the_manifest_are_set_apart_and_no_other(tmp_path, detector, astronaut):
    write_image(tmp_path / "src" / "portrait.png", astronaut)
    out, manifest = tmp_path / "out", tmp_path / "run.sqlite"
    report = facesafe.anonymize_dir(tmp_path / "src", out, method="synthetic", workers=0, manifest=manifest, quiet=True)
    assert report.failed == 0
    # a synthetic face is a face: without the manifest it fails the check
    plain = facesafe.verify(out, detector=detector)
    assert not plain.clean and NO_MANIFEST_NOTE in plain.notes  # and it says what the pixels cannot tell
    result = facesafe.verify(out, detector=detector, manifest=manifest)
    assert NO_MANIFEST_NOTE not in result.notes
    assert result.clean and result.to_dict()["synthetic_faces"] >= 1
    assert "on faces the manifest records as synthesised" in str(result)
    # a face the manifest does not record (a file it did not write) still fails
    write_image(out / "stray.png", astronaut)
    flagged = facesafe.verify(out, detector=detector, manifest=manifest).flagged
    assert [f.rel for f in flagged] == ["stray.png"]
    (out / "stray.png").unlink()
    # nor does it vouch for a file changed since the run: the original face put back
    write_image(out / "portrait.png", astronaut, overwrite=True)
    flagged = facesafe.verify(out, detector=detector, manifest=manifest).flagged
    assert [f.rel for f in flagged] == ["portrait.png"] and flagged[0].faces


def test_manifest_must_be_a_run_manifest(tmp_path, redacted):
    write_image(tmp_path / "out" / "fill.png", redacted["fill"])
    (tmp_path / "notes.sqlite").write_text("not a database")
    with pytest.raises(ValueError, match="manifest"):
        facesafe.verify(tmp_path / "out", manifest=tmp_path / "notes.sqlite")
    with pytest.raises(ValueError, match="manifest"):
        facesafe.verify(tmp_path / "out", manifest=tmp_path / "missing.sqlite")
    from facesafe._batch._manifest import Manifest

    with Manifest(tmp_path / "broken.sqlite") as db:  # a manifest whose boxes are garbage
        db.record(source="/in/fill.png", rel="fill.png", status="written", output=str(tmp_path / "out" / "fill.png"),
                  output_hash="ab", boxes="[[[1, 2]]]", method="synthetic")
    with pytest.raises(ValueError, match=r"manifest.*unreadable boxes"):
        facesafe.verify(tmp_path / "out", manifest=tmp_path / "broken.sqlite")
    assert main(["verify", str(tmp_path / "out"), "--manifest", str(tmp_path / "notes.sqlite")]) == 2


def test_a_detection_on_part_of_a_recorded_synthetic_face_is_that_face(tmp_path, redacted):
    import hashlib

    path = tmp_path / "out.png"
    write_image(path, redacted["fill"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    big = Box(100, 100, 400, 400)
    found = [Face(Box(150, 250, 250, 370), 0.9), Face(Box(380, 380, 480, 480), 0.9), Face(Box(120, 120, 390, 390), 0.9)]
    check = check_file(path, lambda image: found, recorded=Recorded(digest, (), None, synthesised=((big,),)), judge_redaction=False)
    # a part of the big face (inside it, IoU 0.13) and the face itself are set apart; the box mostly outside is not
    assert [f.box for f in check.synthetic] == [found[0].box, found[2].box]
    assert [f.box for f in check.faces] == [found[1].box]
    wrong = check_file(path, lambda image: found, recorded=Recorded("0" * 64, (), None, synthesised=((big,),)), judge_redaction=False)
    assert len(wrong.faces) == 3 and not wrong.synthetic  # not the file the manifest describes


@needs_facemesh
def test_a_synthetic_runs_fallen_back_face_is_judged_as_pixelated_and_its_replaced_face_as_synthetic(tmp_path, astronaut):
    from PIL import Image

    # the astronaut, and a small copy of her in a corner: max_yaw=0 makes the meshed big face fall back
    # (pixelated); the small one (under min_size, placed without a mesh) is replaced
    composed = astronaut.copy()
    composed[400:496, 400:496] = np.asarray(Image.fromarray(astronaut).resize((96, 96)))
    small = Box(431.0, 410.0, 448.0, 433.0)  # ASTRONAUT_FACE * 96 / 512, moved to the corner
    write_image(tmp_path / "src" / "two.png", composed)
    out, manifest = tmp_path / "out", tmp_path / "run.sqlite"
    report = facesafe.anonymize_dir(tmp_path / "src", out, method="synthetic", detector=_Fixed(FACE, Face(small, 0.9)),
                                    max_yaw=0.0, donor_pool=False, workers=0, manifest=manifest, quiet=True)
    assert report.written == 1 and report.fell_back == 1
    from facesafe._batch._manifest import read_manifest

    assert read_manifest(manifest)[1][0].donors == [["fallback", "synthetic"]]
    written = facesafe.read_image(out / "two.png")
    assert looks_redacted(written, ASTRONAUT_FACE) == "mosaic"  # the fallback's mosaic, as recorded
    f = ASTRONAUT_FACE
    straddling = Box(f.x0 + 0.55 * f.width, f.y0, f.x1 + 0.55 * f.width, f.y1)  # half on the mosaic, IoU 0.29 + half beside
    wide = Box(f.x0 + 0.45 * f.width, f.y0, f.x1 + 0.45 * f.width, f.y1)  # IoU 0.38 with the face, 80% of its core in the mask
    found = (Face(f, 0.9), Face(wide, 0.8), Face(straddling, 0.7), Face(small.expanded(1.2), 0.6))
    result = facesafe.verify(out, detector=_Fixed(*found), manifest=manifest).files[0]
    # judged as a pixelate run's face, not as a replaced one: inside the fallback's recorded mask, or by its pixels
    assert [(x.box, x.looks) for x in result.redacted] == [(f, "manifest"), (wide, "mosaic")]
    assert [x.box for x in result.faces] == [straddling]  # half of it beside the mosaic: a face left
    assert [x.box for x in result.synthetic] == [found[3].box]  # the replaced face
    # --strict: nothing judged, so every detection on the pixelated face is reported (a replaced face is still one)
    strict = facesafe.verify(out, detector=_Fixed(*found), manifest=manifest, judge_redaction=False).files[0]
    assert [x.box for x in strict.faces] == [f, wide, straddling] and len(strict.synthetic) == 1


def test_a_synthetic_runs_fallback_is_trusted_as_the_redaction_it_records():
    from facesafe._verify import _split_synthesised, _synthetic_masks

    head = "Synthesize(shape='ellipse', grow=1.6, feather=0.0, seed=0, fallback="
    assert _synthetic_masks(head + "None, donor=None)") == (("ellipse", 1.6), ("ellipse", 1.6))
    assert _synthetic_masks(head + "Pixelate(shape='box', grow=1.3, cells=5), donor=None)") == (("ellipse", 1.6), ("box", 1.3))
    assert _synthetic_masks(head + "Pixelate(shape='box', grow=1.3, cells=16), donor=None)")[1] is None  # too fine
    assert _synthetic_masks(head + "Blur(shape='ellipse', grow=1.3, sigma=0.1), donor=None)")[1] is None  # too weak
    assert _synthetic_masks(head + "<function hide at 0x7f>, donor=None)")[1] is None  # unknown: pixels alone
    a, b, c = Box(0, 0, 10, 10), Box(20, 0, 30, 10), Box(40, 0, 50, 10)
    assert _split_synthesised(((a, b, c),), [["pool", "fallback", "off-image"]], 1) == (((a,),), ((b,),))
    # a manifest older than the donors column: when any face fell back, each is judged by the stricter rule
    assert _split_synthesised(((a, b),), None, 1) == ((), ((a, b),))
    assert _split_synthesised(((a, b),), None, 0) == (((a, b),), ())
    with pytest.raises(ValueError, match="donors"):
        _split_synthesised(((a, b),), [["pool"]], 0)


# --------------------------------------------------------------------------- redacted faces the manifest records


class _Fixed:
    """A detector that always answers the same faces (picklable, for any worker)."""

    def __init__(self, *faces: Face) -> None:
        self.faces = faces

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        return self.faces


def _release(tmp_path, astronaut, method, **options):
    if not (tmp_path / "src" / "portrait.png").exists():
        write_image(tmp_path / "src" / "portrait.png", astronaut)
    out, manifest = tmp_path / f"out-{method}", tmp_path / f"{method}.sqlite"
    report = facesafe.anonymize_dir(tmp_path / "src", out, method=method, detector=_Fixed(FACE), workers=0,
                                    manifest=manifest, quiet=True, **options)
    assert report.written == 1 and report.faces == 1
    return out, manifest


@pytest.mark.parametrize("method", ["blur", "pixelate", "fill", "crop"])
def test_a_confident_detection_on_a_face_the_manifest_records_redacted_is_set_apart(tmp_path, astronaut, method):
    out, manifest = _release(tmp_path, astronaut, method)
    # what the thorough detector might answer on a redacted head: the face, a bigger box, a part of it
    on_face = [Face(ASTRONAUT_FACE, 0.65), Face(ASTRONAUT_FACE.expanded(1.25), 0.62), Face(Box(180, 70, 230, 120), 0.7)]
    strict = facesafe.verify(out, detector=_Fixed(*on_face), manifest=manifest, judge_redaction=False)
    result = facesafe.verify(out, detector=_Fixed(*on_face), manifest=manifest)
    if method == "crop":  # the face was cut out of frame: whatever is found in what is kept is reported
        assert result.files[0].size != (512, 512) and len(result.files[0].faces) == 3
        return
    assert not strict.clean  # --strict judges nothing
    assert result.clean and [f.looks for f in result.files[0].redacted] == ["manifest"] * 3
    # a face left beside it (no recorded face there) still fails the check
    left = Face(Box(300, 300, 390, 420), 0.65)  # >= 0.6: no second look (a fixed detector would not answer it)
    flagged = facesafe.verify(out, detector=_Fixed(*on_face, left), manifest=manifest).flagged
    assert [f.box for f in flagged[0].faces] == [left.box]


def test_a_face_only_half_inside_a_recorded_mask_is_reported(tmp_path, astronaut):
    f = ASTRONAUT_FACE
    write_image(tmp_path / "src" / "portrait.png", astronaut)
    half = Face(Box(f.x0, f.y0 - 20, f.x1, f.center[1] - 20), 0.9)  # the run found (and filled) only the top half
    manifest = tmp_path / "m.sqlite"
    facesafe.anonymize_dir(tmp_path / "src", tmp_path / "out", method="fill", detector=_Fixed(half), workers=0,
                           manifest=manifest, quiet=True)
    result = facesafe.verify(tmp_path / "out", detector=_Fixed(Face(f, 0.9)), manifest=manifest)
    assert not result.clean and result.files[0].faces and not result.files[0].redacted


def test_the_manifest_vouches_only_for_its_own_bytes_and_for_strong_redactions(tmp_path, astronaut):
    on_face = _Fixed(Face(ASTRONAUT_FACE, 0.65))
    out, manifest = _release(tmp_path, astronaut, "blur")
    assert facesafe.verify(out, detector=on_face, manifest=manifest).clean
    write_image(out / "portrait.png", astronaut, overwrite=True)  # the original put back: not what the run wrote
    assert not facesafe.verify(out, detector=on_face, manifest=manifest).clean
    # a mosaic too fine to hide a face (16 cells) is not vouched for, even as the run recorded it
    out, manifest = _release(tmp_path, astronaut, "pixelate", cells=16)
    result = facesafe.verify(out, detector=on_face, manifest=manifest)
    assert not result.clean and not result.files[0].redacted
