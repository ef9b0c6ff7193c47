"""A transform for Hugging Face ``datasets.Dataset.map(batched=True, num_proc=N)`` over an image column.

>>> clean = dataset.map(AnonymizeColumn("image", provenance="facesafe"), batched=True, num_proc=2)  # doctest: +SKIP

The transform pickles as its settings (the detector is built on first use in
each process), so ``num_proc`` works. It takes the column as ``datasets`` hands
it over: decoded PIL images, ``{bytes, path}`` dicts (``Image(decode=False)``)
or plain ``bytes``, and returns every column of the batch, the image column as
``{"bytes": ..., "path": None}`` (``bytes`` for ``bytes``), each image in its
own format with no metadata. A row whose image fails is **dropped** from the
batch (every column) and logged on the ``facesafe`` logger, and appended to
``failures`` (a JSON-lines file) when given; with ``on_error="stop"`` the map
stops with a :class:`~facesafe.FacesafeError` instead. It is never passed through.

With ``provenance="NAME"``, a column ``NAME`` says for each row what was done:
faces found, their boxes and scores, method, preset, faces given the method's
fallback, the region kept by ``crop``, and the facesafe and model versions.
"""

from __future__ import annotations

import io
import json
import logging
import os
from typing import Any

from .._anonymize import Anonymizer
from .._errors import FacesafeError
from ._core import ON_ERROR

__all__ = ["AnonymizeColumn"]

_LOG = logging.getLogger("facesafe")


class AnonymizeColumn:
    """Anonymise the images of one column of a batch (a dict of equal-length lists).

    Args:
        column: the image column.
        provenance: name of a column to add with what was done to each row
            (``None``: no column).
        on_error: ``"drop"`` (default) drops a row whose image fails;
            ``"stop"`` raises :class:`~facesafe.FacesafeError`.
        failures: a JSON-lines file to append each dropped row's index and reason to.
        method, preset, detector, format, quality, max_pixels, threads, options:
            as for :class:`~facesafe.Anonymizer` (``format=None`` keeps each
            image's format).
    """

    def __init__(self, column: str = "image", *, provenance: str | None = None, on_error: str = "drop",
                 failures: str | os.PathLike[str] | None = None, threads: int | None = 1, **settings: Any) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        if provenance == column:
            raise ValueError(f"provenance must differ from column {column!r}")
        self.column, self.provenance, self.on_error = column, provenance, on_error
        self.failures = None if failures is None else os.fspath(failures)
        self.anonymizer = Anonymizer(threads=threads, **settings)
        self._models: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_models": None}

    def _versions(self) -> str:
        if self._models is None:
            from .._batch._run import _model_versions

            self._models = json.dumps(_model_versions(self.anonymizer), sort_keys=True)
        return self._models

    def __call__(self, batch: dict[str, list[Any]], indices: list[int] | None = None) -> dict[str, list[Any]]:
        """The batch with its image column anonymised, failed rows dropped, and the provenance column added."""
        if self.column not in batch:
            raise ValueError(f"column: the batch has no column {self.column!r} (columns: {', '.join(batch)})")
        cells = batch[self.column]
        keep: list[bool] = []
        images: list[Any] = []
        notes: list[dict[str, Any] | None] = []
        for position, cell in enumerate(cells):
            index = position if indices is None else indices[position]
            try:
                image, note = self._one(cell)
            except Exception as exc:  # every failure is this row's, recorded below
                reason = exc.reason if isinstance(exc, FacesafeError) and hasattr(exc, "reason") else str(exc)
                self._failed(index, f"{type(exc).__name__}: {reason}")
                keep.append(False)
                continue
            keep.append(True)
            images.append(image)
            notes.append(note)
        out = {name: [v for v, k in zip(values, keep, strict=True) if k] for name, values in batch.items()}
        out[self.column] = images
        if self.provenance is not None:
            out[self.provenance] = notes
        return out

    def _failed(self, index: int, reason: str) -> None:
        if self.on_error == "stop":
            raise FacesafeError(f"row {index}: {reason}")
        _LOG.warning("facesafe: row %d dropped: %s", index, reason)
        if self.failures is not None:
            with open(self.failures, "a", encoding="utf-8") as fh:  # one short line per write: appends do not interleave
                fh.write(json.dumps({"index": index, "reason": reason}) + "\n")

    def _one(self, cell: Any) -> tuple[Any, dict[str, Any] | None]:
        if cell is None:
            return None, None
        data, fmt = _encoded(cell)
        from .._io import load_image

        anonymizer = self.anonymizer
        picture = load_image(data, max_pixels=anonymizer.max_pixels)
        result = anonymizer.anonymize_picture(picture)
        encoded, out_fmt = anonymizer.encode(result, input_format=fmt or picture.format)
        note = None
        if self.provenance is not None:
            from .. import __version__

            note = {
                "faces": result.face_count,
                "boxes": [[round(v, 1) for v in f.box.as_xyxy()] + [round(f.score, 4)] for frame in result.faces for f in frame],
                "method": anonymizer.method, "preset": anonymizer.preset, "fell_back": result.fell_back_count,
                "region": None if result.region is None else [int(v) for v in result.region.as_xyxy()],
                "format": out_fmt, "facesafe": __version__, "models": self._versions(),
            }
        return (encoded if isinstance(cell, (bytes, bytearray)) else {"bytes": encoded, "path": None}), note


def _encoded(cell: Any) -> tuple[bytes, str | None]:
    """``(bytes, format to keep)`` of a cell: encoded bytes, a ``{bytes, path}`` dict, or a PIL image."""
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell), None
    if isinstance(cell, dict):
        if cell.get("bytes") is not None:
            return cell["bytes"], None
        if cell.get("path"):
            with open(cell["path"], "rb") as fh:
                return fh.read(), None
        raise ValueError("the cell has neither bytes nor a path")
    from PIL import Image, ImageOps

    if isinstance(cell, Image.Image):
        # A decoded image: its pixels go through facesafe's reader as lossless PNG, upright, and come
        # out in the image's own format (JPEG stays JPEG).
        if getattr(cell, "n_frames", 1) > 1:
            raise ValueError("an animated PIL image: load the column with Image(decode=False) to keep every frame")
        fmt = cell.format
        image = ImageOps.exif_transpose(cell)
        if image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=0)
        return buffer.getvalue(), (fmt if fmt in ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP") else None)
    raise TypeError(f"cannot read an image from a {type(cell).__name__} cell")
