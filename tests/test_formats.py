"""Images are never "not an image": every container facesafe recognises is anonymised or fails, by name.

Tiny files of each format are built here (Pillow writes PNM, ICO, JPEG 2000
and QOI; PSD, DNG and PICT headers are composed byte by byte; JPEG XL comes
from libjxl's encoder) and run through the CLI.
"""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import subprocess
import sys
from contextlib import closing

import numpy as np
import pytest
from _dirty import non_structural
from _fakes import RedDetector, draw_face, reddish
from PIL import Image

from facesafe import anonymize_dir, load_image, read_image
from facesafe._decoders import _jxl_module, jxl_size
from facesafe._errors import ImageTooLargeError, UnsupportedImageError
from facesafe._formats import HEAD_BYTES, classify, identify
from facesafe.cli import main

TOKEN = b"FSLEAK-format"


def _photo(width: int = 48, height: int = 40) -> np.ndarray:
    rng = np.random.default_rng(width * height)
    image = rng.integers(40, 200, (height, width, 3), dtype=np.uint8)
    return draw_face(image, 8, 8, 12)


def _pillow(image: np.ndarray, fmt: str, mode: str = "RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).convert(mode).save(buffer, fmt, **options)
    return buffer.getvalue()


def _pnm(image: np.ndarray) -> bytes:
    """A binary PPM with a comment in its header (metadata of a kind)."""
    height, width = image.shape[:2]
    return b"P6\n# " + TOKEN + b"\n" + f"{width} {height}\n255\n".encode() + image.tobytes()


def _psd(image: np.ndarray) -> bytes:
    """A minimal RGB PSD: header, an IPTC image resource holding TOKEN, no layers, raw planar composite."""
    height, width = image.shape[:2]
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(TOKEN)) + TOKEN + b"\x00" * (len(TOKEN) % 2)
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    planes = b"".join(image[..., c].tobytes() for c in range(3))
    return header + struct.pack(">I", 0) + struct.pack(">I", len(resource)) + resource + struct.pack(">I", 0) + b"\x00\x00" + planes


def _jxl(image: np.ndarray, *, container: bool = False) -> bytes:
    height, width = image.shape[:2]
    encoder = _jxl_module().Encoder(mode="RGB", lossless=True, quality=100, decoding_speed=0, effort=3,
                                    use_container=container, use_original_profile=False, num_threads=0)
    exif = b"II*\x00\x08\x00\x00\x00\x01\x00\x3b\x01\x02\x00" + struct.pack("<II", len(TOKEN) + 1, 26) + b"\x00\x00\x00\x00" + TOKEN + b"\x00"
    return encoder(image.tobytes(), width, height, jpeg_encode=False, exif=exif if container else None)


def _dng(width: int = 32, height: int = 24) -> bytes:
    """A minimal uncompressed DNG: one IFD0 holding a 16-bit RGGB mosaic (what LibRaw develops)."""
    mosaic = np.random.default_rng(1).integers(200, 3800, (height, width)).astype("<u2").tobytes()
    entries = [
        (254, 4, [0]), (256, 4, [width]), (257, 4, [height]), (258, 3, [16]), (259, 3, [1]), (262, 3, [32803]),
        (271, 2, list(b"Canon\x00")), (273, 4, [0]), (274, 3, [1]), (277, 3, [1]), (278, 4, [height]),
        (279, 4, [len(mosaic)]), (284, 3, [1]), (33421, 3, [2, 2]), (33422, 1, [0, 1, 1, 2]),
        (50706, 1, [1, 4, 0, 0]), (50708, 2, list(b"facesafe\x00")), (50717, 4, [4095]),
        (50721, 10, [1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1]), (50728, 5, [1, 1, 1, 1, 1, 1]),
    ]  # fmt: skip
    pack = {1: "B", 2: "B", 3: "H", 4: "I", 5: "I", 10: "i"}
    extra_at = 8 + 2 + 12 * len(entries) + 4
    ifd, extra = struct.pack("<H", len(entries)), b""
    strip_at = extra_at + sum(-(-len(struct.pack(f"<{len(v)}{pack[k]}", *v)) // 2) * 2
                              for _, k, v in entries if len(struct.pack(f"<{len(v)}{pack[k]}", *v)) > 4)
    for tag, kind, values in entries:
        raw = struct.pack(f"<{len(values)}{pack[kind]}", *(values if tag != 273 else [strip_at]))
        count = len(values) // 2 if kind in (5, 10) else len(values)
        if len(raw) <= 4:
            ifd += struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\x00")
        else:
            ifd += struct.pack("<HHII", tag, kind, count, extra_at + len(extra))
            extra += raw + b"\x00" * (len(raw) % 2)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + extra + mosaic


# Formats facesafe decodes: file name -> bytes.
def _readable() -> dict[str, bytes]:
    image = _photo()
    return {
        "photo.ppm": _pnm(image),
        "gray.pgm": _pillow(image, "PPM", "L"),
        "mono.pbm": _pillow(image, "PPM", "1"),
        "scan.psd": _psd(image),
        "still.jp2": _pillow(image, "JPEG2000"),
        "stream.j2k": _jpeg2000_codestream(image),
        "icon.ico": _pillow(image, "ICO", sizes=[(16, 16), (48, 40)]),  # the largest is read
        "picture.qoi": _pillow(image, "QOI"),
        "bare.jxl": _jxl(image),
        "boxed.jxl": _jxl(image, container=True),
    }


def _jpeg2000_codestream(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG2000", no_jp2=True)
    return buffer.getvalue()


# Formats recognised by content but not decoded: file name -> (first bytes, the format's name).
_MAGIC_ONLY = {
    "layers.xcf": (b"gimp xcf v011\x00" + bytes(64), "XCF"),
    "paint.pspimage": (b"Paint Shop Pro Image File\n\x1a\x00\x00\x00\x00\x00" + bytes(64), "PSP"),
    "render.exr": (b"v/1\x01\x02\x00\x00\x00channels\x00" + bytes(64), "EXR"),
    "sky.hdr": (b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n" + bytes(16), "HDR"),
    "tiles.pgf": (b"PGF6" + struct.pack("<I", 16) + bytes(64), "PGF"),
    "map.pam": (b"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + bytes(12), "PAM"),
    "big.psb": (b"8BPS\x00\x02" + bytes(64), "PSB"),
    "old.pct": (bytes(512) + struct.pack(">Hhhhh", 0, 0, 0, 20, 30) + b"\x00\x11\x02\xff" + bytes(32), "PICT"),
    "scan.dcm": (bytes(128) + b"DICM" + bytes(64), "DICOM"),
    "vector.svg": (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>\n', "SVG"),
    "old.tga": (bytes(18) + bytes(12), "TGA"),
}


def _raw_headers() -> dict[str, bytes]:
    """Camera raw recognised by its own magic or, for TIFF-based raw, by name or first IFD."""
    tiff = _pillow(_photo(), "TIFF")
    return {
        "canon.cr2": b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(64),
        "olympus.orf": b"IIRO\x08\x00\x00\x00" + bytes(64),
        "panasonic.rw2": b"IIU\x00\x18\x00\x00\x00" + bytes(64),
        "fuji.raf": b"FUJIFILMCCD-RAW 0201FF383501" + bytes(64),
        "sigma.x3f": b"FOVb\x00\x00\x02\x00" + bytes(64),
        "canon.cr3": b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom" + bytes(64),
        "nikon.nef": tiff,  # plain TIFF magic: the name says raw
        "nameless.bin": _dng(),  # DNGVersion in the first IFD says raw, whatever the name
    }


def _write(folder, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def test_identify_names_every_container():
    for name, data in _readable().items():
        fmt, status, reason = classify(data[:HEAD_BYTES], name)
        assert status == "image" and reason is None, name
    for name, (data, code) in _MAGIC_ONLY.items():
        fmt, status, reason = classify(data[:HEAD_BYTES], name)
        assert (fmt, status) == (None, "failed") and reason.startswith(f"unsupported image format: {code}"), name
    for name, data in _raw_headers().items():
        assert identify(data[:HEAD_BYTES], name) == "RAW", name
    tiff = _pillow(_photo(), "TIFF")
    assert identify(tiff, "scan.tif") == "TIFF" and identify(tiff) == "TIFF"  # a plain TIFF stays TIFF
    assert identify(_MAGIC_ONLY["old.pct"][0], "old.bin") is None  # PICT needs its name
    assert classify(b"meeting notes\n", "notes.txt") == (None, "skipped", "not an image (content is not a supported image format)")
    assert classify(b"\x00\x00\x01\x00" + bytes(40), "blob.bin")[1] == "skipped"  # ICO's weak magic alone is not enough


@pytest.mark.parametrize("name", sorted(_readable()))
def test_readable_formats_decode_to_their_pixels(name):
    image = _photo()
    picture = load_image(_readable()[name], name=name)
    assert picture.n_frames == 1 and picture.size == (48, 40)
    pixels = picture.frames[0]
    if name.endswith((".ppm", ".psd", ".qoi", ".jxl", ".ico")):  # lossless: exactly the pixels written
        assert np.array_equal(pixels, image)
    elif name.endswith(".pgm"):
        assert np.array_equal(pixels[..., 0], np.asarray(Image.fromarray(image).convert("L")))
    elif name.endswith(".pbm"):
        assert set(np.unique(pixels)) <= {0, 255}
    else:  # JPEG 2000 (lossy by default): the red face is still where it was drawn
        assert reddish(pixels)[10:18, 10:18].all() and np.abs(pixels.astype(int) - image).mean() < 8


def test_camera_raw_is_developed_by_libraw():
    pytest.importorskip("rawpy")
    picture = load_image(_dng(), name="shot.dng")
    assert picture.format == "RAW" and picture.size == (32, 24) and picture.frames[0].std() > 0


def test_jpeg_xl_is_refused_from_its_header_and_registers_nothing_in_pillow():
    data = _jxl(_photo())
    assert jxl_size(data) == (48, 40) and jxl_size(_jxl(_photo(), container=True)) == (48, 40)
    with pytest.raises(ImageTooLargeError, match="48x40"):
        load_image(data, max_pixels=100)
    code = ("import facesafe, PIL.Image as I, sys; facesafe.load_image(open(sys.argv[1], 'rb').read()); "
            "assert 'JXL' not in I.OPEN, 'registered'; import pillow_jxl; assert 'JXL' in I.OPEN; print('ok')")
    result = subprocess.run([sys.executable, "-c", code, "/dev/stdin"], input=data, capture_output=True)
    assert result.stdout.strip() == b"ok", result.stderr.decode()


def test_strip_rebuilds_every_readable_format_without_metadata(tmp_path, capsys, exiftool):
    src, out = tmp_path / "src", tmp_path / "out"
    _write(src, _readable())
    assert any(TOKEN in data for data in _readable().values())  # the planted metadata is there to lose
    assert main(["strip", str(src), "--out", str(out)]) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith("10 cleaned, 0 skipped (not images), 0 failed")
    outputs = sorted(out.iterdir())
    assert [p.name for p in outputs] == sorted(n.rsplit(".", 1)[0] + ".png" for n in _readable())
    for path in outputs:
        assert TOKEN not in path.read_bytes()
        assert read_image(path).shape == (40, 48, 3)
    findings = _exiftool_findings(exiftool, outputs)
    assert len(findings) == len(outputs) and all(not found for found in findings.values()), findings  # every output was read


def _exiftool_findings(exiftool: str, paths: list) -> dict[str, dict]:
    """Non-structural tags exiftool finds in each file (empty for a clean file)."""
    entries = json.loads(subprocess.run([exiftool, "-j", "-a", "-G1", "-s", *map(str, paths)],
                                        check=True, capture_output=True, text=True).stdout)
    return {e["SourceFile"]: non_structural({k: v for k, v in e.items() if k != "SourceFile"}) for e in entries}


def test_anonymize_redacts_readable_formats_and_fails_the_rest(tmp_path, exiftool):
    src, out = tmp_path / "src", tmp_path / "out"
    _write(src, _readable())
    _write(src / "unsupported", {name: data for name, (data, _) in _MAGIC_ONLY.items()})
    (src / "notes.txt").write_text("not an image")
    report = anonymize_dir(src, out, detector=RedDetector(), method="fill", workers=0)
    assert (report.written, report.failed, report.skipped) == (10, len(_MAGIC_ONLY), 1)
    assert not (out / "unsupported").exists()  # nothing written for a failed file
    reasons = {source.rsplit("/", 1)[-1]: reason for source, reason in report.failures}
    assert sorted(reasons) == sorted(_MAGIC_ONLY)
    for name, (_, code) in _MAGIC_ONLY.items():
        assert reasons[name].startswith(f"unsupported image format: {code}"), reasons[name]
    outputs = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    assert len(outputs) == 10
    for path in outputs:
        assert TOKEN not in path.read_bytes()
        if path.stem not in ("mono", "gray"):  # the colour inputs had a red face drawn in
            assert not reddish(read_image(path)).any(), path.name  # the drawn face is gone
    findings = _exiftool_findings(exiftool, outputs)
    assert len(findings) == len(outputs) and all(not found for found in findings.values()), findings  # every output was read


def test_cli_exit_codes(tmp_path, capsys):
    only_unsupported, out = tmp_path / "odd", tmp_path / "out"
    _write(only_unsupported, {"layers.xcf": _MAGIC_ONLY["layers.xcf"][0], "render.exr": _MAGIC_ONLY["render.exr"][0]})
    assert main(["strip", str(only_unsupported), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{only_unsupported / 'layers.xcf'}: unsupported image format: XCF (GIMP)" in err
    assert not out.exists() or not any(out.iterdir())
    assert main(["anonymize", str(only_unsupported), "--out", str(tmp_path / "out2"), "-q"]) == 1
    assert not any((tmp_path / "out2").glob("*.*"))
    notes = tmp_path / "notes"
    _write(notes, {"readme.txt": b"hello"})
    assert main(["strip", str(notes), "--out", str(tmp_path / "out3")]) == 0


def test_camera_raw_without_the_extra_fails_naming_it(tmp_path, monkeypatch, capsys):
    import facesafe._formats as formats

    monkeypatch.setattr(formats, "_installed", lambda module: module != "rawpy")
    src = tmp_path / "raw"
    _write(src, {"shot.dng": _dng()})
    assert main(["strip", str(src), "--out", str(tmp_path / "out")]) == 1
    assert "unsupported image format: camera raw; install the facesafe[raw] extra" in capsys.readouterr().err
    with pytest.raises(UnsupportedImageError, match=r"facesafe\[raw\]"):
        load_image(src / "shot.dng")


def test_camera_raw_with_the_extra_is_anonymised_as_jpeg(tmp_path, exiftool):
    pytest.importorskip("rawpy")
    src, out = tmp_path / "raw", tmp_path / "out"
    _write(src, {"shot.dng": _dng()})
    report = anonymize_dir(src, out, detector=RedDetector(), workers=0)
    assert report.written == 1 and [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["shot.jpg"]
    assert _exiftool_findings(exiftool, [out / "shot.jpg"]) == {str(out / "shot.jpg"): {}}  # no camera Make left
    with closing(sqlite3.connect(report.manifest)) as db, db:
        assert db.execute("select input_format, output_format from files").fetchone() == ("RAW", "JPEG")
