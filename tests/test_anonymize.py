import pickle

import numpy as np
import pytest
from _fakes import FailingDetector, Invert, KeepAbove, KeepAll, RedDetector, draw_face

from facesafe import Anonymizer, Box, Face, Fill, MissingExtraError, Synthesize, anonymize
from facesafe._io import Picture, encode_image, load_image


def _scene(h=120, w=160, faces=((20, 30, 24),)):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 200, (h, w, 3), dtype=np.uint8)
    for x, y, s in faces:
        draw_face(image, x, y, s)
    return image


def test_anonymize_fills_faces_and_leaves_the_rest():
    image = _scene()
    before = image.copy()
    result = anonymize(image, method="fill", detector=RedDetector(), color=(0, 255, 0), shape="box", grow=1.0)
    assert np.array_equal(image, before), "input mutated"
    assert result.faces == (Face(Box(20, 30, 44, 54), 0.9, detector="red"),)
    assert (result.image[30:54, 20:44] == (0, 255, 0)).all()
    outside = np.ones(image.shape[:2], bool)
    outside[30:54, 20:44] = False
    assert np.array_equal(result.image[outside], image[outside])
    assert result.method == "fill"


def test_unknown_method_names_the_parameter():
    with pytest.raises(ValueError, match="method"):
        anonymize(_scene(), method="smudge", detector=RedDetector())


def test_options_need_a_method_name():
    with pytest.raises(TypeError, match="options"):
        Anonymizer(method=Fill(), detector=RedDetector(), color=(1, 2, 3))


def test_detector_failure_propagates_never_passes_through():
    with pytest.raises(RuntimeError, match="exploded"):
        anonymize(_scene(), detector=FailingDetector())


def test_rejects_non_rgb_arrays():
    with pytest.raises(ValueError, match="image"):
        anonymize(np.zeros((10, 10), np.uint8), detector=RedDetector())


def test_picture_keeps_alpha_and_redacts_rgb_under_it():
    image = _scene()
    alpha = np.zeros(image.shape[:2], np.uint8)  # fully transparent: RGB must still be redacted
    picture = load_image(encode_image(Picture((image,), (alpha,), "PNG"), format="PNG"))
    with Anonymizer(method="fill", detector=RedDetector(), shape="box", grow=1.0) as anonymizer:
        result = anonymizer.anonymize_picture(picture)
    assert result.picture.alpha is not None and np.array_equal(result.picture.alpha[0], alpha)
    assert (result.picture.frames[0][30:54, 20:44] == 0).all()


def test_animation_frames_each_redacted_and_neighbours_covered():
    frames = [_scene(faces=((10 + 30 * i, 30, 20),)) for i in range(3)]
    picture = Picture(tuple(frames), None, "GIF", durations=(100, 100, 100), loop=0)
    with Anonymizer(method="fill", detector=RedDetector(), shape="box", grow=1.0) as anonymizer:
        result = anonymizer.anonymize_picture(picture)
    out = result.picture.frames
    assert len(out) == 3 and result.face_count == 3
    # frame 1 also hides the faces of frames 0 and 2, in case the detector missed them there
    for x in (10, 40, 70):
        assert (out[1][30:50, x : x + 20] == 0).all()
    assert not (out[0][30:50, 70:90] == 0).all()  # frame 2's face is not a neighbour of frame 0


def test_crop_cuts_every_frame_and_alpha_alike():
    image = _scene(h=100, w=200, faces=((150, 40, 30),))
    picture = Picture((image, image.copy()), (np.full((100, 200), 255, np.uint8),) * 2, "WEBP", durations=(50, 50))
    with Anonymizer(method="crop", detector=RedDetector()) as anonymizer:
        result = anonymizer.anonymize_picture(picture)
    assert result.region is not None
    shapes = {f.shape for f in result.picture.frames} | {a.shape + (3,) for a in result.picture.alpha}
    assert len(shapes) == 1
    for frame in result.picture.frames:
        assert not np.all(frame == (255, 0, 0), axis=-1).any(), "a face survived the crop"


def test_anonymizer_pickles_its_settings_not_its_models():
    anonymizer = Anonymizer(method="pixelate", preset="fast")
    anonymizer._detector = object()  # stands for loaded models
    clone = pickle.loads(pickle.dumps(anonymizer))
    assert clone._detector is None and clone.method == "pixelate" and clone.preset == "fast"


def test_anonymize_bytes_output_has_only_pixels():
    import io

    from PIL import Image

    image = _scene()
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x013B] = "Secret Artist"
    Image.fromarray(image).save(buffer, "JPEG", exif=exif.tobytes(), comment=b"secret comment")
    out = Anonymizer(method="fill", detector=RedDetector())(buffer.getvalue())
    assert b"Secret Artist" not in out and b"secret comment" not in out and b"Exif" not in out
    assert Image.open(io.BytesIO(out)).format == "JPEG"


def _turned_mesher(image, faces):
    """A FaceMesh stand-in that finds every face turned 75 degrees (a profile: synthetic falls back)."""
    import dataclasses
    import math

    from facesafe._redact._donor import mean_face

    a = math.radians(75)
    turn = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    shape = (mean_face() @ turn.T)[:, :2]
    return [dataclasses.replace(f, mesh=shape * f.box.width * 0.45 + f.box.center) for f in faces]


def test_faces_that_fall_back_are_reported():
    image = _scene(faces=((20, 30, 12), (60, 20, 40)))  # small: placed by its box; turned: falls back
    result = anonymize(image, method=Synthesize(mesher=_turned_mesher, min_size=30), detector=RedDetector())
    assert len(result.faces) == 2
    turned = [i for i, f in enumerate(result.faces) if f.box.width > 30]
    assert len(turned) == 1 and result.fell_back == tuple(turned)
    assert not (result.image[20:60, 60:100] == image[20:60, 60:100]).all(), "a fallen-back face was left untouched"
    assert not (result.image[30:42, 20:32] == image[30:42, 20:32]).all(), "a fallen-back face was left untouched"


def test_crop_without_room_falls_back_for_every_face():
    image = _scene(h=60, w=60, faces=((10, 10, 40),))
    result = anonymize(image, method="crop", detector=RedDetector())
    assert result.region is None and result.fell_back == (0,)
    assert result.image.shape == image.shape


# --- the redaction contract: a method written only against facesafe.Redaction ---------------------


def test_a_protocol_only_redaction_works_and_reports_its_fallbacks():
    image = _scene(faces=((20, 30, 24), (100, 60, 8)))
    result = anonymize(image, method=Invert(min_size=10), detector=RedDetector())
    assert len(result.faces) == 2
    assert result.fell_back == (1,) and result.region is None and result.method == "Invert"
    assert (result.image[30:54, 20:44] == 255 - image[30:54, 20:44]).all()
    assert (result.image[60:68, 100:108] == 0).all()
    outside = np.ones(image.shape[:2], bool)
    outside[30:54, 20:44] = outside[60:68, 100:108] = False
    assert np.array_equal(result.image[outside], image[outside])
    assert Anonymizer(method=Invert(3), detector=RedDetector()).settings()["redaction"] == "Invert(min_size=3)"


def test_a_protocol_only_redaction_can_cut_the_frame():
    image = _scene(faces=((20, 50, 24),))
    result = anonymize(image, method=KeepAbove(), detector=RedDetector())
    assert result.region == Box(0, 0, 160, 50) and result.fell_back == ()
    np.testing.assert_array_equal(result.image, image[:50])


def test_a_region_that_keeps_a_face_is_refused():
    from facesafe import RedactionError

    with pytest.raises(RedactionError, match="holds part of the face"):
        anonymize(_scene(), method=KeepAll(), detector=RedDetector())


def test_plain_callables_are_redactions_and_may_not_change_the_size():
    from facesafe import RedactionError

    image = _scene()
    result = anonymize(image, method=lambda im, faces: 255 - im, detector=RedDetector())
    np.testing.assert_array_equal(result.image, 255 - image)
    assert result.fell_back == ()
    with pytest.raises(RedactionError, match="keeps the size"):
        anonymize(image, method=lambda im, faces: im[:10], detector=RedDetector())
    with pytest.raises(TypeError, match="method"):
        Anonymizer(method=42)


def test_fell_back_is_per_frame_indices_into_that_frames_faces():
    # frame 1's small face falls back; frames 0 and 2 also hide it (their neighbour's face), yet
    # only the frame where it was found reports it, as an index into that frame's faces
    frames = (_scene(faces=((20, 30, 24),)), _scene(faces=((20, 30, 24), (100, 60, 8))), _scene(faces=()))
    picture = Picture(frames, None, "GIF")
    with Anonymizer(method=Invert(min_size=10), detector=RedDetector()) as anonymizer:
        result = anonymizer.anonymize_picture(picture)
    assert [len(f) for f in result.faces] == [1, 2, 0]
    assert result.fell_back == ((), (1,), ()) and result.fell_back_count == 1
    assert (result.picture.frames[0][60:68, 100:108] == 0).all(), "a neighbour frame's face is hidden too"


def test_crop_cuts_every_frame_alike_and_reports_no_fallback():
    frames = (_scene(faces=((120, 30, 24),)), _scene(faces=((120, 60, 24),)))
    with Anonymizer(method="crop", detector=RedDetector()) as anonymizer:
        result = anonymizer.anonymize_picture(Picture(frames, None, "GIF"))
    assert result.region is not None and result.fell_back == ((), ())
    rows, cols = result.region.to_slices()
    for before, after in zip(frames, result.picture.frames, strict=True):
        np.testing.assert_array_equal(after, before[rows, cols])


# --- sizes: width and height by keyword, on a non-square image ---------------------------------------


def test_regions_land_where_the_face_is_on_a_non_square_image():
    from facesafe import face_mask

    image = _scene(h=40, w=160, faces=((120, 8, 20),))  # wide: a swapped size would misplace or clip it
    face = Face(Box(120, 8, 140, 28))
    mask = face_mask([face], width=160, height=40, shape="box", grow=1.0)
    assert mask.shape == (40, 160) and mask[8:28, 120:140].min() == 1 and mask.sum() == 20 * 20
    result = anonymize(image, method="fill", detector=RedDetector(), shape="box", grow=1.0, color=(0, 255, 0))
    changed = np.any(result.image != image, axis=-1)
    assert np.array_equal(changed, mask > 0)
    assert Box(100, -5, 170, 30).clipped(width=160, height=40) == Box(100, 0, 160, 30)
    with pytest.raises(TypeError):
        Box(0, 0, 1, 1).clipped(160, 40)  # keyword-only: a swap cannot happen silently
    with pytest.raises(TypeError):
        face_mask([face], 160, 40)
def test_synthetic_without_the_extra_fails_at_once_naming_it(without_facemesh):
    # the built-in detector gives no FaceMesh points, so MediaPipe would be needed for every face
    for make in (lambda: Anonymizer(method="synthetic"), lambda: anonymize(_scene(), method="synthetic")):
        with pytest.raises(MissingExtraError, match=r"method='synthetic' needs MediaPipe.*pip install 'facesafe\[synthetic\]'") as info:
            make()
        assert info.value.extra == "synthetic"
        assert isinstance(info.value, ImportError)
    # a detector of one's own may fill Face.mesh itself: the error comes only when a face needs meshing
    anonymizer = Anonymizer(method="synthetic", detector=RedDetector())
    assert np.array_equal(anonymizer.anonymize(_scene(faces=())).image, _scene(faces=()))
    with pytest.raises(MissingExtraError, match=r"Synthesize without mesher= needs MediaPipe"):
        anonymizer.anonymize(_scene(faces=((20, 30, 40),)))


def test_a_preset_object_builds_the_detector_and_is_recorded_by_its_fields():
    import dataclasses

    from facesafe import PRESETS

    turned = dataclasses.replace(PRESETS["fast"], orient=not PRESETS["fast"].orient)
    anonymizer = Anonymizer(preset=turned)
    assert anonymizer.preset == "fast"  # the name, as manifests and reports show it
    setting = anonymizer.settings()["preset"]
    assert setting["orient"] is turned.orient and setting["name"] == "fast"  # not "fast": it gives other outputs
    assert Anonymizer(preset=PRESETS["fast"]).settings()["preset"] == "fast" == Anonymizer(preset="fast").settings()["preset"]
    copy = pickle.loads(pickle.dumps(anonymizer))
    try:
        assert copy.detector.preset == turned  # the detector is built with the changed preset, in a worker too
    finally:
        copy.close()
    with pytest.raises(TypeError, match="preset"):
        Anonymizer(preset=3)
