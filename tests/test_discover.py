"""facesafe._discover: inputs found by content, relative paths, and where outputs may not go."""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np
import pytest

from facesafe import encode_image
from facesafe._discover import claim_outputs, discover, output_rel, refuse_out_inside


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "src"
    (src / "b" / "c").mkdir(parents=True)
    pixels = np.zeros((4, 4, 3), np.uint8)
    (src / "z.jpg").write_bytes(encode_image(pixels, format="JPEG"))
    (src / "b" / "c" / "scan").write_bytes(encode_image(pixels, format="BMP"))  # no extension
    (src / "b" / "notes.txt").write_text("hello")
    (src / "b" / "empty.jpg").write_bytes(b"")
    return src


def test_discover_walks_sorted_and_sniffs_content(tree):
    found = [(f.rel.as_posix(), f.format, f.status) for f in discover([tree])]
    assert found == [  # a folder's files (sorted) before its sub-folders (sorted)
        ("z.jpg", "JPEG", "image"),
        ("b/empty.jpg", None, "failed"),
        ("b/notes.txt", None, "skipped"),
        ("b/c/scan", "BMP", "image"),
    ]
    path, rel = next(iter(discover([tree / "z.jpg"])))  # a file source: rel is its name
    assert path == tree / "z.jpg" and rel == PurePosixPath("z.jpg")


def test_missing_source_is_a_failure(tmp_path):
    (found,) = discover([tmp_path / "gone"])
    assert found.status == "failed" and "no such file" in found.reason


@pytest.mark.parametrize("out", ["src", "src/b", "src/b/new"])
def test_out_inside_or_equal_to_a_source_is_refused(tree, out):
    with pytest.raises(ValueError, match="out"):
        refuse_out_inside([tree], tree.parent / out)
    with pytest.raises(ValueError, match="out"):
        list(discover([tree], tree.parent / out))


def test_out_beside_a_source_is_fine_but_not_a_file_sources_folder(tree):
    refuse_out_inside([tree], tree.parent / "out")
    refuse_out_inside([tree / "z.jpg"], tree / "clean")
    with pytest.raises(ValueError, match="replace inputs"):
        refuse_out_inside([tree / "z.jpg"], tree)


def test_output_names_and_collisions():
    assert output_rel(PurePosixPath("a/scan.bmp"), "PNG") == PurePosixPath("a/scan.png")
    assert output_rel(PurePosixPath("IMG.JPEG"), "JPEG") == PurePosixPath("IMG.JPEG")
    assert output_rel(PurePosixPath("photo.v2"), "JPEG") == PurePosixPath("photo.v2.jpg")
    claim = claim_outputs()
    assert claim(PurePosixPath("a/x.png"), "first") is None
    assert claim(PurePosixPath("A/X.PNG"), "second") == "first"
