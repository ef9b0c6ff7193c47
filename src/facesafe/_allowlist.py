"""verify's structural allowlist: what an encoded image file carries besides pixels, read from its container.

Independent of the writer on purpose. ``strip`` and ``anonymize`` write
through :mod:`facesafe._io` and :mod:`facesafe._jpeg`; this module re-reads
their outputs with walkers of its own (JPEG included), so that one parsing
bug cannot both let metadata into a file and hide it from the check. It is
also stricter than the writer's tokeniser: stray bytes between JPEG segments,
which the writer skips and never copies, make a file "not walked" here, and
so flagged. Do not share code with the writer's parsers.

:func:`extra_content` walks a file's segments, chunks, tags or boxes and lists
everything that is not on a short *structural allowlist* for its format: what
a decoder needs to draw the pixels (sizes, tables, palettes, transparency,
animation timing). Everything else is reported, named where it is known
(EXIF, GPS, XMP, IPTC, ICC profile, comments, text chunks, thumbnails) and by
its raw id where it is not, together with bytes after the end of the image.
It is an allowlist on purpose: metadata no one thought of is still reported.

The allowlists (what facesafe's own writer emits is a subset of each):

- JPEG: SOI, one minimal APP0 JFIF (no thumbnail), DQT, DHT, DAC, DRI, SOFn,
  SOS and its entropy-coded data, RSTn, DNL, EOI. Any other APPn (EXIF, XMP,
  ICC, MPF, IPTC, Adobe...), COM, a JFIF thumbnail or JFXX, and any byte after
  EOI are reported.
- PNG: IHDR, PLTE, tRNS, IDAT, IEND and the APNG chunks acTL, fcTL, fdAT.
  Anything else (tEXt, zTXt, iTXt, eXIf, iCCP, tIME, pHYs, gAMA, sRGB...) and
  bytes after IEND are reported.
- WebP: VP8, VP8L, VP8X (without its ICC/EXIF/XMP flags), ALPH, ANIM, ANMF.
- GIF: header, colour tables, image blocks, graphic control extensions and
  the NETSCAPE2.0 / ANIMEXTS1.0 loop extension; comments, plain-text and other
  application extensions (XMP, ICC) and bytes after the trailer are reported.
- TIFF: the tags that describe pixel layout (sizes, samples, compression,
  strips/tiles, photometric, predictor, extra samples, colour map,
  resolution, orientation); every other tag (EXIF and GPS IFDs, XMP, IPTC,
  ICC, make, model, software, date, artist, description...) is reported.
- HEIF/AVIF: boxes ftyp, meta, mdat, moov, free, skip at top level; items of
  coded-image types only (Exif and mime/XMP items are reported); colour
  properties of type nclx (embedded ICC profiles are reported); any udta box.
- BMP: bytes beyond the size in the header and an embedded ICC profile.

A file whose structure cannot be walked is reported as such: the check fails
closed.
"""

from __future__ import annotations

import re
import struct

__all__ = ["extra_content"]

_MAX_ITEMS = 100_000  # segments/chunks/IFDs walked per file before giving up (loops, bombs)


def extra_content(data: bytes, format: str) -> tuple[str, ...]:
    """Everything in ``data`` (a whole ``format`` file) beyond its structural allowlist.

    Returns one short description per finding, e.g. ``"EXIF (APP1, 2,048 bytes)"``;
    an empty tuple means the file holds nothing but what draws its pixels.
    """
    inspect = _INSPECTORS.get(format.upper())
    if inspect is None:
        return (f"no structural allowlist for {format} files: contents not checked",)
    try:
        return tuple(inspect(data))
    except (IndexError, ValueError, struct.error) as exc:
        return (f"{format} structure could not be walked ({exc or type(exc).__name__}): not checked",)


def _n(count: int) -> str:
    return f"{count:,} byte" + ("" if count == 1 else "s")


# --------------------------------------------------------------------------- JPEG

_JPEG_ALLOWED = {0xC4, 0xCC, 0xDB, 0xDD, 0xDC} | (set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC})
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_APP_NAMES = (
    (1, b"Exif\x00", "EXIF"),
    (1, b"http://ns.adobe.com/xap/1.0/", "XMP"),
    (1, b"http://ns.adobe.com/xmp/extension/", "extended XMP"),
    (2, b"ICC_PROFILE\x00", "ICC profile"),
    (2, b"MPF\x00", "MPF (extra images)"),
    (2, b"FPXR\x00", "FlashPix"),
    (13, b"Photoshop 3.0\x00", "IPTC/Photoshop"),
    (14, b"Adobe", "Adobe"),
    (0, b"JFXX\x00", "JFIF extension (thumbnail)"),
)


def _jpeg(data: bytes) -> list[str]:
    found: list[str] = []
    if data[:2] != b"\xff\xd8":
        raise ValueError("no start-of-image marker")
    pos, jfif, end = 2, False, None
    for _ in range(_MAX_ITEMS):
        if pos >= len(data):
            break
        if data[pos] != 0xFF:
            raise ValueError(f"expected a marker at byte {pos:,}")
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            end = pos
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        segment = data[pos + 2 : pos + length]
        pos += length
        if marker == 0xDA:  # scan: skip entropy-coded data up to the next real marker
            match = _NEXT_MARKER.search(data, pos)
            pos = match.start() if match else len(data)
            continue
        if marker == 0xE0 and segment[:5] == b"JFIF\x00" and not jfif:
            jfif = True
            if len(segment) > 14 or segment[12:14] not in (b"", b"\x00\x00"):
                found.append(f"JFIF thumbnail (APP0, {_n(len(segment))})")
        elif 0xE0 <= marker <= 0xEF:
            n = marker - 0xE0
            name = next((label for app, prefix, label in _APP_NAMES if app == n and segment.startswith(prefix)), None)
            if name is None:
                ident = segment[:16].split(b"\x00", 1)[0].decode("latin-1")
                name = f"APP{n} segment" + (f" {ident!r}" if ident.isprintable() and ident else "")
            found.append(f"{name} (APP{n}, {_n(len(segment))})")
        elif marker == 0xFE:
            found.append(f"comment (COM, {_n(len(segment))})")
        elif marker not in _JPEG_ALLOWED:
            found.append(f"unexpected JPEG marker FF{marker:02X} ({_n(len(segment))})")
    if end is None:
        found.append("no end-of-image marker (truncated or not walked)")
    elif end < len(data):
        extra = data[end:]
        what = "another JPEG image" if extra.lstrip(b"\x00").startswith(b"\xff\xd8") else "data"
        found.append(f"{_n(len(extra))} after the end of the image ({what})")
    return found


# --------------------------------------------------------------------------- PNG

_PNG_ALLOWED = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"acTL", b"fcTL", b"fdAT"}
_PNG_NAMES = {b"eXIf": "EXIF", b"iCCP": "ICC profile", b"tIME": "modification time", b"pHYs": "pixel density",
              b"gAMA": "gamma", b"cHRM": "chromaticities", b"sRGB": "sRGB intent", b"sBIT": "significant bits",
              b"bKGD": "background colour", b"hIST": "histogram", b"sPLT": "suggested palette", b"caBX": "C2PA manifest"}


def _png(data: bytes) -> list[str]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("no PNG signature")
    found: list[str] = []
    pos, end = 8, None
    for _ in range(_MAX_ITEMS):
        if pos + 8 > len(data):
            break
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            end = pos
            break
        if kind in _PNG_ALLOWED:
            continue
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            keyword = body.split(b"\x00", 1)[0].decode("latin-1")
            found.append(f"text chunk {kind.decode()} {keyword!r} ({_n(length)})")
        else:
            name = _PNG_NAMES.get(kind, "chunk")
            found.append(f"{name} ({kind.decode('latin-1')}, {_n(length)})")
    if end is None:
        found.append("no IEND chunk (truncated or not walked)")
    elif end < len(data):
        found.append(f"{_n(len(data) - end)} after the IEND chunk")
    return found


# --------------------------------------------------------------------------- WebP

_WEBP_ALLOWED = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}
_WEBP_NAMES = {b"EXIF": "EXIF", b"XMP ": "XMP", b"ICCP": "ICC profile"}


def _webp(data: bytes) -> list[str]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF/WEBP header")
    found: list[str] = []
    (size,) = struct.unpack("<I", data[4:8])
    end = min(8 + size, len(data))
    pos = 12
    for _ in range(_MAX_ITEMS):
        if pos + 8 > end:
            break
        kind, length = struct.unpack("<4sI", data[pos : pos + 8])
        if kind == b"VP8X":
            flags = data[pos + 8]
            for bit, label in ((0x20, "ICC profile"), (0x08, "EXIF"), (0x04, "XMP")):
                if flags & bit:
                    found.append(f"VP8X header declares {label}")
        elif kind not in _WEBP_ALLOWED:
            found.append(f"{_WEBP_NAMES.get(kind, 'chunk')} ({kind.decode('latin-1')!r}, {_n(length)})")
        pos += 8 + length + (length & 1)
    if 8 + size < len(data):
        found.append(f"{_n(len(data) - 8 - size)} after the RIFF container")
    return found


# --------------------------------------------------------------------------- GIF

_GIF_APPS = {b"NETSCAPE2.0", b"ANIMEXTS1.0"}


def _gif_blocks(data: bytes, pos: int) -> int:
    """Skip data sub-blocks from ``pos``; return the position after the terminator."""
    for _ in range(len(data)):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise ValueError("unterminated sub-blocks")


def _gif(data: bytes) -> list[str]:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("no GIF header")
    found: list[str] = []
    packed = data[10]
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    end = None
    for _ in range(_MAX_ITEMS):
        block = data[pos]
        if block == 0x3B:
            end = pos + 1
            break
        if block == 0x2C:  # image descriptor, local colour table, LZW data
            packed = data[pos + 9]
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
            pos = _gif_blocks(data, pos + 1)
        elif block == 0x21:
            label = data[pos + 1]
            if label == 0xFF:
                ident = data[pos + 3 : pos + 3 + data[pos + 2]]
                if ident not in _GIF_APPS:
                    name = {b"XMP DataXMP": "XMP", b"ICCRGBG1012": "ICC profile"}.get(ident, "application extension")
                    found.append(f"{name} ({ident.decode('latin-1')!r})")
                pos = _gif_blocks(data, pos + 3 + data[pos + 2])
            else:
                if label == 0xFE:
                    found.append("comment extension")
                elif label == 0x01:
                    found.append("plain-text extension")
                elif label != 0xF9:
                    found.append(f"extension 0x{label:02X}")
                pos = _gif_blocks(data, pos + 2)
        else:
            raise ValueError(f"unknown block 0x{block:02X} at byte {pos:,}")
    if end is None:
        found.append("no trailer (truncated or not walked)")
    elif end < len(data):
        found.append(f"{_n(len(data) - end)} after the GIF trailer")
    return found


# --------------------------------------------------------------------------- TIFF

_TIFF_ALLOWED = {254, 255, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 282, 283, 284, 296, 317, 320,
                 322, 323, 324, 325, 338, 339, 530, 531, 532}
_TIFF_NAMES = {269: "document name", 270: "image description", 271: "camera make", 272: "camera model",
               285: "page name", 305: "software", 306: "date/time", 315: "artist", 316: "host computer",
               330: "sub-IFDs", 700: "XMP", 33432: "copyright", 33723: "IPTC", 34377: "Photoshop",
               34665: "EXIF IFD", 34675: "ICC profile", 34853: "GPS IFD", 37724: "Photoshop layers",
               40965: "interoperability IFD", 50341: "PrintIM", 42016: "image unique ID"}


def _tiff(data: bytes) -> list[str]:
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None:
        raise ValueError("no TIFF byte order")
    (magic,) = struct.unpack(order + "H", data[2:4])
    if magic != 42:
        return [f"TIFF variant {magic} (BigTIFF?) is not walked: not checked"]
    found: list[str] = []
    (offset,) = struct.unpack(order + "I", data[4:8])
    seen: set[int] = set()
    page = 0
    while offset and len(seen) < _MAX_ITEMS:
        if offset in seen:
            raise ValueError("IFD loop")
        seen.add(offset)
        (count,) = struct.unpack(order + "H", data[offset : offset + 2])
        for index in range(count):
            entry = offset + 2 + 12 * index
            tag, _kind, _n = struct.unpack(order + "HHI", data[entry : entry + 8])
            if tag not in _TIFF_ALLOWED:
                name = _TIFF_NAMES.get(tag, "tag")
                found.append(f"{name} (tag {tag}, page {page})")
        (offset,) = struct.unpack(order + "I", data[offset + 2 + 12 * count : offset + 6 + 12 * count])
        page += 1
    return found


# --------------------------------------------------------------------------- HEIF / AVIF

_BMFF_TOP = {b"ftyp", b"meta", b"mdat", b"moov", b"free", b"skip"}
_HEIF_ITEMS = {b"hvc1", b"av01", b"grid", b"iden", b"iovl", b"hvt1", b"lhv1"}


def _boxes(data: bytes, start: int, end: int):
    pos = start
    for _ in range(_MAX_ITEMS):
        if pos + 8 > end:
            return
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {kind!r} overruns its container")
        yield kind, pos + header, pos + size
        pos += size


def _bmff(data: bytes) -> list[str]:
    found: list[str] = []
    last = 0
    for kind, body, end in _boxes(data, 0, len(data)):
        last = end
        if kind not in _BMFF_TOP:
            found.append(f"box {kind.decode('latin-1')!r} ({_n(end - body)})")
        if kind == b"meta":
            found += _heif_meta(data, body + 4, end)
        elif kind == b"moov":
            found += _moov(data, body, end)
    if last < len(data):
        found.append(f"{_n(len(data) - last)} after the last box")
    return found


def _heif_meta(data: bytes, start: int, end: int) -> list[str]:
    found: list[str] = []
    for kind, body, stop in _boxes(data, start, end):
        if kind in (b"xml ", b"bxml"):
            found.append(f"XML metadata box ({_n(stop - body)})")
        elif kind == b"iinf":
            version = data[body]
            pos = body + 4 + (2 if version == 0 else 4)
            for ikind, ibody, istop in _boxes(data, pos, stop):
                if ikind != b"infe" or data[ibody] < 2:
                    continue
                p = ibody + 4 + (2 if data[ibody] == 2 else 4) + 2
                item_type = data[p : p + 4]
                if item_type not in _HEIF_ITEMS:
                    rest = data[p + 4 : istop].split(b"\x00")
                    detail = f", {rest[1].decode('latin-1')}" if item_type == b"mime" and len(rest) > 1 else ""
                    label = {b"Exif": "EXIF", b"mime": "MIME"}.get(item_type, "item")
                    found.append(f"{label} item ({item_type.decode('latin-1')!r}{detail})")
        elif kind == b"iprp":
            for pkind, pbody, pstop in _boxes(data, body, stop):
                if pkind != b"ipco":
                    continue
                for ckind, cbody, _cstop in _boxes(data, pbody, pstop):
                    if ckind == b"colr" and data[cbody : cbody + 4] in (b"prof", b"rICC"):
                        found.append("ICC profile (colr property)")
    return found


def _moov(data: bytes, start: int, end: int) -> list[str]:
    found: list[str] = []
    for kind, body, stop in _boxes(data, start, end):
        if kind == b"udta":
            found.append(f"user data box udta ({_n(stop - body)})")
        elif kind == b"meta":
            found.append(f"movie metadata box ({_n(stop - body)})")
        elif kind in (b"trak", b"mdia", b"minf"):
            found += _moov(data, body, stop)
    return found


# --------------------------------------------------------------------------- BMP


def _bmp(data: bytes) -> list[str]:
    if data[:2] != b"BM":
        raise ValueError("no BMP header")
    found: list[str] = []
    (size,) = struct.unpack("<I", data[2:6])
    (header,) = struct.unpack("<I", data[14:18])
    if header >= 124 and data[14 + 56 : 14 + 60] in (b"DEBM", b"MBED"):
        found.append("embedded ICC profile")
    if size < len(data):
        found.append(f"{_n(len(data) - size)} after the bitmap")
    return found


_INSPECTORS = {"JPEG": _jpeg, "PNG": _png, "WEBP": _webp, "GIF": _gif, "TIFF": _tiff,
               "HEIF": _bmff, "AVIF": _bmff, "BMP": _bmp}
