"""Which image container a file is, and what facesafe does with it: the one place that decides.

Every command that meets files (``strip``, ``anonymize``, ``inspect``,
``verify``, local or URL sources) calls :func:`classify` on a file's first
:data:`HEAD_BYTES` bytes and its name, and gets one of three answers:

* ``"image"``: a container facesafe decodes (:data:`READ_FORMATS`);
* ``"failed"``: an image facesafe recognises but cannot decode here
  (``unsupported image format: <name>``: :data:`KNOWN_FORMATS`, camera raw
  without the ``facesafe[raw]`` extra), or a file named like an image whose
  content is not one. Nothing is written for it and the run exits 1;
* ``"skipped"``: not an image at all (notes, sidecars, manifests).

Images are recognised by their content (magic bytes, as exiftool and
libmagic do), well beyond what facesafe can decode, so that an image is never
"not an image". Two cases also look at the name:

* **TIFF-based camera raw** (NEF, DNG, ARW, PEF, SRW, 3FR, ...) carries plain
  TIFF magic. It is raw when its suffix names a raw format, or when its first
  IFD says so: a ``DNGVersion`` tag, a CFA/LinearRaw photometric
  interpretation, or ``SubIFDs`` together with a camera ``Make`` (raws keep the
  full image in a sub-IFD and a thumbnail in the first one; decoding them as
  TIFF would release the thumbnail). Canon CR2 (``CR`` at byte 8), ORF, RW2,
  RAF, X3F, MRW, CRW and CR3 have magic of their own.
* **PICT** has no magic at byte 0: a ``.pct``/``.pict`` name and a picture
  header (size, frame, version opcode) at byte 512 (after the 512-byte file
  header) or at byte 0.

Formats named only by suffix (TGA, PCX, SGI... have no reliable magic) are
not recognised from content, but a file so named whose content is no image
fails rather than being skipped, as does an empty ``photo.jpg``.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import struct

__all__ = ["HEAD_BYTES", "READ_FORMATS", "KNOWN_FORMATS", "identify", "classify", "format_for_suffix", "unsupported_reason"]

#: How many leading bytes :func:`identify` looks at (PICT's header ends at 528,
#: a camera raw's first IFD is within the first few hundred bytes).
HEAD_BYTES = 4096

#: Formats facesafe decodes (camera raw only with the ``facesafe[raw]`` extra).
READ_FORMATS = (
    "JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF",
    "PNM", "PSD", "JPEG2000", "ICO", "CUR", "QOI", "JXL", "RAW",
)  # fmt: skip

#: Image formats recognised by content but never decoded: they fail with
#: ``unsupported image format: <name>``.
KNOWN_FORMATS = {
    "PAM": "PAM (portable arbitrary map)",
    "PFM": "PFM (portable float map)",
    "PSB": "PSB (Photoshop large document)",
    "XCF": "XCF (GIMP)",
    "PSP": "PSP (Paint Shop Pro)",
    "PICT": "PICT (QuickDraw picture)",
    "EXR": "EXR (OpenEXR)",
    "HDR": "HDR (Radiance RGBE)",
    "PGF": "PGF (progressive graphics file)",
    "DDS": "DDS (DirectDraw surface)",
    "BPG": "BPG",
    "FLIF": "FLIF",
    "MNG": "MNG",
    "JNG": "JNG",
    "ICNS": "ICNS (Apple icon)",
    "DICOM": "DICOM",
    "DPX": "DPX",
    "FITS": "FITS",
    "SVG": "SVG (vector image, may embed raster images)",
    "TGA": "TGA (Targa)",
    "PCX": "PCX",
    "SGI": "SGI",
}

_SUFFIX_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".mpo": "JPEG",
    ".png": "PNG", ".apng": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".dib": "BMP",
    ".gif": "GIF",
    ".heic": "HEIF", ".heif": "HEIF", ".hif": "HEIF",
    ".avif": "AVIF",
    ".pbm": "PNM", ".pgm": "PNM", ".ppm": "PNM", ".pnm": "PNM", ".pam": "PAM", ".pfm": "PFM",
    ".psd": "PSD", ".psb": "PSB",
    ".jp2": "JPEG2000", ".j2k": "JPEG2000", ".j2c": "JPEG2000", ".jpf": "JPEG2000", ".jpx": "JPEG2000",
    ".ico": "ICO", ".cur": "CUR", ".qoi": "QOI", ".jxl": "JXL",
    ".xcf": "XCF", ".psp": "PSP", ".pspimage": "PSP", ".pct": "PICT", ".pict": "PICT",
    ".exr": "EXR", ".hdr": "HDR", ".pic": "HDR", ".pgf": "PGF", ".dds": "DDS", ".bpg": "BPG",
    ".flif": "FLIF", ".mng": "MNG", ".jng": "JNG", ".icns": "ICNS", ".dcm": "DICOM", ".dpx": "DPX",
    ".fits": "FITS", ".fit": "FITS", ".svg": "SVG", ".svgz": "SVG", ".tga": "TGA", ".pcx": "PCX",
    ".sgi": "SGI", ".rgb": "SGI",
}  # fmt: skip
# Camera raw suffixes (LibRaw's list, the common ones).
_RAW_SUFFIXES = frozenset(
    [".3fr", ".ari", ".arw", ".bay", ".cap", ".cr2", ".cr3", ".crw", ".dcr", ".dcs", ".dng", ".drf", ".eip",
     ".erf", ".fff", ".gpr", ".iiq", ".k25", ".kdc", ".mdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf",
     ".pef", ".ptx", ".r3d", ".raf", ".raw", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".x3f"]
)
_SUFFIX_FORMATS.update(dict.fromkeys(_RAW_SUFFIXES, "RAW"))

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Leading bytes -> format, tried in order (after the checks in identify()).
_PREFIXES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"IIRO", "RAW"), (b"IIRS", "RAW"), (b"MMOR", "RAW"),  # Olympus ORF
    (b"IIU\x00", "RAW"),  # Panasonic RW2/RWL
    (b"FUJIFILMCCD-RAW", "RAW"), (b"FOVb", "RAW"), (b"\x00MRM", "RAW"),  # Fuji RAF, Sigma X3F, Minolta MRW
    (b"II\x1a\x00\x00\x00HEAPCCDR", "RAW"),  # Canon CRW
    (b"8BPS\x00\x01", "PSD"), (b"8BPS\x00\x02", "PSB"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"), (b"\xff\x4f\xff\x51", "JPEG2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JXL"), (b"\xff\x0a", "JXL"),
    (b"qoif", "QOI"),
    (b"P7\n", "PAM"), (b"PF\n", "PFM"), (b"Pf\n", "PFM"),
    (b"gimp xcf ", "XCF"),
    (b"Paint Shop Pro Image File\n\x1a", "PSP"),
    (b"v/1\x01", "EXR"),
    (b"#?RADIANCE\n", "HDR"), (b"#?RGBE\n", "HDR"),
    (b"DDS ", "DDS"), (b"BPG\xfb", "BPG"), (b"FLIF", "FLIF"),
    (b"\x8aMNG\r\n\x1a\n", "MNG"), (b"\x8bJNG\r\n\x1a\n", "JNG"),
    (b"icns", "ICNS"), (b"SDPX", "DPX"), (b"XPDS", "DPX"),
    (b"SIMPLE  =                    T", "FITS"),
)  # fmt: skip


def format_for_suffix(path: str | os.PathLike[str]) -> str | None:
    """The image format a file name's suffix names (``"photo.JPEG"`` -> ``"JPEG"``, ``"a.nef"`` -> ``"RAW"``), or ``None``."""
    return _SUFFIX_FORMATS.get(pathlib.PurePath(os.fspath(path)).suffix.lower())


def identify(head: bytes, name: str | os.PathLike[str] | None = None) -> str | None:
    """The image container ``head`` (a file's first :data:`HEAD_BYTES` bytes) announces, or ``None``.

    Returns a name from :data:`READ_FORMATS` or :data:`KNOWN_FORMATS`.
    ``name`` (the file's name, when known) tells TIFF-based camera raw and
    PICT apart (see the module docstring).
    """
    suffix = pathlib.PurePath(os.fspath(name)).suffix.lower() if name is not None else ""
    for prefix, fmt in _PREFIXES:
        if head.startswith(prefix):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        raw = head[8:10] == b"CR" or suffix in _RAW_SUFFIXES or _tiff_is_raw(head)  # CR: Canon CR2
        return "RAW" if raw else "TIFF"
    if head[:2] == b"BM" and len(head) >= 18:
        return "BMP" if int.from_bytes(head[14:18], "little") in (12, 16, 40, 52, 56, 64, 108, 124) else None
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _bmff_brand(head)
    if len(head) >= 3 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "PNM"
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and _plausible_icon(head):
        return "ICO" if head[2] == 1 else "CUR"
    if head[:3] == b"PGF" and len(head) > 3 and 0 < head[3] < 0x80:
        return "PGF"
    if head[128:132] == b"DICM":
        return "DICOM"
    if suffix in (".pct", ".pict") and (_pict_header(head, 512) or _pict_header(head, 0)):
        return "PICT"
    if _looks_svg(head):
        return "SVG"
    return None


def _bmff_brand(head: bytes) -> str | None:
    """HEIF, AVIF or Canon CR3 from an ISOBMFF ``ftyp`` box, else None (videos, other files)."""
    box_end = min(len(head), max(16, int.from_bytes(head[:4], "big")))
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if head[8:12] == b"crx ":
        return "RAW"
    if head[8:12] in _AVIF_BRANDS or (brands & _AVIF_BRANDS and not brands & (_HEIF_BRANDS - {b"mif1", b"msf1"})):
        return "AVIF"
    if brands & _HEIF_BRANDS:
        return "HEIF"
    return None


def _tiff_is_raw(head: bytes) -> bool:
    """Whether a TIFF's first IFD (when it lies within ``head``) describes camera raw data."""
    order = "<" if head[:2] == b"II" else ">"
    if head[2:4] not in (b"*\x00", b"\x00*"):
        return False  # BigTIFF: not used by cameras
    try:
        (offset,) = struct.unpack_from(order + "I", head, 4)
        (count,) = struct.unpack_from(order + "H", head, offset)
        tags = {}
        for index in range(min(count, 512)):
            tag, kind, _, value = struct.unpack_from(order + "HHII", head, offset + 2 + 12 * index)
            tags[tag] = value >> 16 if kind == 3 and order == ">" else value & 0xFFFF if kind == 3 else value
    except struct.error:
        return False  # first IFD beyond the head: only the suffix can tell
    if 0xC612 in tags or tags.get(0x0106) in (32803, 34892):  # DNGVersion; CFA or LinearRaw photometric
        return True
    return 0x014A in tags and 0x010F in tags  # SubIFDs + Make: a camera's full image kept in a sub-IFD


def _plausible_icon(head: bytes) -> bool:
    """ICO/CUR's 4-byte magic is weak: also check the count and the first directory entry."""
    if len(head) < 22:
        return False
    count = int.from_bytes(head[4:6], "little")
    size, offset = struct.unpack_from("<II", head, 14)
    return 0 < count <= 256 and head[9] == 0 and size > 0 and offset >= 6 + 16 * count


def _pict_header(head: bytes, start: int) -> bool:
    """A QuickDraw picture at ``start``: size, a non-empty frame, then a version 1 or 2 opcode."""
    if len(head) < start + 14:
        return False
    top, left, bottom, right = struct.unpack_from(">hhhh", head, start + 2)
    version = head[start + 10 : start + 14]
    return bottom > top and right > left and (version[:2] == b"\x11\x01" or version == b"\x00\x11\x02\xff")


def _looks_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text[:1] == b"<" and b"<svg" in text[:HEAD_BYTES]


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def unsupported_reason(fmt: str) -> str | None:
    """Why an identified format cannot be decoded here (``unsupported image format: ...``), or None."""
    if fmt in KNOWN_FORMATS:
        return f"unsupported image format: {KNOWN_FORMATS[fmt]}"
    if fmt == "RAW" and not _installed("rawpy"):
        return "unsupported image format: camera raw; install the facesafe[raw] extra (rawpy, LibRaw) to read it"
    if fmt == "JXL" and not _installed("pillow_jxl"):  # pragma: no cover - a dependency
        return "unsupported image format: JPEG XL; install pillow-jxl-plugin to read it"
    return None


def classify(head: bytes, name: str | os.PathLike[str]) -> tuple[str | None, str, str | None]:
    """``(format, status, reason)`` of a file from its first bytes and its name: see the module docstring.

    ``status`` is ``"image"`` (``format`` is set, ``reason`` None), ``"failed"``
    or ``"skipped"`` (``format`` None, ``reason`` says why).
    """
    fmt = identify(head, name)
    if fmt is None:
        named = format_for_suffix(name)
        if named in KNOWN_FORMATS and head:  # TGA, PCX, SGI: no reliable magic, known by name
            return None, "failed", unsupported_reason(named)
        if named is None:
            return None, "skipped", "not an image (content is not a supported image format)"
        what = "an empty file" if not head else "not a supported image"
        return None, "failed", f"named like an image ({pathlib.PurePath(os.fspath(name)).suffix}) but its content is {what}"
    reason = unsupported_reason(fmt)
    if reason is not None:
        return None, "failed", reason
    return fmt, "image", None
