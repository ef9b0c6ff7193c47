"""JPEG's segment structure: the one tokeniser the writer and the metadata report share.

:func:`scan_jpeg` walks a JPEG from SOI to EOI and returns its segments
(:class:`Segment`: marker, start, end; a scan's segment runs to the end of its
entropy-coded data). Two modes, one walk:

* **strict** (``strip``'s lossless JPEG cleaning copies structural segments
  byte for byte, so their lengths must be exactly right): a structural
  segment (tables, frame and scan headers) whose body is not exactly what it
  declares, a segment running past the end, a second SOI, or data that ends
  before EOI raises :class:`CorruptImageError`;
* **tolerant** (``inspect``'s report of a damaged file): the walk stops at
  the first such problem and returns what it read, ``complete=False``.

Both modes treat bytes between segments alike: fill bytes (``FF FF``) are
skipped, and any other stray bytes are skipped too and listed in
``JpegLayout.stray`` (offset, length). The writer never copies them; the
report lists them.

facesafe's release check (:mod:`facesafe._allowlist`) walks JPEGs with a
walker of its own, on purpose: see its docstring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._errors import CorruptImageError, UnsupportedImageError

__all__ = ["SOF_MARKERS", "STRUCTURAL", "Segment", "JpegLayout", "marker_name", "scan_jpeg"]

SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Segments a decoder needs; everything else (APPn, COM, JPGn, reserved) is metadata to a writer.
STRUCTURAL = SOF_MARKERS | {0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF}
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}
# The end of entropy-coded data: 0xFF followed by a marker byte (not stuffing 00, RSTn or fill FF).
_MARKER_AFTER_SCAN = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
_TRUNCATED = "truncated: the data ends before the end-of-image marker"


@dataclass(frozen=True)
class Segment:
    """One marker and its segment: ``data[start:end]``; a scan runs to the end of its entropy-coded data."""

    marker: int  # the byte after 0xFF
    start: int  # offset of the 0xFF
    end: int  # end (exclusive)

    def payload(self, data: bytes) -> bytes:
        """The segment's body, after its marker and length (empty for standalone markers)."""
        return data[self.start + 4 : self.end] if self.marker not in _STANDALONE else b""


@dataclass(frozen=True)
class JpegLayout:
    """What :func:`scan_jpeg` read: segments between SOI and EOI (both excluded) and the frame."""

    segments: tuple[Segment, ...]
    eoi_end: int  # offset just past the EOI marker (the data's length when incomplete)
    width: int
    height: int
    components: bytes  # component ids from the frame header
    stray: tuple[tuple[int, int], ...] = ()  # (offset, length) of bytes between segments
    complete: bool = True  # False: a tolerant walk stopped at a problem


def marker_name(marker: int) -> str:
    """``"APP1"``, ``"SOF0"``, ``"DQT"``, ... for the byte after 0xFF."""
    if 0xE0 <= marker <= 0xEF:
        return f"APP{marker - 0xE0}"
    if marker in SOF_MARKERS:
        return f"SOF{marker - 0xC0}"
    if 0xD0 <= marker <= 0xD7:
        return f"RST{marker - 0xD0}"
    names = {0xC4: "DHT", 0xCC: "DAC", 0xD8: "SOI", 0xD9: "EOI", 0xDA: "SOS", 0xDB: "DQT", 0xDC: "DNL",
             0xDD: "DRI", 0xDE: "DHP", 0xDF: "EXP", 0xFE: "COM", 0x01: "TEM"}  # fmt: skip
    return names.get(marker, f"0x{marker:02X}")


def _well_formed(marker: int, body: bytes) -> bool:
    """Whether a structural segment's body is exactly the tables/header it declares (JPEG spec, annex B)."""
    size = len(body)
    if marker in (0xDB, 0xC4):  # DQT: (id byte + 64 or 128 bytes) per table; DHT: (id + 16 counts + symbols)
        pos = 0
        while pos < size:
            if marker == 0xDB:
                pos += 1 + (128 if body[pos] >> 4 else 64)
            elif pos + 17 > size:
                return False
            else:
                pos += 17 + sum(body[pos + 1 : pos + 17])
        return pos == size and size > 0
    if marker in SOF_MARKERS:
        return size >= 6 and size == 6 + 3 * body[5]
    if marker == 0xDA:  # SOS header: count, 2 bytes per component, 3 spectral/approximation bytes
        return size >= 1 and size == 4 + 2 * body[0]
    if marker in (0xDD, 0xDC):  # DRI, DNL
        return size == 2
    if marker == 0xCC:  # DAC: 2 bytes per conditioning entry
        return size > 0 and size % 2 == 0
    return True  # DHP / EXP: hierarchical mode, copied as declared


class _Walk:
    """The state of one walk; :meth:`run` raises CorruptImageError at the first problem."""

    def __init__(self, data: bytes, name: str | None) -> None:
        self.data, self.name = data, name
        self.segments: list[Segment] = []
        self.stray: list[tuple[int, int]] = []
        self.frame: tuple[int, int, bytes] | None = None
        self.scans = 0
        self.eoi_end = len(data)

    def fail(self, reason: str) -> CorruptImageError:
        return CorruptImageError(self.name, reason)

    def next_marker(self, pos: int) -> int:
        """The offset of the next marker's 0xFF at or after ``pos``, skipping stray and fill bytes."""
        data, size = self.data, len(self.data)
        if pos >= size:
            raise self.fail(_TRUNCATED)
        if data[pos] != 0xFF:  # stray bytes between segments: skipped, never copied
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                raise self.fail(_TRUNCATED)
            self.stray.append((pos, nxt - pos))
            pos = nxt
        while pos + 1 < size and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        if pos + 1 >= size:
            raise self.fail(_TRUNCATED)
        return pos

    def run(self) -> None:
        data, size, pos = self.data, len(self.data), 2
        while True:
            pos = self.next_marker(pos)
            marker = data[pos + 1]
            if marker == 0xD9:
                if self.frame is None or not self.scans:
                    raise self.fail("no image data before the end-of-image marker")
                self.eoi_end = pos + 2
                return
            if marker in _STANDALONE or marker == 0x00:
                self.segments.append(Segment(marker, pos, pos + 2))
                pos += 2
                continue
            if marker == 0xD8:
                raise self.fail(f"unexpected start-of-image marker at byte {pos}")
            if pos + 4 > size:
                raise self.fail("truncated inside a segment header")
            pos = self.segment(marker, pos)

    def segment(self, marker: int, pos: int) -> int:
        """Read the segment with a length at ``pos``; return where the next one starts."""
        data = self.data
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise self.fail(f"truncated: {marker_name(marker)} segment at byte {pos} runs past the end")
        if marker in STRUCTURAL and not _well_formed(marker, data[pos + 4 : end]):
            # Copied verbatim, so its length must be exactly what decoders read: no room for hidden bytes.
            raise self.fail(f"malformed {marker_name(marker)} segment at byte {pos}")
        if marker in SOF_MARKERS:
            if length < 8:
                raise self.fail(f"{marker_name(marker)} frame header too short")
            count = data[pos + 9]
            if length < 8 + 3 * count:
                raise self.fail("frame header too short for its components")
            width, height = int.from_bytes(data[pos + 7 : pos + 9], "big"), int.from_bytes(data[pos + 5 : pos + 7], "big")
            self.frame = (width, height, bytes(data[pos + 10 + 3 * i] for i in range(count)))
        if marker == 0xDA:
            if self.frame is None:
                raise self.fail("scan before any frame header")
            self.scans += 1
            found = _MARKER_AFTER_SCAN.search(data, end)
            if found is None:
                raise self.fail("truncated: the image data ends before the end-of-image marker")
            end = found.start()
        self.segments.append(Segment(marker, pos, end))
        return end


def scan_jpeg(data: bytes, name: str | None = None, *, strict: bool = True) -> JpegLayout:
    """Walk a JPEG's segments from SOI to EOI (see the module docstring for the two modes).

    Raises :class:`UnsupportedImageError` when ``data`` does not start with
    SOI; in strict mode, :class:`CorruptImageError` (naming ``name``) at the
    first structural problem.
    """
    if data[:2] != b"\xff\xd8":
        raise UnsupportedImageError(name, "not a JPEG")
    walk = _Walk(data, name)
    try:
        walk.run()
    except CorruptImageError:
        if strict:
            raise
        width, height, components = walk.frame or (0, 0, b"")
        return JpegLayout(tuple(walk.segments), len(data), width, height, components, tuple(walk.stray), False)
    assert walk.frame is not None  # run() returns only after a frame (strict mode raises otherwise)
    width, height, components = walk.frame
    return JpegLayout(tuple(walk.segments), walk.eoi_end, width, height, components, tuple(walk.stray))
