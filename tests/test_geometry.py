import math

import numpy as np
import pytest

from facesafe import Box, Face


def test_box_rejects_inverted_and_nonfinite():
    with pytest.raises(ValueError, match="x0 <= x1"):
        Box(10, 0, 5, 5)
    with pytest.raises(ValueError, match="finite"):
        Box(0, 0, math.nan, 5)


def test_expanded_scales_about_centre_and_adds_margin():
    b = Box(10, 20, 30, 60).expanded(1.5, margin=1)
    assert b == Box(4.0, 9.0, 36.0, 71.0)
    assert b.center == Box(10, 20, 30, 60).center


def test_clipped_keeps_inside_and_handles_outside():
    assert Box(-5, -5, 20, 20).clipped(width=10, height=8) == Box(0, 0, 10, 8)
    outside = Box(50, 50, 60, 60).clipped(width=10, height=10)
    assert outside.area == 0


def test_to_slices_rounds_outwards_and_reaches_last_row_and_column():
    rows, cols = Box(0.5, 0.5, 9.2, 9.9).to_slices(width=10, height=10)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 10, 0, 10)
    image = np.zeros((10, 10), bool)
    image[Box(7.1, 7.1, 12, 12).to_slices(width=10, height=10)] = True
    assert image[9, 9] and image[7, 7] and not image[6, 6]


def test_iou():
    a, b = Box(0, 0, 10, 10), Box(5, 0, 15, 10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(Box(20, 20, 30, 30)) == 0


def test_face_mesh_is_read_only_and_validated():
    face = Face(Box(0, 0, 10, 10), mesh=np.zeros((478, 2)))
    assert not face.mesh.flags.writeable
    with pytest.raises(ValueError, match="mesh"):
        Face(Box(0, 0, 1, 1), mesh=np.zeros((3, 3)))
    with pytest.raises(TypeError, match="box"):
        Face((0, 0, 1, 1))  # type: ignore[arg-type]


def test_face_landmark_lookup():
    face = Face(Box(0, 0, 10, 10), landmarks=(("nose", 5.0, 6.0),))
    assert face.landmark("nose") == (5.0, 6.0)
    assert face.landmark("left_eye") is None


def test_face_kind_defaults_to_face_and_is_validated():
    assert Face(Box(0, 0, 1, 1)).kind == "face"
    plate = Face(Box(0, 0, 4, 1), kind="plate")
    assert plate.kind == "plate" and plate != Face(Box(0, 0, 4, 1))
    with pytest.raises(ValueError, match="kind"):
        Face(Box(0, 0, 1, 1), kind="car")
