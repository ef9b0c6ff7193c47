"""Pillow image classes for the formats Pillow itself does not decode: JPEG XL and camera raw.

They plug into :func:`facesafe.load_image` like Pillow's own plugin classes
(opened directly, never registered into Pillow's global registry), so their
pixels take the same road: size limit from the header, then uint8 RGB, then
a fresh, metadata-free encoding on writing.

JPEG XL (pillow-jxl-plugin's libjxl bindings)
    The plugin package registers itself into Pillow when imported; facesafe
    loads only its compiled decoder module (``pillow_jxl.pillow_jxl``), which
    registers nothing. The codestream's size header is read first, so that an
    image over ``max_pixels`` is refused before libjxl allocates anything.
    libjxl applies the codestream's orientation itself; the EXIF box is
    ignored (it must not turn the pixels twice). A JPEG XL that losslessly
    recompresses a JPEG decodes back to that JPEG, which is then read as one
    (its EXIF orientation applied).

Camera raw (rawpy, LibRaw; the ``facesafe[raw]`` extra)
    Developed with the camera's white balance into 8-bit sRGB, turned as the
    camera recorded. The sensor size is read before anything is developed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import pathlib
import sys
from typing import Any

from PIL import Image, ImageFile

__all__ = ["JxlImageFile", "RawImageFile", "jxl_size"]


def _jxl_module() -> Any:
    """pillow-jxl-plugin's compiled module, loaded without the package ``__init__`` (which registers a Pillow plugin)."""
    name = "pillow_jxl.pillow_jxl"
    if name in sys.modules:  # the caller imported the plugin: it is registered already
        return sys.modules[name]
    spec = importlib.util.find_spec("pillow_jxl")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pillow-jxl-plugin is not installed")
    folder = pathlib.Path(next(iter(spec.submodule_search_locations)))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"pillow_jxl{suffix}"
        if path.exists():
            loader = importlib.machinery.ExtensionFileLoader(name, str(path))
            module_spec = importlib.util.spec_from_loader(name, loader)
            assert module_spec is not None  # a loader was given
            module = importlib.util.module_from_spec(module_spec)
            loader.exec_module(module)
            # Not put in sys.modules: a later ``import pillow_jxl`` must run the package as usual (PyO3 then
            # hands it this same module object).
            return module
    raise ImportError(f"pillow-jxl-plugin's decoder module is missing from {folder}")


class _Bits:
    """Reads JPEG XL header fields: bits least significant first."""

    def __init__(self, data: bytes) -> None:
        self.value, self.pos = int.from_bytes(data, "little"), 0

    def read(self, n: int) -> int:
        out = (self.value >> self.pos) & ((1 << n) - 1)
        self.pos += n
        return out

    def u32_size(self) -> int:
        return self.read((9, 13, 18, 30)[self.read(2)]) + 1


_JXL_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def _jxl_codestream(data: bytes) -> bytes:
    """The start of the codestream: the data itself, or a container's jxlc box or jxlp boxes joined."""
    if data[:2] == b"\xff\x0a":
        return data
    pos = 0
    parts: list[bytes] = []
    while pos + 8 <= len(data) and sum(map(len, parts)) < 64:
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = len(data) - pos
        if kind == b"jxlc":
            return data[pos + header : pos + size]
        if kind == b"jxlp":  # a part of the codestream, after a 4-byte part counter
            parts.append(data[pos + header + 4 : pos + size])
        if size < header:
            break
        pos += size
    if not parts:
        raise ValueError("no JPEG XL codestream box")
    return b"".join(parts)


def jxl_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a JPEG XL file's size header (codestream or container). Raises ValueError."""
    stream = _jxl_codestream(data)
    if stream[:2] != b"\xff\x0a" or len(stream) < 11:
        raise ValueError("no JPEG XL codestream signature")
    bits = _Bits(stream[2:11])
    small = bits.read(1)
    height = (bits.read(5) + 1) * 8 if small else bits.u32_size()
    ratio = bits.read(3)
    if ratio:
        num, den = _JXL_RATIOS[ratio]
        width = height * num // den
    else:
        width = (bits.read(5) + 1) * 8 if small else bits.u32_size()
    return width, height


class JxlImageFile(ImageFile.ImageFile):
    """A JPEG XL image (a still; an animation's first frame), decoded by libjxl when loaded."""

    format = "JXL"
    format_description = "JPEG XL"

    def _open(self) -> None:
        assert self.fp is not None  # Pillow opens the file before calling _open
        self._data = self.fp.read()
        self._size = jxl_size(self._data)  # before any decoding: the caller checks max_pixels first
        self._mode = "RGB"  # the decoded mode replaces it in load()
        self.n_frames = 1
        self.tile = []

    def load(self) -> Any:
        if self._im is None:
            self._develop()
        return super().load()

    def _develop(self) -> None:
        jpeg, info, payload, icc, _boxes = _jxl_module().Decoder(num_threads=0)(self._data)
        if jpeg:  # a losslessly recompressed JPEG: read it as one (its EXIF orientation and ICC apply)
            from PIL.JpegImagePlugin import JpegImageFile

            with JpegImageFile(io.BytesIO(payload)) as im:
                im.load()
                decoded = im.copy()
                self.info.update(im.info)
        else:
            mode = "F" if info.mode == "F;16" else info.mode
            decoded = Image.frombytes(mode, (info.width, info.height), payload)
            if icc:
                self.info["icc_profile"] = icc
        self._size, self._mode, self.im = decoded.size, decoded.mode, decoded.im


class RawImageFile(ImageFile.ImageFile):
    """A camera raw file, developed by LibRaw (rawpy) into 8-bit sRGB."""

    format = "RAW"
    format_description = "camera raw (LibRaw)"

    def _open(self) -> None:
        import rawpy  # the facesafe[raw] extra

        self._raw = rawpy.RawPy()
        assert self.fp is not None  # Pillow opens the file before calling _open
        self._raw.open_buffer(io.BytesIO(self.fp.read()))
        sizes = self._raw.sizes
        width, height = sizes.width, sizes.height
        self._size = (height, width) if sizes.flip in (5, 6) else (width, height)
        self._mode = "RGB"
        self.n_frames = 1
        self.tile = []

    def load(self) -> Any:
        if self._im is None:
            self._raw.unpack()
            rgb = self._raw.postprocess(use_camera_wb=True, output_bps=8)
            self._raw.close()
            developed = Image.fromarray(rgb, "RGB")
            self._size = developed.size
            self.im = developed.im
        return super().load()
