"""Targets: parsing, the detector kinds they need, and which redaction each kind gets."""

from __future__ import annotations

import numpy as np
import pytest

from facesafe import Blur, Box, Crop, Face, Fill
from facesafe._targets import TARGETS, parse_targets, redact_by_kind, text_kinds


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
