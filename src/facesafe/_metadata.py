"""What an image file carries besides pixels, and removing all of it.

:func:`read_metadata` reports a file's metadata (EXIF incl. GPS, XMP, IPTC,
ICC profile, comments, text chunks, thumbnails and, for JPEG, the raw list of
segments) for ``facesafe inspect``, reports and tests. It reads headers only.

:func:`strip_metadata` writes a copy that carries nothing but the image:

* **JPEG** is cleaned losslessly and without decoding: the quantisation and
  Huffman tables, frame header, scans and their entropy-coded data are copied
  byte for byte; every APPn segment (EXIF, GPS, XMP, ICC, IPTC/Photoshop, MPF,
  maker blocks, ...), every COM segment and everything after the end-of-image
  marker (MPO extra images, vendor trailers) is dropped. A minimal JFIF APP0
  (no thumbnail, 1:1 density) is rebuilt when the source had one or its
  colour space is plain YCbCr/grayscale; an Adobe APP14 is rebuilt with its
  colour-transform byte only (what decoders need for RGB/CMYK/YCCK JPEGs).
  The structure is validated on the way (:mod:`facesafe._jpeg`'s strict
  tokeniser): a file that does not reach its end-of-image marker is a
  :class:`CorruptImageError`, never copied.
  A JPEG whose EXIF orientation is not 1 (read by facesafe's one orientation
  reader, :func:`facesafe._io.read_orientation`, as load_image reads it)
  cannot keep a tag to say so, so it is
  *re-encoded* from the turned pixels at quality :data:`REENCODE_QUALITY` (95;
  4:2:0 chroma) — no lossless transform tool is required.
  The ICC profile goes with the other APPn segments, so a wide-gamut JPEG
  (e.g. Display P3) is then shown as sRGB: slightly less saturated, never
  identifying.
* **Every other format** is decoded and rebuilt from its pixels
  (:func:`facesafe.load_image` then :func:`facesafe.encode_image`): lossless
  sources are written losslessly, lossy ones (lossy WebP, HEIF, AVIF) are
  re-encoded at quality :data:`REENCODE_QUALITY`. Pixels are 8-bit sRGB
  (16-bit and ICC-tagged sources are converted on reading, see
  :func:`facesafe.load_image`).
"""

from __future__ import annotations

import io
import os
import pathlib
import zlib
from typing import Any

from ._errors import CorruptImageError, ImageError, OutputExistsError, UnsupportedImageError
from ._formats import HEAD_BYTES, identify
from ._io import (
    DEFAULT_MAX_PIXELS,
    atomic_write_bytes,
    check_max_pixels,
    encode_image,
    error_reason,
    exif_orientation,
    format_for_suffix,
    jpeg_exif,
    load_image,
    normalise_format,
    open_source,
    output_format,
    plugin_class,
    read_orientation,
    too_large,
)
from ._jpeg import STRUCTURAL, JpegLayout, marker_name, scan_jpeg

__all__ = ["REENCODE_QUALITY", "read_metadata", "strip_metadata", "clean_bytes"]

#: JPEG/WebP/HEIF/AVIF quality used when stripping has to re-encode lossy pixels.
REENCODE_QUALITY = 95

# --------------------------------------------------------------------------- JPEG cleaning

_JFIF_APP0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def _adobe_app14(transform: int) -> bytes:
    return b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00" + bytes([transform])


def _clean_jpeg(data: bytes, name: str | None, max_pixels: int) -> bytes | None:
    """The JPEG rebuilt from its structural segments only, or None when it must be re-encoded."""
    layout = scan_jpeg(data, name)
    if layout.width == 0 or layout.height == 0:
        raise UnsupportedImageError(name, "JPEG without a declared size (DNL) is not supported")
    if layout.width * layout.height > max_pixels:
        raise too_large(name, layout.width, layout.height, 1, max_pixels)
    had_jfif = had_app1 = False
    adobe_transform: int | None = None
    for seg in layout.segments:
        if seg.marker == 0xE0 and data[seg.start + 4 : seg.start + 9] == b"JFIF\x00":
            had_jfif = True
        elif seg.marker == 0xE1:
            had_app1 = True
        elif seg.marker == 0xEE and data[seg.start + 4 : seg.start + 9] == b"Adobe" and seg.end - seg.start >= 16:
            adobe_transform = data[seg.start + 15]
    if had_app1 and _jpeg_orientation(data, layout, name) != 1:
        return None
    out = bytearray(b"\xff\xd8")
    rgb_ids = layout.components == b"RGB"
    if had_jfif or (adobe_transform is None and len(layout.components) in (1, 3) and not rgb_ids):
        out += _JFIF_APP0
    if adobe_transform is not None:
        out += _adobe_app14(adobe_transform)
    view = memoryview(data)
    for seg in layout.segments:
        if seg.marker in STRUCTURAL:
            out += view[seg.start : seg.end]
    out += b"\xff\xd9"
    return bytes(out)


_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


def _jpeg_orientation(data: bytes, layout: JpegLayout, name: str | None) -> int:
    """The orientation :func:`facesafe.load_image` applies to this JPEG, read from its APP1 blocks by the same reader."""
    exif: bytes | None = None
    xmp: bytes | None = None
    for seg in layout.segments:
        if seg.marker == 0xE1:
            payload = seg.payload(data)
            if payload.startswith(b"Exif\x00\x00"):  # joined as Pillow joins them
                exif = payload if exif is None else exif + payload[6:]
            elif payload.startswith(_XMP_HEADER):
                xmp = payload[len(_XMP_HEADER) :]
    return read_orientation(lambda: jpeg_exif(exif, xmp), exif, name)


# --------------------------------------------------------------------------- stripping


def _read_bytes(src: str | os.PathLike[str] | bytes) -> tuple[bytes, str | None]:
    with open_source(src) as (fp, name):
        try:
            return fp.read(), name
        except OSError as exc:
            raise ImageError(name, f"cannot read: {exc.strerror or exc}") from exc


def clean_bytes(
    data: bytes,
    *,
    format: str | None = None,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[bytes, str]:
    """Return ``(clean bytes, their format)`` for the image file ``data`` (see :func:`strip_metadata`).

    ``format`` is the output format (default: :func:`facesafe.output_format` of
    the input's). ``name`` only labels errors.
    """
    check_max_pixels(max_pixels)
    if not data:
        raise UnsupportedImageError(name, "empty file")
    fmt = identify(data[:HEAD_BYTES], name)
    if fmt is None:
        raise UnsupportedImageError(name, "not a supported image (its content is no image format facesafe knows)")
    target = output_format(fmt) if format is None else normalise_format(format)
    if fmt == "JPEG" and target == "JPEG":
        cleaned = _clean_jpeg(data, name, max_pixels)
        if cleaned is not None:
            return cleaned, "JPEG"
    try:
        picture = load_image(data, max_pixels=max_pixels, name=name)
    except ImageError as exc:  # re-label "<bytes>" with the file's name
        raise type(exc)(name, exc.reason) from exc
    return encode_image(picture, format=target, quality=REENCODE_QUALITY), target


def strip_metadata(
    src: str | os.PathLike[str] | bytes,
    dst: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> pathlib.Path:
    """Write a copy of image ``src`` to ``dst`` that carries nothing but the image.

    JPEG is cleaned losslessly (segments copied byte for byte, every metadata
    segment and trailing data dropped) unless its orientation is not 1, in
    which case it is re-encoded from the turned pixels (quality 95). Other
    formats are rebuilt from their pixels, losslessly when the source was
    lossless. The output format is the one ``dst``'s suffix names, else the
    input's default (:func:`facesafe.output_format`). The write is atomic; an
    existing ``dst`` is kept unless ``overwrite=True``. Returns ``dst``.
    """
    check_max_pixels(max_pixels)
    if not overwrite and os.path.lexists(dst):
        raise OutputExistsError(dst, "already exists (pass overwrite to replace it)")
    data, name = _read_bytes(src)
    cleaned, _ = clean_bytes(data, format=format_for_suffix(dst), name=name, max_pixels=max_pixels)
    return atomic_write_bytes(dst, cleaned, overwrite=overwrite)


# --------------------------------------------------------------------------- reading metadata


def _plain(value: Any, limit: int = 300) -> Any:
    """A JSON-friendly rendering of a Pillow metadata value."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).rstrip(b"\x00")
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            decoded = text.decode("latin-1")
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
        if decoded and printable < 0.9 * len(decoded):
            return f"<{len(value)} bytes>"
        return decoded if len(decoded) <= limit else decoded[:limit] + f"... ({len(value)} bytes)"
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"... ({len(value)} chars)"
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v, limit) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v, limit) for v in value]
    try:  # IFDRational and friends
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return str(value)


# TIFF tags that describe how the pixels are stored (a TIFF's IFD0 holds them beside its metadata).
_TIFF_STRUCTURE = frozenset({
    254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 282, 283, 284, 296, 317, 320, 322, 323, 324, 325,
    338, 339, 347, 530, 531, 532,
})  # fmt: skip


def _exif_dicts(im: Any) -> tuple[dict, dict, dict]:
    """(IFD0 + Exif + Interop tags, GPS tags, IFD1 thumbnail tags) by tag name; TIFF structure tags left out."""
    from PIL import ExifTags

    exif = im.getexif()
    main: dict[str, Any] = {}
    structure = _TIFF_STRUCTURE if im.format == "TIFF" else frozenset()
    for tag, value in exif.items():
        if tag in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop) or tag in structure:
            continue
        main[ExifTags.TAGS.get(tag, f"0x{tag:04X}")] = _plain(value)
    for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.Interop):
        for tag, value in exif.get_ifd(ifd).items():
            main[ExifTags.TAGS.get(tag, f"0x{tag:04X}")] = _plain(value)
    gps = {ExifTags.GPSTAGS.get(tag, f"0x{tag:04X}"): _plain(value) for tag, value in exif.get_ifd(ExifTags.IFD.GPSInfo).items()}
    ifd1 = {ExifTags.TAGS.get(tag, f"0x{tag:04X}"): _plain(value) for tag, value in exif.get_ifd(ExifTags.IFD.IFD1).items()}
    return main, gps, ifd1


_IPTC_NAMES = {
    (2, 5): "ObjectName", (2, 25): "Keywords", (2, 40): "SpecialInstructions", (2, 55): "DateCreated",
    (2, 80): "By-line", (2, 85): "By-lineTitle", (2, 90): "City", (2, 95): "Province-State",
    (2, 101): "Country-PrimaryLocationName", (2, 105): "Headline", (2, 110): "Credit", (2, 115): "Source",
    (2, 116): "CopyrightNotice", (2, 120): "Caption-Abstract", (2, 122): "Writer-Editor",
}  # fmt: skip


_MAX_TEXT = 1 << 20  # decompress at most 1 MiB of any one PNG text chunk (a zTXt can be a zip bomb)


def _png_text(data: bytes) -> dict[str, Any]:
    """Every tEXt/zTXt/iTXt chunk of a PNG, wherever it sits (also after the image data), without decoding pixels."""
    text: dict[str, Any] = {}
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            break
        if kind not in (b"tEXt", b"zTXt", b"iTXt") or b"\x00" not in body:
            continue
        key, rest = body.split(b"\x00", 1)
        try:
            if kind == b"tEXt":
                value: Any = rest
            elif kind == b"zTXt":
                value = zlib.decompressobj().decompress(rest[1:], _MAX_TEXT)
            else:
                compressed, rest = rest[0], rest[2:]
                _lang, _translated, value = rest.split(b"\x00", 2)
                if compressed:
                    value = zlib.decompressobj().decompress(value, _MAX_TEXT)
        except (ValueError, zlib.error) as exc:
            value = f"<unreadable {kind.decode()} chunk: {exc}>"
        text[key.decode("latin-1")] = _plain(value)
    return text


def _jpeg_segment_report(data: bytes, name: str | None) -> tuple[list[dict], list[str], int]:
    """(segments, COM texts, trailing byte count) of a JPEG; tolerant of truncation."""
    segments: list[dict] = [{"marker": "SOI", "offset": 0, "length": 2}]
    comments: list[str] = []
    layout = scan_jpeg(data, name, strict=False)
    for seg in layout.segments:
        entry: dict[str, Any] = {"marker": marker_name(seg.marker), "offset": seg.start, "length": seg.end - seg.start}
        if 0xE0 <= seg.marker <= 0xEF:
            entry["label"] = _plain(data[seg.start + 4 : seg.start + 40].split(b"\x00", 1)[0], 40)
        if seg.marker == 0xFE:
            comments.append(_plain(seg.payload(data)))
        segments.append(entry)
    segments.extend({"marker": "stray bytes", "offset": start, "length": length} for start, length in layout.stray)
    segments.sort(key=lambda entry: entry["offset"])
    if layout.complete:
        segments.append({"marker": "EOI", "offset": layout.eoi_end - 2, "length": 2})
        if layout.eoi_end < len(data):
            segments.append({"marker": "trailing data", "offset": layout.eoi_end, "length": len(data) - layout.eoi_end})
    else:
        segments.append({"marker": "truncated", "offset": len(data), "length": 0})
    return segments, comments, len(data) - layout.eoi_end


def read_metadata(src: str | os.PathLike[str] | bytes) -> dict[str, Any]:
    """Report what an image file carries besides pixels, as a JSON-friendly dict.

    Keys: ``path``, ``format``, ``size`` ``[w, h]``, ``mode``, ``n_frames``,
    ``orientation``, ``exif`` (IFD0/Exif tags by name, without the tags that
    describe a TIFF's pixel layout), ``gps``, ``xmp``
    (text or None), ``iptc``, ``icc`` (``{"description", "bytes"}`` or None),
    ``comments``, ``text`` (PNG text chunks), ``thumbnails`` and, for JPEG,
    ``segments`` (every marker with offset, length and APPn label, plus any
    trailing data). Problems reading a block are listed under ``errors``.
    Reads headers only; raises UnsupportedImageError/CorruptImageError when
    the file is not a readable image.
    """
    data, name = _read_bytes(src)
    if not data:
        raise UnsupportedImageError(name, "empty file")
    fmt = identify(data[:HEAD_BYTES], name)
    if fmt is None:
        raise UnsupportedImageError(name, "not a supported image")
    report: dict[str, Any] = {
        "path": name, "format": fmt, "size": None, "mode": None, "n_frames": None, "orientation": None,
        "exif": {}, "gps": {}, "xmp": None, "iptc": {}, "icc": None, "comments": [], "text": {},
        "thumbnails": [], "errors": [],
    }  # fmt: skip
    trailing = 0
    if fmt == "JPEG":
        report["segments"], report["comments"], trailing = _jpeg_segment_report(data, name)
    cls = plugin_class(fmt, name)
    try:
        im = cls(io.BytesIO(data), name or "")
    except Exception as exc:
        raise CorruptImageError(name, f"cannot read {fmt} header: {error_reason(exc)}") from exc
    _describe_image(im, fmt, data, report)
    if trailing:
        report["thumbnails"].append({"source": "data after end of image (e.g. MPO previews)", "bytes": trailing})
    return report


def _describe_image(im: Any, fmt: str, data: bytes, report: dict[str, Any]) -> None:
    """Fill ``report`` from an opened (not decoded) Pillow image and the file's bytes."""
    from PIL import ImageCms, IptcImagePlugin

    with im:
        report["size"] = list(im.size)
        report["mode"] = im.mode
        try:
            report["n_frames"] = int(getattr(im, "n_frames", 1))
        except Exception as exc:
            report["errors"].append(f"frames: {error_reason(exc)}")
        info = im.info
        block = info.get("exif")
        if isinstance(block, bytes) and block:
            try:
                exif_orientation(block)
            except ValueError as exc:
                report["errors"].append(f"exif: damaged block ({exc})")
        try:
            report["exif"], report["gps"], ifd1 = _exif_dicts(im)
            report["orientation"] = report["exif"].get("Orientation", 1)
            if ifd1:  # IFD1 describes the embedded thumbnail (JpegIFOffset / JpegIFByteCount, or strips)
                report["thumbnails"].append({"source": "EXIF IFD1", "bytes": ifd1.get("JpegIFByteCount")})
        except Exception as exc:
            report["errors"].append(f"exif: {error_reason(exc)}")
        xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
        if not xmp and fmt == "TIFF":
            xmp = getattr(im, "tag_v2", {}).get(700)
        if xmp:
            report["xmp"] = _plain(xmp, limit=100_000)
        try:
            iptc = IptcImagePlugin.getiptcinfo(im) if fmt in ("JPEG", "TIFF") else None
        except Exception as exc:
            iptc = None
            report["errors"].append(f"iptc: {error_reason(exc)}")
        for key, value in (iptc or {}).items():
            label = _IPTC_NAMES.get(key, f"{key[0]}:{key[1]}")
            report["iptc"][label] = _plain(value)
        icc = info.get("icc_profile")
        if icc:
            try:
                description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
            except Exception as exc:
                description = None
                report["errors"].append(f"icc: {error_reason(exc)}")
            report["icc"] = {"description": description, "bytes": len(icc)}
        if fmt != "JPEG" and info.get("comment"):
            report["comments"].append(_plain(info["comment"]))
        if fmt == "PNG":
            report["text"] = _png_text(data)
        if fmt == "HEIF":
            for thumb in info.get("thumbnails", []) or []:
                report["thumbnails"].append({"source": "HEIF thumbnail", "size": _plain(getattr(thumb, "size", None))})
