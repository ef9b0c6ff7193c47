"""``facesafe strip`` and ``facesafe inspect``: folders in, clean mirrors out, one line per problem."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from _dirty import exiftool_tags, leaked_tokens, make_dirty, non_structural

from facesafe import read_image
from facesafe.cli import main


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A source folder: dirty images in every format, in sub-folders, plus a text file.

    Metadata is planted with exiftool when installed, with Pillow otherwise.
    """
    root = tmp_path_factory.mktemp("tree")
    files = make_dirty(root / "build", shutil.which("exiftool"))
    src = root / "src"
    (src / "album" / "deep").mkdir(parents=True)
    for i, (kind, path) in enumerate(sorted(files.items())):
        folder = src / "album" / "deep" if i % 2 else src
        shutil.copy(path, folder / f"{kind.lower()}{path.suffix}")
    (src / "album" / "notes.txt").write_text("meeting notes, not an image")
    return src


def test_strip_mirrors_the_tree_and_leaves_only_structure(tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["strip", str(tree), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "notes.txt: skipped" in err and "Traceback" not in err
    outputs = sorted(p for p in out.rglob("*") if p.is_file())
    expected = sorted(p.relative_to(tree) for p in tree.rglob("*") if p.is_file() and p.suffix != ".txt")
    assert [p.relative_to(out).with_suffix("") for p in outputs] == [p.with_suffix("") for p in expected]
    assert (out / "bmp.png").exists() or (out / "album" / "deep" / "bmp.png").exists()  # BMP becomes PNG
    exiftool = shutil.which("exiftool")
    tags = exiftool_tags(exiftool, outputs) if exiftool else {}
    for path in outputs:
        assert leaked_tokens(path.read_bytes()) == [], path
        if exiftool:
            assert non_structural(tags[path.name]) == {}, path


def test_strip_refuses_out_inside_or_equal_to_a_source(tree, capsys):
    assert main(["strip", str(tree), "--out", str(tree / "album" / "clean")]) == 2
    assert main(["strip", str(tree), "--out", str(tree)]) == 2
    assert main(["strip", str(tree / "jpeg.jpg"), "--out", str(tree)]) == 2
    assert "inside the source folder" in capsys.readouterr().err
    assert not (tree / "album" / "clean").exists()


def test_strip_usage_errors_exit_2(tree, tmp_path):
    assert main(["strip", str(tree)]) == 2  # no --out
    assert main(["strip", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2


def test_max_pixels_option(tree, tmp_path, capsys):
    assert main(["strip", str(tree / "jpeg.jpg"), "--out", str(tmp_path / "o"), "--max-pixels", "100"]) == 1
    err = capsys.readouterr().err
    assert "over the limit of 100" in err and "(--max-pixels)" in err and "max_pixels" not in err
    assert not (tmp_path / "o" / "jpeg.jpg").exists()


def test_existing_outputs_need_overwrite(tree, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "jpeg.jpg").write_bytes(b"already here")
    assert main(["strip", str(tree / "jpeg.jpg"), "--out", str(out)]) == 1
    # the line names the input, then the existing OUTPUT and the option that replaces it
    assert capsys.readouterr().err.splitlines()[0] == f"{tree / 'jpeg.jpg'}: output {out / 'jpeg.jpg'} already exists (use --overwrite to replace it)"
    assert (out / "jpeg.jpg").read_bytes() == b"already here"
    assert main(["strip", str(tree / "jpeg.jpg"), "--out", str(out), "--overwrite", "--quiet"]) == 0
    assert leaked_tokens((out / "jpeg.jpg").read_bytes()) == []
    assert capsys.readouterr().out == ""


def test_a_bad_file_is_one_line_and_exit_1(tree, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    data = (tree / "jpeg.jpg").read_bytes()
    (src / "cut.jpg").write_bytes(data[:-100])
    (src / "empty.png").write_bytes(b"")
    shutil.copy(tree / "jpeg.jpg", src / "good.jpg")
    out = tmp_path / "out"
    assert main(["strip", str(src), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"{src / 'cut.jpg'}: truncated: the image data ends before the end-of-image marker",
        f"{src / 'empty.png'}: named like an image (.png) but its content is an empty file",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg"]  # nothing written for the bad file


def test_two_inputs_for_one_output_get_distinct_names(tree, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(next(tree.rglob("bmp.bmp")), src / "same.bmp")
    shutil.copy(tree / "png.png", src / "same.png")
    out = tmp_path / "out"
    assert main(["strip", str(src), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["same.png", "same~2.png"]  # as anonymize names them
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{src / 'same.bmp'} -> {out / 'same.png'}", f"{src / 'same.png'} -> {out / 'same~2.png'}"]
    # Each output holds its own input's pixels: neither was written over the other.
    assert np.array_equal(read_image(out / "same.png"), read_image(src / "same.bmp"))
    assert np.array_equal(read_image(out / "same~2.png"), read_image(src / "same.png"))


def test_inspect_reports_metadata(tree, tmp_path, capsys):
    assert main(["inspect", str(tree / "jpeg.jpg"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[str(tree / "jpeg.jpg")]
    assert report["exif"]["Artist"].startswith("FSLEAK-") and report["gps"]
    assert main(["inspect", str(tree / "png.png")]) == 0
    text = capsys.readouterr().out
    assert "text.Author: FSLEAK-PngText" in text and "icc: 'FSLEAK-ICCPro'" in text
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    assert main(["inspect", str(bad)]) == 1
    assert str(bad) in capsys.readouterr().err


def test_damaged_exif_is_one_warning_line_and_still_cleaned(tmp_path, capsys):
    import io
    import struct

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(buf, "JPEG")
    clean = buf.getvalue()
    garbage = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\xde\xad" * 20
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jpg").write_bytes(clean[:2] + b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage + clean[2:])
    assert main(["strip", str(src), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"{src / 'a.jpg'}: damaged EXIF block") for line in err)
    assert all(line.startswith(str(src / "a.jpg")) or line.startswith("facesafe strip:") for line in err if line)
    assert (tmp_path / "out" / "a.jpg").read_bytes().count(b"\xde\xad") == 0


def test_a_file_named_twice_is_stripped_once(tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["strip", str(tree), str(tree / "jpeg.jpg"), str(tree / "album" / ".." / "png.png"), "--out", str(out)]) == 0
    outputs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "jpeg.jpg" in outputs and not any("~" in name for name in outputs)
    assert len(outputs) == len([p for p in tree.rglob("*") if p.is_file() and p.suffix != ".txt"])
