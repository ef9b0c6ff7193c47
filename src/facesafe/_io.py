"""Reading images into pixels and writing pixels into clean files.

Reading (:func:`load_image`, :func:`read_image`)
    The format is recognised from the content (:func:`sniff_format`), never from
    the file name (except TIFF-based camera raw: :mod:`facesafe._formats`,
    which also lists the formats recognised but not decoded: those raise
    ``UnsupportedImageError("unsupported image format: ...")``). Every frame is decoded to uint8 RGB in display orientation:
    EXIF orientation 1-8 is applied to the pixels, ICC-tagged images are
    converted to sRGB, grayscale / palette / CMYK / 16-bit data is normalised,
    and alpha is kept alongside (never merged), so that redaction changes the
    RGB under any alpha.

    The pixel limit is checked from the header, before anything is decoded.
    Files are opened through the Pillow format plugin classes directly (what
    ``Image.open`` does after it recognises a format), which skips Pillow's own
    *global* decompression-bomb check (``Image.MAX_IMAGE_PIXELS``, about
    179 MP); facesafe applies its own, per call, ``max_pixels`` instead and never
    touches Pillow's globals. (Pillow's GIF decoder still runs its global check
    when a frame grows the canvas; that error is reported as ImageTooLargeError.)
    HEIF is read through pillow-heif's ``HeifImageFile`` class the same way, and
    written through pillow-heif's own API, so its opener is never registered
    into Pillow's global registry. libheif applies HEIF's irot/imir boxes
    itself (pillow-heif then reports orientation 1), so nothing turns twice.

    MPO files (JPEGs from dual-camera phones) are read as their primary image
    only: the extra MPO images are previews/disparity views of the same scene
    and are never written out, so dropping them leaks nothing.

Writing (:func:`encode_image`, :func:`write_image`)
    Outputs are encoded from fresh pixel arrays (``Image.fromarray``), so they
    carry no EXIF, GPS, XMP, IPTC, ICC profile, comment, text chunk, thumbnail
    or trailing data: there is nothing to forget to delete. Files are written
    atomically: to a temporary file in the destination folder, then renamed
    into place (``os.replace``, or ``os.link`` when an existing file must not
    be clobbered). A failed write leaves neither a partial output nor the
    temporary file.
"""

from __future__ import annotations

import importlib
import io
import os
import pathlib
import re
import secrets
import struct
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from ._errors import (
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    MultiFrameImageError,
    OutputError,
    OutputExistsError,
    UnsupportedImageError,
)
from ._formats import HEAD_BYTES, READ_FORMATS, format_for_suffix, identify, unsupported_reason

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "MetadataWarning",
    "Picture",
    "sniff_format",
    "load_image",
    "read_image",
    "output_format",
    "suffix_for",
    "format_for_suffix",
    "encode_image",
    "write_image",
    "atomic_write_bytes",
]
# Also shared with _metadata (facesafe-internal, so not in __all__): open_source, check_max_pixels,
# normalise_format, plugin_class, error_reason, too_large, read_orientation, jpeg_exif, exif_orientation.

#: Default maximum pixel count (width x height x frames) an input may declare.
DEFAULT_MAX_PIXELS = 200_000_000

#: Every format facesafe reads, by the name :func:`sniff_format` returns (camera
#: raw, ``"RAW"``, needs the ``facesafe[raw]`` extra).
FORMATS = READ_FORMATS

_SUFFIXES = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "GIF": ".gif",
    "HEIF": ".heic",
    "AVIF": ".avif",
}
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF", "HEIC": "HEIF"}
_SINGLE_FRAME_FORMATS = {"JPEG", "BMP"}
# Inputs facesafe reads but does not write: the format their outputs take by default.
# Lossless PNG for all but camera raw, so that no loss is added on top of the source's
# (a raw file is developed, not kept: its output is a photo, JPEG like the camera's own).
_OUTPUT_FOR_READ_ONLY = {
    "BMP": "PNG", "PNM": "PNG", "PSD": "PNG", "JPEG2000": "PNG", "ICO": "PNG", "CUR": "PNG", "QOI": "PNG",
    "JXL": "PNG", "RAW": "JPEG",
}  # fmt: skip
# Read-only formats that are lossless by nature (their pixels may be written losslessly, e.g. to WebP).
_LOSSLESS_FORMATS = {"PNG": True, "GIF": True, "BMP": True, "PNM": True, "PSD": True, "ICO": True, "CUR": True, "QOI": True}



class MetadataWarning(UserWarning):
    """Metadata that steers decoding (EXIF orientation, ICC profile) was unreadable and was ignored."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, eq=False)
class Picture:
    """Every frame of one decoded image file, in display orientation.

    ``frames`` are uint8 RGB ``(H, W, 3)`` arrays of one size (read-only when
    they come from :func:`load_image`); ``alpha`` holds one uint8 ``(H, W)``
    array per frame, or is ``None`` when the image is opaque. Use
    ``dataclasses.replace(picture, frames=...)`` to swap pixels.
    """

    frames: tuple[np.ndarray, ...]
    alpha: tuple[np.ndarray, ...] | None
    format: str
    durations: tuple[int, ...] | None = None
    loop: int | None = None
    lossless: bool = False

    def __post_init__(self) -> None:
        frames = tuple(self.frames)
        if not frames:
            raise ValueError("frames: a Picture needs at least one frame")
        shape = frames[0].shape
        for frame in frames:
            if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError("frames: every frame must be a uint8 RGB array of shape (H, W, 3)")
            if frame.shape != shape:
                raise ValueError(f"frames: all frames must have one size, got {frame.shape} and {shape}")
        object.__setattr__(self, "frames", frames)
        if self.alpha is not None:
            alpha = tuple(self.alpha)
            if len(alpha) != len(frames):
                raise ValueError(f"alpha: {len(alpha)} alpha planes for {len(frames)} frames")
            for plane in alpha:
                if not isinstance(plane, np.ndarray) or plane.dtype != np.uint8 or plane.shape != shape[:2]:
                    raise ValueError(f"alpha: every plane must be a uint8 array of shape {shape[:2]}")
            object.__setattr__(self, "alpha", alpha)
        if self.durations is not None:
            durations = tuple(int(d) for d in self.durations)
            if len(durations) != len(frames):
                raise ValueError(f"durations: {len(durations)} durations for {len(frames)} frames")
            object.__setattr__(self, "durations", durations)
        fmt = _FORMAT_ALIASES.get(str(self.format).upper(), str(self.format).upper())
        object.__setattr__(self, "format", fmt)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        height, width = self.frames[0].shape[:2]
        return width, height

    @property
    def n_frames(self) -> int:
        """Number of frames (1 for a still image)."""
        return len(self.frames)


# --------------------------------------------------------------------------- sniffing


def sniff_format(head: bytes) -> str | None:
    """Return the image format the first bytes of a file announce, or ``None`` when they announce no image.

    Looks only at magic numbers (give it the first :data:`facesafe._formats.HEAD_BYTES`
    bytes; 32 are enough for all but PICT and TIFF-based camera raw, which
    also need the file's name: see :func:`facesafe._formats.identify`).
    Returns one of :data:`FORMATS`, or the name of an image format facesafe
    recognises but does not decode (``"XCF"``, ``"EXR"``, ...). Fast and
    independent of Pillow.

    >>> sniff_format(b"\\xff\\xd8\\xff\\xe0")
    'JPEG'
    >>> sniff_format(b"gimp xcf v011")
    'XCF'
    >>> sniff_format(b"hello") is None
    True
    """
    return identify(head)


# --------------------------------------------------------------------------- reading


def _source_name(src: Any) -> str | None:
    return None if isinstance(src, (bytes, bytearray, memoryview)) else os.fspath(src)


@contextmanager
def open_source(src: str | os.PathLike[str] | bytes) -> Iterator[tuple[IO[bytes], str | None]]:
    """Yield a binary file object for ``src`` (a path or bytes) and its name."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(src)), None
        return
    if not isinstance(src, (str, os.PathLike)):
        raise TypeError(f"src: expected a path or bytes, got {type(src).__name__}")
    name = os.fspath(src)
    try:
        fp = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ImageError(name, f"cannot read: {exc.strerror or exc}") from exc
    try:
        yield fp, name
    finally:
        fp.close()


def check_max_pixels(max_pixels: int) -> None:
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise ValueError(f"max_pixels: must be a positive int, got {max_pixels!r}")


# Format -> (module, class) of the Pillow image class that decodes it, imported when first needed.
# The classes are used directly, never registered (see the module docstring).
_DECODERS = {
    "JPEG": ("PIL.JpegImagePlugin", "JpegImageFile"),  # not jpeg_factory: an MPO yields its primary image only
    "PNG": ("PIL.PngImagePlugin", "PngImageFile"),
    "GIF": ("PIL.GifImagePlugin", "GifImageFile"),
    "WEBP": ("PIL.WebPImagePlugin", "WebPImageFile"),
    "TIFF": ("PIL.TiffImagePlugin", "TiffImageFile"),
    "BMP": ("PIL.BmpImagePlugin", "BmpImageFile"),
    "HEIF": ("pillow_heif.as_plugin", "HeifImageFile"),
    "AVIF": ("PIL.AvifImagePlugin", "AvifImageFile"),
    "PNM": ("PIL.PpmImagePlugin", "PpmImageFile"),
    "PSD": ("PIL.PsdImagePlugin", "PsdImageFile"),
    "JPEG2000": ("PIL.Jpeg2KImagePlugin", "Jpeg2KImageFile"),
    "ICO": ("PIL.IcoImagePlugin", "IcoImageFile"),  # the largest image of the icon
    "CUR": ("PIL.CurImagePlugin", "CurImageFile"),
    "QOI": ("PIL.QoiImagePlugin", "QoiImageFile"),
    "JXL": ("facesafe._decoders", "JxlImageFile"),
    "RAW": ("facesafe._decoders", "RawImageFile"),
}


def plugin_class(fmt: str, name: str | None) -> type:
    """The Pillow ImageFile class that decodes ``fmt`` (imported lazily); UnsupportedImageError when none here does."""
    reason = unsupported_reason(fmt)
    if reason is not None or fmt not in _DECODERS:
        raise UnsupportedImageError(name, reason or f"unsupported image format: {fmt}")
    if fmt == "AVIF":
        from PIL import features

        if not features.check("avif"):  # pragma: no cover - Pillow >= 11.2 wheels have it
            raise UnsupportedImageError(name, "AVIF decoding is not available in this Pillow build")
    module, cls = _DECODERS[fmt]
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:  # pragma: no cover - pillow-heif is a dependency
        raise UnsupportedImageError(name, f"unsupported image format: {fmt} needs {module.split('.')[0]} ({exc})") from exc


def too_large(name: str | None, width: int, height: int, frames: int, max_pixels: int) -> ImageTooLargeError:
    declared = f"{width}x{height}" + (f" x {frames} frames" if frames > 1 else "")
    return ImageTooLargeError(
        name, f"declares {declared} = {width * height * frames:,} pixels, over the limit of {max_pixels:,} (max_pixels)"
    )


def _webp_lossless(fp: IO[bytes]) -> bool:
    """Whether a WebP stream is coded losslessly (VP8L only, no lossy VP8 chunk)."""
    fp.seek(12)
    kinds: set[bytes] = set()
    while True:
        header = fp.read(8)
        if len(header) < 8:
            break
        fourcc, size = header[:4], int.from_bytes(header[4:], "little")
        if fourcc in (b"VP8 ", b"VP8L"):
            kinds.add(fourcc)
        if fourcc == b"ANMF":  # frame: 16 bytes of geometry, then its own chunks
            fp.seek(16, io.SEEK_CUR)
            size -= 16
            continue
        fp.seek(size + (size & 1), io.SEEK_CUR)
    return kinds == {b"VP8L"}


_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


def exif_orientation(block: bytes) -> int | None:
    """The orientation tag of an EXIF block's first IFD (None when absent), checking the IFD on the way.

    ``block`` is TIFF-structured (``II*\\0``/``MM\\0*``), optionally after an
    ``Exif\\0\\0`` header. Raises ValueError when the IFD or a value it points
    to lies outside the block, or the orientation has an unexpected type.
    """
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    if block[:4] not in (b"II*\x00", b"MM\x00*"):
        raise ValueError("no TIFF header")
    order = "<" if block[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack_from(order + "I", block, 4)
        (count,) = struct.unpack_from(order + "H", block, offset)
    except struct.error:
        raise ValueError("first IFD outside the block") from None
    if offset + 2 + 12 * count > len(block):
        raise ValueError(f"first IFD ({count} entries) runs past the end of the block")
    orientation = None
    for index in range(count):
        tag, kind, n, pointer = struct.unpack_from(order + "HHII", block, offset + 2 + 12 * index)
        size = _TIFF_TYPE_SIZES.get(kind, 0) * n
        if size > 4 and pointer + size > len(block):
            raise ValueError(f"tag 0x{tag:04X} points past the end of the block")
        if tag == 0x0112:
            if kind != 3 or n != 1:
                raise ValueError("orientation tag of unexpected type")
            orientation = struct.unpack_from(order + "H", block, offset + 10 + 12 * index)[0]
    return orientation


def read_orientation(
    exif: Callable[[], Mapping[int, Any]], block: bytes | None, name: str | None, *, check_block: bool = True
) -> int:
    """facesafe's one orientation reader: EXIF orientation 1-8 as Pillow reads it; 1 (with a warning) when unreadable.

    ``exif`` returns Pillow's reading of the tags: ``im.getexif`` of an opened
    image (what :func:`load_image` applies), or :func:`jpeg_exif` of a JPEG's
    own blocks (what ``strip`` checks before copying a JPEG losslessly); both
    read the same way, so both decide alike. ``block`` is the raw EXIF
    block: with ``check_block``, a damaged one (Pillow then reads what it can)
    earns a :class:`MetadataWarning` naming the file.
    """
    label = name or "<bytes>"
    try:
        value = exif().get(0x0112, 1)
    except Exception as exc:  # a corrupt EXIF block must not cost the (fine) pixels
        warnings.warn(f"{label}: unreadable EXIF ({exc}); orientation taken as 1", MetadataWarning, stacklevel=4)
        return 1
    if not (isinstance(value, int) and 1 <= value <= 8):
        warnings.warn(f"{label}: invalid EXIF orientation {value!r}; orientation taken as 1", MetadataWarning, stacklevel=4)
        return 1
    if check_block and isinstance(block, bytes) and block:
        try:
            exif_orientation(block)
        except ValueError as exc:
            warnings.warn(f"{label}: damaged EXIF block ({exc}); orientation taken as {value}", MetadataWarning, stacklevel=4)
    return value


_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')


def jpeg_exif(block: bytes | None, xmp: bytes | None) -> Mapping[int, Any]:
    """A JPEG's orientation tag as ``JpegImageFile.getexif()`` reads it, from its joined APP1 EXIF blocks and its XMP.

    A well-formed block is read by :func:`exif_orientation` (the first IFD's
    orientation only, checked: what Pillow reads from such a block, without
    parsing every tag); a damaged one by Pillow's own parser. The XMP
    ``tiff:Orientation`` counts when EXIF has none, as in Pillow.
    """
    from PIL import Image

    tags: dict[int, Any] | Image.Exif = {}
    if block is not None:
        try:
            value = exif_orientation(block)
            tags = {} if value is None else {0x0112: value}
        except ValueError:
            tags = Image.Exif()
            tags.load(block)
    if 0x0112 not in tags and xmp and (match := _XMP_ORIENTATION.search(xmp)):
        tags[0x0112] = int(match[2])
    return tags


_TRANSPOSE = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}  # EXIF orientation -> PIL.Image.Transpose


class _ColourConverter:
    """Turns Pillow frames into (RGB, alpha) uint8 arrays, through the file's ICC profile."""

    def __init__(self, icc: bytes | None, name: str | None) -> None:
        self.icc = icc
        self.name = name
        self._transforms: dict[str, Any] = {}

    def _to_srgb(self, colour: Any) -> Any:
        from PIL import ImageCms

        transform: Any = self._transforms.get(colour.mode)  # a transform, or False: the profile is unusable
        if transform is None:
            assert self.icc is not None  # called only for a picture with a profile
            try:
                source = ImageCms.ImageCmsProfile(io.BytesIO(self.icc))
                target = ImageCms.createProfile("sRGB")
                transform = ImageCms.buildTransform(source, target, colour.mode, "RGB")
            except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
                warnings.warn(
                    f"{self.name or '<bytes>'}: ICC profile unusable for {colour.mode} pixels ({exc}); "
                    "colours taken as sRGB",
                    MetadataWarning,
                    stacklevel=5,
                )
                transform = False
            self._transforms[colour.mode] = transform
        if transform is False:
            return colour.convert("RGB")
        return ImageCms.applyTransform(colour, transform)

    def __call__(self, im: Any) -> tuple[Any, Any | None]:
        from PIL import Image

        mode = im.mode
        alpha = None
        if (mode == "P" and ("transparency" in im.info or im.palette.mode == "RGBA")) or mode == "PA":
            im = im.convert("RGBA")
        elif mode == "P":
            im = im.convert("RGB")
        elif mode in ("RGBa", "La"):
            im = im.convert("RGBA" if mode == "RGBa" else "LA")
        elif mode == "1":
            im = im.convert("L")
        mode = im.mode
        if mode in ("RGBA", "LA"):
            alpha = im.getchannel("A")
            im = im.convert("RGB" if mode == "RGBA" else "L")
        if mode.startswith("I") or mode == "F":
            im = Image.fromarray(_to_uint8(np.asarray(im), mode), "L")
        if im.mode not in ("L", "RGB", "CMYK", "YCbCr", "LAB"):
            try:
                im = im.convert("RGB")
            except (ValueError, OSError) as exc:
                raise UnsupportedImageError(self.name, f"pixel mode {im.mode} is not supported") from exc
        if self.icc and im.mode in ("L", "RGB", "CMYK", "LAB"):
            colour = self._to_srgb(im)
        else:
            colour = im if im.mode == "RGB" else im.convert("RGB")
        return colour, alpha


def _to_uint8(array: np.ndarray, mode: str) -> np.ndarray:
    """16/32-bit integer or float samples -> uint8, scaled (not clipped) from their full range."""
    if mode == "F":
        array = np.nan_to_num(array.astype(np.float64))
        top = 1.0 if array.size and array.max() <= 1.0 else 255.0
        return np.clip(np.rint(array * (255.0 / top)), 0, 255).astype(np.uint8)
    wide = np.clip(array.astype(np.int64), 0, 65535)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def load_image(
    src: str | os.PathLike[str] | bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None
) -> Picture:
    """Decode every frame of an image file (a path or its bytes) into a :class:`Picture`.

    The format is recognised from the content. Pixels come out uint8 RGB in
    display orientation and in sRGB; alpha, when the file has it, is kept
    apart. An image declaring more than ``max_pixels`` pixels (width x height
    x frames) is rejected from its header, before decoding.

    Raises :class:`ImageError` subclasses naming the file: UnsupportedImageError
    (empty, not an image), CorruptImageError (truncated, undecodable),
    ImageTooLargeError. A damaged EXIF block or unusable ICC profile only
    emits a :class:`MetadataWarning` naming the file (orientation is then what
    Pillow could read, else 1; colours are taken as sRGB). Pillow's own
    warnings pass through unchanged.

    ``name``, for bytes, is the file's name: it labels errors and tells a
    TIFF-based camera raw (``.nef``, ``.dng``...) from a TIFF when the
    content alone does not (:func:`facesafe._formats.identify`).
    """
    check_max_pixels(max_pixels)
    with open_source(src) as (fp, opened):
        name = opened or name
        head = fp.read(HEAD_BYTES)
        if not head:
            raise UnsupportedImageError(name, "empty file")
        fmt = identify(head, name)
        if fmt is None:
            raise UnsupportedImageError(name, "not a supported image (its content is no image format facesafe knows)")
        cls = plugin_class(fmt, name)
        fp.seek(0)
        frames, alphas, durations, loop, lossless = _decode(fp, cls, fmt, name, max_pixels)
    alpha_planes = None
    if any(a is not None for a in alphas):
        opaque = None
        planes = []
        for a in alphas:
            if a is None:
                if opaque is None:
                    opaque = _readonly(np.full((frames[0].shape[0], frames[0].shape[1]), 255, np.uint8))
                a = opaque
            planes.append(a)
        alpha_planes = tuple(planes)
    return Picture(
        frames=tuple(frames),
        alpha=alpha_planes,
        format=fmt,
        durations=tuple(durations) if len(frames) > 1 else None,
        loop=int(loop) if isinstance(loop, (int, float)) and len(frames) > 1 else None,
        lossless=lossless,
    )


def _decode(fp: IO[bytes], cls: type, fmt: str, name: str | None, max_pixels: int) -> tuple:
    """Open with the plugin class, check the declared size, then decode and normalise every frame."""
    from PIL import Image

    try:
        im = cls(fp, name or "")
    except ImageError:
        raise
    except Exception as exc:  # Pillow signals bad data with many exception types
        raise CorruptImageError(name, f"cannot read {fmt} header: {error_reason(exc)}") from exc
    try:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise CorruptImageError(name, f"declares an empty {width}x{height} image")
        if width * height > max_pixels:
            raise too_large(name, width, height, 1, max_pixels)
        n_frames = 1 if fmt == "PSD" else int(getattr(im, "n_frames", 1))  # PSD: the composite, not its layers
        if width * height * n_frames > max_pixels:
            raise too_large(name, width, height, n_frames, max_pixels)
        lossless = _LOSSLESS_FORMATS.get(fmt, False)
        if fmt == "TIFF":
            lossless = im.info.get("compression") not in ("jpeg", "tiff_jpeg")
        elif fmt == "WEBP":
            lossless = _webp_lossless(fp)
        convert = None
        frames: list[np.ndarray] = []
        alphas: list[np.ndarray | None] = []
        durations: list[int] = []
        for index in range(n_frames):
            if index:
                im.seek(index)
            if im.size != (width, height):
                if im.size[0] * im.size[1] * n_frames > max_pixels:
                    raise too_large(name, im.size[0], im.size[1], n_frames, max_pixels)
                raise UnsupportedImageError(
                    name, f"frame {index} is {im.size[0]}x{im.size[1]}, frame 0 is {width}x{height}; "
                    "frames of different sizes are not supported"
                )
            im.load()
            if convert is None:  # after loading: JPEG XL and raw know their profile only once decoded
                convert = _ColourConverter(im.info.get("icc_profile") or None, name)
            colour, alpha = convert(im)
            orientation = read_orientation(im.getexif, im.info.get("exif"), name, check_block=index == 0)
            if orientation != 1:
                colour = colour.transpose(_TRANSPOSE[orientation])
                alpha = None if alpha is None else alpha.transpose(_TRANSPOSE[orientation])
            frames.append(_readonly(np.asarray(colour)))
            alphas.append(None if alpha is None else _readonly(np.asarray(alpha)))
            durations.append(int(round(float(im.info.get("duration") or 0))))
        loop = im.info.get("loop")
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(name, f"declares too many pixels ({exc})") from exc
    except MemoryError as exc:
        raise ImageTooLargeError(name, "not enough memory to decode it") from exc
    except Exception as exc:
        raise CorruptImageError(name, f"cannot decode {fmt}: {error_reason(exc)}") from exc
    finally:
        im.close()
    return frames, alphas, durations, loop, lossless


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    if array.flags.writeable and array.base is not None:
        array = array.copy()  # do not freeze (or share) a buffer someone else owns
    array.setflags(write=False)
    return array


def error_reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "truncated" in text or isinstance(exc, (EOFError, struct.error)):
        return f"truncated or damaged data ({text})"
    return text


def read_image(src: str | os.PathLike[str] | bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a single-frame image into a uint8 RGB ``(H, W, 3)`` array.

    Same decoding as :func:`load_image` (orientation, sRGB; alpha is dropped,
    the RGB under it is returned). A file with several frames raises
    :class:`MultiFrameImageError`: use :func:`load_image` to get every frame.
    """
    picture = load_image(src, max_pixels=max_pixels)
    if picture.n_frames > 1:
        raise MultiFrameImageError(
            _source_name(src), f"holds {picture.n_frames} frames; use facesafe.load_image to process every frame"
        )
    return picture.frames[0]


# --------------------------------------------------------------------------- formats


def normalise_format(fmt: str, parameter: str = "format") -> str:
    if not isinstance(fmt, str):
        raise TypeError(f"{parameter}: expected a format name, got {type(fmt).__name__}")
    name = _FORMAT_ALIASES.get(fmt.upper(), fmt.upper())
    if name not in _SUFFIXES:
        raise ValueError(f"{parameter}: unknown format {fmt!r}; expected one of {', '.join(_SUFFIXES)}")
    return name


def _can_encode(fmt: str) -> bool:
    if fmt == "AVIF":
        from PIL import features

        return bool(features.check("avif"))
    if fmt == "HEIF":
        try:
            import pillow_heif
        except ImportError:  # pragma: no cover
            return False
        return bool(pillow_heif.libheif_info().get("HEIF"))
    return True


def output_format(input_format: str) -> str:
    """The format an output takes by default for an input in ``input_format``.

    The input's own format where facesafe can write it faithfully (JPEG, PNG,
    WebP, TIFF, GIF, HEIF, AVIF); BMP becomes PNG (lossless, smaller), and
    HEIF/AVIF fall back to JPEG/PNG when no encoder is installed. Formats
    facesafe reads but does not write become PNG (PNM, PSD, JPEG 2000, ICO,
    CUR, QOI, JPEG XL: no loss added), camera raw becomes JPEG (a developed
    photo).
    """
    if isinstance(input_format, str) and input_format.upper() in _OUTPUT_FOR_READ_ONLY:
        return _OUTPUT_FOR_READ_ONLY[input_format.upper()]
    fmt = normalise_format(input_format, "input_format")
    if fmt == "HEIF" and not _can_encode("HEIF"):
        return "JPEG"  # pragma: no cover - the pillow-heif wheels ship x265
    if fmt == "AVIF" and not _can_encode("AVIF"):
        return "PNG"  # pragma: no cover
    return fmt


def suffix_for(format: str) -> str:
    """The file suffix for a format: ``".jpg"``, ``".png"``, ``".webp"``, ``".tif"``, ``".heic"``, ..."""
    return _SUFFIXES[normalise_format(format)]


# --------------------------------------------------------------------------- writing


def _as_picture(image: np.ndarray | Picture) -> Picture:
    if isinstance(image, Picture):
        return image
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image: expected a uint8 RGB array of shape (H, W, 3), got {image.dtype} {image.shape}")
        return Picture(frames=(image,), alpha=None, format="PNG")
    raise TypeError(f"image: expected a numpy array or a Picture, got {type(image).__name__}")


def encode_image(image: np.ndarray | Picture, *, format: str, quality: int = 92) -> bytes:
    """Encode pixels into the bytes of a ``format`` file that carries nothing but pixels.

    ``image`` is a uint8 RGB ``(H, W, 3)`` array or a :class:`Picture`; a
    Picture keeps its alpha (except in JPEG, which has none: the RGB under it
    is written), its frames and their durations (GIF, WebP, PNG, TIFF, HEIF,
    AVIF). ``quality`` (1-100) applies to lossy codecs; WebP is written
    losslessly when the picture came from a lossless source.
    """
    from PIL import Image

    fmt = normalise_format(format)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality: must be an int from 1 to 100, got {quality!r}")
    picture = _as_picture(image)
    if picture.n_frames > 1 and fmt in _SINGLE_FRAME_FORMATS:
        raise ValueError(f"format: {fmt} holds one frame, the picture has {picture.n_frames}; use GIF, WEBP, PNG or TIFF")
    if not _can_encode(fmt):
        raise ValueError(f"format: no {fmt} encoder is installed")
    keep_alpha = picture.alpha is not None and fmt != "JPEG"
    images = []
    for index, frame in enumerate(picture.frames):
        rgb = Image.fromarray(np.ascontiguousarray(frame), "RGB")
        if keep_alpha and picture.alpha is not None:  # (keep_alpha implies it; said again for the type checker)
            rgb.putalpha(Image.fromarray(np.ascontiguousarray(picture.alpha[index]), "L"))
        images.append(rgb)
    first, rest = images[0], images[1:]
    options: dict[str, Any] = {}
    if rest:
        options.update(save_all=True, append_images=rest)
        if picture.durations is not None and fmt in ("GIF", "WEBP", "PNG", "AVIF"):
            options["duration"] = list(picture.durations)
        if fmt in ("GIF", "WEBP", "PNG", "AVIF") and picture.loop is not None:
            options["loop"] = picture.loop  # None: the format's default (GIF: play once, others: forever)
    if fmt == "JPEG":
        options.update(quality=quality)
    elif fmt == "WEBP":
        options.update(quality=quality, lossless=picture.lossless, exact=keep_alpha)
    elif fmt == "TIFF":
        options.update(compression="tiff_adobe_deflate")
    elif fmt == "AVIF":
        options.update(quality=quality)
    elif fmt == "GIF":
        options.update(optimize=False)
    buffer = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        heif = pillow_heif.from_pillow(first)
        for extra in rest:
            heif.add_from_pillow(extra)
        heif.save(buffer, quality=quality)
    else:
        first.save(buffer, fmt, **options)
    return buffer.getvalue()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> pathlib.Path:
    """Write ``data`` to ``path`` atomically; never clobber an existing file unless ``overwrite``.

    The bytes go to a temporary file in the destination folder (created if
    missing), which is then renamed into place; on any error the temporary
    file is removed and nothing appears at ``path``.
    """
    target = pathlib.Path(path)
    if not overwrite and os.path.lexists(target):
        raise OutputExistsError(target, "already exists (pass overwrite to replace it)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(target, f"cannot create folder {target.parent}: {exc.strerror or exc}") from exc
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.facesafe-tmp")
    try:
        # O_EXCL on a fresh random name; mode 0o666 so the umask applies as for any new file.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        if overwrite:
            os.replace(temp, target)
        else:
            try:
                os.link(temp, target)  # fails if target appeared meanwhile: no clobbering
            except FileExistsError:
                raise OutputExistsError(target, "already exists (pass overwrite to replace it)") from None
            except OSError:  # file systems without hard links
                if os.path.lexists(target):
                    raise OutputExistsError(target, "already exists (pass overwrite to replace it)") from None
                os.replace(temp, target)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(target, f"cannot write: {exc.strerror or exc}") from exc
    finally:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
    return target


def write_image(
    path: str | os.PathLike[str],
    image: np.ndarray | Picture,
    *,
    format: str | None = None,
    quality: int = 92,
    overwrite: bool = False,
) -> pathlib.Path:
    """Encode ``image`` from its pixels (see :func:`encode_image`) and write it atomically to ``path``.

    ``format`` defaults to the one ``path``'s suffix names. An existing file is
    never replaced unless ``overwrite=True`` (:class:`OutputExistsError`).
    Returns the path written.
    """
    if format is None:
        format = format_for_suffix(path)
        if format is None:
            raise ValueError(f"format: cannot tell the format from {os.fspath(path)!r}; pass format=")
    if not overwrite and os.path.lexists(path):
        raise OutputExistsError(path, "already exists (pass overwrite to replace it)")
    data = encode_image(image, format=format, quality=quality)
    return atomic_write_bytes(path, data, overwrite=overwrite)

