"""Redactions, masks and the re-identification audit (fast: small images, no ../shared)."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools

import numpy as np
import pytest
from conftest import ASTRONAUT_FACE

import facesafe
from facesafe import REDACTIONS, Blur, Box, Crop, Face, Fill, Pixelate, face_mask
from facesafe._redact import parse_color
from facesafe._redact._kernels import largest_free_rectangle
from facesafe.audit import roc_auc

ALL = sorted(REDACTIONS.items())
SAME_SHAPE = [(n, c) for n, c in ALL if n != "crop"]


def textured(height: int = 60, width: int = 80, channels: int = 3, seed: int = 1) -> np.ndarray:
    """A read-only random image: every redaction visibly changes any region of it."""
    image = np.random.default_rng(seed).integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    image.setflags(write=False)
    return image


def core(box: Box) -> tuple[slice, slice]:
    """The central 60% x 60% of a box (what the recall scorer checks)."""
    return box.expanded(0.6).to_slices()


FACE = Face(Box(20, 15, 44, 41))  # inside a 60 x 80 image with room around it


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in grey levels."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_lists_every_method_and_is_read_only():
    assert {"blur", "pixelate", "fill", "crop"} <= set(REDACTIONS)
    with pytest.raises(TypeError):
        REDACTIONS["mine"] = Blur  # type: ignore[index]
    for name, cls in ALL:
        assert isinstance(cls(), facesafe.Redaction), name
        assert {"shape", "grow", "feather"} <= {f.name for f in dataclasses.fields(cls)}, name


@pytest.mark.parametrize("name,cls", ALL)
def test_does_not_mutate_input_and_is_deterministic(name, cls):
    image = textured()
    before = image.copy()
    first = cls()(image, [FACE])
    second = cls()(image, [FACE])
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.uint8
    assert not np.shares_memory(first, image)


@pytest.mark.parametrize("name,cls", SAME_SHAPE)
def test_changes_only_the_grown_faces_and_hides_each_core(name, cls):
    image = textured()
    faces = [FACE, Face(Box(55, 5, 70, 22))]
    out = cls()(image, faces)
    assert out.shape == image.shape and out.dtype == image.dtype
    inside = face_mask(faces, width=80, height=60) > 0
    np.testing.assert_array_equal(out[~inside], image[~inside])
    for face in faces:
        assert changed(out[core(face.box)], image[core(face.box)]) > 40, name


@pytest.mark.parametrize("name,cls", ALL)
def test_no_faces_leaves_the_image_equal(name, cls):
    image = textured()
    np.testing.assert_array_equal(cls()(image, []), image)


@pytest.mark.parametrize("name,cls", SAME_SHAPE)
def test_grayscale_and_alpha_keep_shape_and_alpha(name, cls):
    gray = textured(channels=1)[:, :, 0]
    out = cls()(gray, [FACE])
    assert out.shape == gray.shape
    assert changed(out[core(FACE.box)], gray[core(FACE.box)]) > 40
    rgba = textured(channels=4)
    out = cls()(rgba, [FACE])
    assert out.shape == rgba.shape
    np.testing.assert_array_equal(out[:, :, 3], rgba[:, :, 3])
    assert changed(out[core(FACE.box)][:, :, :3], rgba[core(FACE.box)][:, :, :3]) > 40


@pytest.mark.parametrize("name,cls", SAME_SHAPE)
def test_overlapping_faces_are_both_hidden(name, cls):
    image = textured()
    faces = [Face(Box(20, 15, 44, 41)), Face(Box(32, 20, 56, 46))]
    out = cls()(image, faces)
    for face in faces:
        assert changed(out[core(face.box)], image[core(face.box)]) > 40


@pytest.mark.parametrize("name,cls", ALL)
def test_one_pixel_wide_image(name, cls):
    image = textured(40, 1)
    out = cls()(image, [Face(Box(0, 10, 1, 20))])
    assert out.dtype == np.uint8
    if name != "crop":
        assert out.shape == image.shape
        assert changed(out[12:18], image[12:18]) > 0
        np.testing.assert_array_equal(out[:3], image[:3])
    else:
        assert out.shape[1] == 1 and out.shape[0] >= 1


@pytest.mark.parametrize("shape", ["box", "ellipse", "outline"])
@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_face_touching_a_border_covers_the_last_row_and_column(shape, corner):
    h, w = 50, 70
    x0 = 0 if "left" in corner else w - 12
    y0 = 0 if "top" in corner else h - 12
    face = Face(Box(x0 - 4.5, y0 - 4.5, x0 + 16.5, y0 + 16.5))
    out = Fill(color=(255, 0, 255), shape=shape, grow=1.0)(textured(h, w), [face])
    row = 0 if "top" in corner else h - 1
    col = 0 if "left" in corner else w - 1
    # the border row and column through the face's centre are filled up to the edge
    cx, cy = (int(v) for v in face.box.center)
    cx, cy = min(max(cx, 0), w - 1), min(max(cy, 0), h - 1)
    assert (out[row, cx] == (255, 0, 255)).all()
    assert (out[cy, col] == (255, 0, 255)).all()


@pytest.mark.parametrize("name,cls", SAME_SHAPE)
def test_faces_across_the_corners_are_hidden_up_to_the_edge(name, cls):
    image = textured(50, 70)
    faces = [Face(Box(-8, -8, 12, 12)), Face(Box(58, -8, 78, 12)), Face(Box(-8, 38, 12, 58)), Face(Box(58, 38, 78, 58))]
    out = cls()(image, faces)
    for rows, cols in [(slice(0, 4), slice(0, 4)), (slice(0, 4), slice(66, 70)), (slice(46, 50), slice(0, 4)), (slice(46, 50), slice(66, 70))]:
        assert changed(out[rows, cols], image[rows, cols]) > 40, (name, rows, cols)
    inside = face_mask(faces, width=70, height=50) > 0
    np.testing.assert_array_equal(out[~inside], image[~inside])


# --- masks ----------------------------------------------------------------------------------------


def test_ellipse_reaches_the_grown_box_edges_and_lies_inside_the_box():
    face = Face(Box(10.3, 8.6, 30.2, 33.9))
    ellipse = face_mask([face], width=50, height=50, shape="ellipse") > 0
    box = face_mask([face], width=50, height=50, shape="box") > 0
    rows, cols = face.box.expanded(1.3).to_slices(width=50, height=50)
    assert not (ellipse & ~box).any()
    assert box[rows, cols].all() and box.sum() == (rows.stop - rows.start) * (cols.stop - cols.start)
    ys, xs = np.nonzero(ellipse)
    assert (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1) == (rows.start, rows.stop, cols.start, cols.stop)
    assert ellipse.sum() < 0.85 * box.sum()  # a real ellipse, corners left out


def test_outline_is_the_grown_hull_of_the_mesh_and_falls_back_to_ellipse():
    mesh = np.array([[20, 10], [30, 20], [20, 30], [10, 20], [20, 20]], dtype=float)  # a diamond
    face = Face(Box(10, 10, 30, 30), mesh=mesh)
    outline = face_mask([face], width=40, height=40, shape="outline", grow=1.0) > 0
    assert outline[20, 10] and outline[20, 29] and outline[10, 20] and outline[29, 20]
    assert not outline[11, 11] and not outline[28, 28]  # the diamond's corners are not the box's
    grown = face_mask([face], width=40, height=40, shape="outline", grow=1.5) > 0
    assert grown[20, 6] and not outline[20, 6]
    no_mesh = Face(Box(10, 10, 30, 30))
    np.testing.assert_array_equal(
        face_mask([no_mesh], width=40, height=40, shape="outline"), face_mask([no_mesh], width=40, height=40, shape="ellipse")
    )


@pytest.mark.parametrize("shape", ["box", "ellipse", "outline"])
def test_feather_only_adds_coverage(shape):
    mesh = np.array([[20, 8], [33, 20], [20, 34], [8, 20]], dtype=float)
    faces = [Face(Box(8, 8, 34, 34), mesh=mesh)]
    hard = face_mask(faces, width=50, height=50, shape=shape)
    soft = face_mask(faces, width=50, height=50, shape=shape, feather=0.3)
    assert soft.dtype == np.float32 and soft.min() >= 0.0 and soft.max() <= 1.0
    assert (soft >= hard).all()
    assert (soft[hard == 1] == 1).all()
    ramp = (soft > 0) & (soft < 1)
    assert ramp.sum() > 20 and not (ramp & (hard == 1)).any()


def test_feathered_redaction_keeps_the_hard_region_fully_redacted():
    image = textured()
    out = Fill(feather=0.5)(image, [FACE])
    hard = face_mask([FACE], width=80, height=60) == 1
    assert (out[hard] == 0).all()
    soft = face_mask([FACE], width=80, height=60, feather=0.5)
    assert ((soft > 0) & ~hard).any()
    np.testing.assert_array_equal(out[soft == 0], image[soft == 0])


def test_face_outside_the_image_changes_nothing():
    image = textured()
    away = Face(Box(200, 200, 230, 230))  # under Synthesize's min_size: no FaceMesh (an extra) needed
    for cls in REDACTIONS.values():
        np.testing.assert_array_equal(cls()(image, [away]), image)


# --- methods --------------------------------------------------------------------------------------


def test_blur_strength_scales_with_the_face_and_noise_is_seeded():
    image = textured(120, 120)
    small, large = Face(Box(10, 10, 30, 30)), Face(Box(50, 50, 110, 110))
    out = Blur(noise=0.0)(image, [small, large])
    # both faces become smooth: neighbour differences collapse compared with the texture
    for face in (small, large):
        region = out[core(face.box)].astype(float)
        assert np.abs(np.diff(region, axis=1)).mean() < 0.2 * np.abs(np.diff(image[core(face.box)].astype(float), axis=1)).mean()
    a = Blur(seed=1)(image, [large])
    assert not np.array_equal(a, Blur(seed=2)(image, [large]))
    assert changed(a, Blur(noise=0.0, seed=1)(image, [large])) > 0


def test_pixelate_has_the_asked_number_of_cells_across_the_face():
    image = textured(100, 100)
    face = Face(Box(20, 20, 80, 80))
    out = Pixelate(cells=6, noise=0.0, shape="box", grow=1.0)(image, [face])
    for k in range(6):  # six 10 x 10 cells across, each its cell's mean colour
        cell = (slice(50, 60), slice(20 + 10 * k, 30 + 10 * k))
        expected = np.rint(image[cell].reshape(-1, 3).mean(axis=0))
        assert (out[cell] == expected).all()


def test_fill_accepts_hex_and_tuples():
    assert Fill(color="00ff80").color == (0, 255, 128)
    out = Fill(color="#FF00FF")(textured(), [FACE])
    assert (out[core(FACE.box)] == (255, 0, 255)).all()
    assert parse_color("0a0B0c") == (10, 11, 12)
    assert parse_color([1, 2, 3]) == (1, 2, 3)


# --- crop -----------------------------------------------------------------------------------------


def test_crop_keeps_the_largest_face_free_rectangle():
    image = textured(100, 200)
    face = Face(Box(20, 30, 40, 60))  # grown x1.3: 17..43 x 25.5..64.5
    crop = Crop(min_share=0.1)
    box = crop.region([face], width=200, height=100)
    assert box == Box(43, 0, 200, 100)
    out = crop(image, [face])
    np.testing.assert_array_equal(out, image[:, 43:])


def test_crop_never_keeps_any_grown_face():
    rng = np.random.default_rng(3)
    kept = 0
    for _ in range(30):
        h, w = rng.integers(20, 120, size=2)
        faces = [Face(Box.from_xywh(*rng.uniform(-10, 100, 2), *rng.uniform(1, 40, 2))) for _ in range(rng.integers(1, 5))]
        box = Crop(min_share=0.0).region(faces, width=int(w), height=int(h))
        if box is None:
            continue
        kept += 1
        for face in faces:
            assert face.box.expanded(1.3).clipped(width=int(w), height=int(h)).intersection(box) == 0
    assert kept >= 10, f"only {kept} of 30 random layouts kept a rectangle: the check above ran too rarely"


def test_crop_falls_back_when_the_free_region_is_too_small():
    image = textured()
    face = Face(Box(25, 15, 55, 45))
    assert Crop(min_share=0.9).region([face], width=80, height=60) is None
    out = Crop(min_share=0.9, fallback=Fill(color=(255, 0, 255)))(image, [face])
    assert out.shape == image.shape and (out[core(face.box)] == (255, 0, 255)).all()
    default = Crop(min_share=0.9, grow=1.5)
    assert default.fallback == Blur(grow=1.5)
    np.testing.assert_array_equal(default(image, [face]), Blur(grow=1.5)(image, [face]))
    everything = Face(Box(-10, -10, 100, 100))
    assert Crop(min_share=0.0).region([everything], width=80, height=60) is None


def test_largest_free_rectangle_matches_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(25):
        h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        blocked = []
        for _ in range(rng.integers(0, 4)):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            blocked.append((x0, y0, int(rng.integers(x0 + 1, w + 1)), int(rng.integers(y0 + 1, h + 1))))
        grid = np.ones((h, w), bool)
        for x0, y0, x1, y1 in blocked:
            grid[y0:y1, x0:x1] = False
        best = max(
            ((x1 - x0) * (y1 - y0) for x0, x1 in itertools.combinations(range(w + 1), 2)
             for y0, y1 in itertools.combinations(range(h + 1), 2) if grid[y0:y1, x0:x1].all()),
            default=0,
        )
        rect = largest_free_rectangle(blocked, width=w, height=h)
        area = 0 if rect is None else (rect[2] - rect[0]) * (rect[3] - rect[1])
        assert area == best
        if rect is not None:
            assert grid[rect[1] : rect[3], rect[0] : rect[2]].all()


# --- argument errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,param",
    [
        (lambda: Blur(grow=0.9), "grow"),
        (lambda: Fill(feather=-0.1), "feather"),
        (lambda: Pixelate(shape="circle"), "shape"),
        (lambda: Blur(sigma=0), "sigma"),
        (lambda: Blur(noise=-1), "noise"),
        (lambda: Pixelate(cells=0), "cells"),
        (lambda: Fill(color="zzzzzz"), "color"),
        (lambda: Fill(color=(0, 0, 256)), "color"),
        (lambda: Crop(min_share=1.5), "min_share"),
        (lambda: face_mask([], width=10, height=10, grow=0.5), "grow"),
    ],
)
def test_parameter_errors_name_the_parameter(make, param):
    with pytest.raises(ValueError, match=param):
        make()


def test_image_errors_name_the_image():
    with pytest.raises(TypeError, match="image"):
        Blur()(np.zeros((4, 4, 3), dtype=np.float32), [])
    with pytest.raises(TypeError, match="faces"):
        Fill()(textured(), [Box(0, 0, 1, 1)])


# --- the audit -----------------------------------------------------------------------------------------


def test_roc_auc():
    assert roc_auc(np.array([3, 2, 1, 0]), np.array([1, 1, 0, 0])) == 1.0
    assert roc_auc(np.array([0, 1, 2, 3]), np.array([1, 1, 0, 0])) == 0.0
    assert roc_auc(np.ones(6), np.array([1, 0, 1, 0, 1, 0])) == 0.5
    assert np.isnan(roc_auc(np.ones(3), np.ones(3)))


def test_reidentification_on_the_astronaut(astronaut):
    pytest.importorskip("dlib")
    if importlib.util.find_spec("face_recognition_models") is None:  # found, not imported (see _reid._dlib)
        pytest.skip("face_recognition_models is not installed")
    from facesafe.audit import enrol, reidentification

    enrolment = enrol({"astronaut": [astronaut, np.ascontiguousarray(astronaut[:, ::-1])]})
    assert len(enrolment.probes) == 1 and enrolment.skipped == 0
    assert enrolment.probes[0].box.iou(Box(512 - ASTRONAUT_FACE.x1, ASTRONAUT_FACE.y0, 512 - ASTRONAUT_FACE.x0, ASTRONAUT_FACE.y1)) > 0.4
    original = reidentification(enrolment)
    assert (original.rank1, original.linkability, original.probes) == (1.0, 1.0, 1)
    assert original.distances == (0.0,)
    filled = reidentification(enrolment, Fill())
    assert filled.method == "fill" and filled.linkability == 0.0
    assert len(filled.distances) == 1 and filled.distances[0] >= 0.6  # the probe lies beyond the tolerance
    cropped = reidentification(enrolment, Crop())  # mapped back onto a canvas
    assert cropped.linkability == 0.0
    parrot = reidentification(enrolment, Fill(), gallery="redacted", landmarks="redacted")
    assert (parrot.gallery, parrot.landmarks, parrot.probes) == ("redacted", "redacted", 1)
    with pytest.raises(ValueError, match="gallery"):
        reidentification(enrolment, Fill(), gallery="clear")


def test_audit_without_dlib_names_the_extra(monkeypatch, astronaut):
    import sys

    from facesafe.audit import enrol

    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib -> ImportError
    with pytest.raises(ImportError, match=r"facesafe\[audit\]"):
        enrol({"astronaut": [astronaut]})
    monkeypatch.undo()
    pytest.importorskip("dlib")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # the models package is not there
    with pytest.raises(ImportError, match=r"facesafe\[audit\]' \(missing: face_recognition_models\)"):
        enrol({"astronaut": [astronaut]})


def test_rank1_shares_ties_instead_of_crediting_the_first_gallery_face():
    from types import SimpleNamespace

    from facesafe.audit._reid import _score

    enrolment = SimpleNamespace(
        people=("a", "b"),
        probes=(SimpleNamespace(person="a", descriptor=np.ones(2)), SimpleNamespace(person="a", descriptor=np.ones(2))),
    )
    identical = np.zeros((2, 2))  # every probe equally far from both gallery faces
    rank1, auc, linkability = _score(enrolment, identical, np.zeros((2, 2)), 0.6)
    assert (rank1, auc, linkability) == (0.5, 0.5, 0.0)
