"""Redaction kernels: pure functions, arrays in, new arrays out.

Each kernel takes a ``uint8`` image ``(H, W)`` or ``(H, W, C)`` and the
per-face masks from :func:`._masks.face_masks`, and returns a new image that
differs from the input only where a mask is non-zero. Colour channels are
redacted; an alpha channel (the last of 2 or 4 channels) is kept as is.

Noise is seeded from the caller's ``seed``, the face's index and a hash of
the face's *original* pixels: outputs are reproducible from the same input,
yet whoever holds only the output cannot regenerate (and subtract) the noise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from .._geometry import Box

__all__ = [
    "check_image",
    "colour_channels",
    "composite",
    "noise_rng",
    "blur_region",
    "pixelate_region",
    "largest_free_rectangle",
]

Masks = Sequence[tuple[tuple[slice, slice], np.ndarray]]


def check_image(image: np.ndarray) -> None:
    """Raise ``TypeError``/``ValueError`` naming ``image`` unless it is a uint8 image array."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must have dtype uint8, got {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and not 1 <= image.shape[2] <= 4):
        raise ValueError(f"image must have shape (H, W) or (H, W, 1..4), got {image.shape}")


def colour_channels(image: np.ndarray) -> int:
    """How many leading channels carry colour (alpha, if any, is last and kept)."""
    if image.ndim == 2:
        return 1
    return {1: 1, 2: 1, 3: 3, 4: 3}[image.shape[2]]


def _as_3d(image: np.ndarray) -> np.ndarray:
    return image[:, :, None] if image.ndim == 2 else image


def noise_rng(seed: int, index: int, original: np.ndarray) -> np.random.Generator:
    """A generator seeded by ``seed``, the face index and the face's original pixels."""
    digest = hashlib.blake2b(np.ascontiguousarray(original).tobytes(), digest_size=8).digest()
    return np.random.default_rng([seed & 0xFFFFFFFF, index, int.from_bytes(digest, "little")])


def composite(out: np.ndarray, window: tuple[slice, slice], mask: np.ndarray, content: np.ndarray) -> None:
    """Blend ``content`` (float, window-sized, colour channels) into ``out`` through ``mask``, in place.

    Where ``mask`` is 1 the result is exactly ``content`` (rounded); where it is
    0 the pixel is left untouched.
    """
    rows, cols = window
    view = _as_3d(out)[rows, cols, : content.shape[2]]
    m = mask[:, :, None]
    blended = view.astype(np.float32) * (1.0 - m) + content * m
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    touched = mask > 0
    view[touched] = blended[touched]


def blur_region(
    image: np.ndarray, window: tuple[slice, slice], sigma_px: float, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """A Gaussian blur (std ``sigma_px`` pixels) of ``image`` seen through ``window``, plus noise.

    Blurs the window with 3 sigma of context around it (reflected where the
    image ends), working at a reduced scale when sigma is large (an area
    resize, then about 4 pixels of sigma), so the cost does not grow with the
    face. Returns float32 ``(h, w, colour channels)``.
    """
    import cv2  # local: importing facesafe stays light

    rows, cols = window
    height, width = image.shape[:2]
    n = colour_channels(image)
    pad = int(math.ceil(3 * sigma_px)) + 1
    r0, r1 = max(rows.start - pad, 0), min(rows.stop + pad, height)
    c0, c1 = max(cols.start - pad, 0), min(cols.stop + pad, width)
    src = np.ascontiguousarray(_as_3d(image)[r0:r1, c0:c1, :n])
    h, w = src.shape[:2]
    factor = max(1, min(int(sigma_px // 4), h, w))  # keep about 4 pixels of sigma at the working scale
    if factor > 1:
        small = cv2.resize(src, (max(w // factor, 1), max(h // factor, 1)), interpolation=cv2.INTER_AREA)
        small = small.astype(np.float32)
        sx, sy = small.shape[1] / w, small.shape[0] / h
        # the area resize already smoothed by about factor / sqrt(12)
        s = math.sqrt(max(sigma_px**2 - factor**2 / 12.0, 0.25))
        small = cv2.GaussianBlur(
            small, (0, 0), sigmaX=max(s * sx, 0.3), sigmaY=max(s * sy, 0.3), borderType=cv2.BORDER_REFLECT_101
        )
        blurred = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        sigma = max(sigma_px, 0.3)
        blurred = cv2.GaussianBlur(
            src.astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
        )
    if blurred.ndim == 2:
        blurred = blurred[:, :, None]
    out = blurred[rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0]
    if noise > 0:
        out = out + rng.standard_normal(size=out.shape, dtype=np.float32) * np.float32(noise)
    return np.ascontiguousarray(out, dtype=np.float32)


def pixelate_region(
    image: np.ndarray,
    window: tuple[slice, slice],
    grid: Box,
    cells: int,
    noise: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Mean colour per cell of a grid of ``cells`` columns of square cells anchored on ``grid``.

    Cells are ``grid.width / cells`` pixels wide whatever the face size; each
    cell's mean gets Gaussian noise of std ``noise`` (one draw per cell and
    channel). Returns float32 ``(h, w, colour channels)`` for ``window``.
    """
    rows, cols = window
    n = colour_channels(image)
    src = _as_3d(image)[rows, cols, :n].astype(np.float64)
    size = max(grid.width / cells, 1.0)
    ix = np.floor((np.arange(cols.start, cols.stop) + 0.5 - grid.x0) / size).astype(np.int64)
    iy = np.floor((np.arange(rows.start, rows.stop) + 0.5 - grid.y0) / size).astype(np.int64)
    ix -= ix.min()
    iy -= iy.min()
    nx = int(ix.max()) + 1
    index = (iy[:, None] * nx + ix[None, :]).ravel()
    count = np.bincount(index)
    means = np.empty((len(count), n), dtype=np.float64)
    nonzero = np.maximum(count, 1)
    for c in range(n):
        means[:, c] = np.bincount(index, weights=src[:, :, c].ravel(), minlength=len(count)) / nonzero
    if noise > 0:
        means += rng.normal(0.0, noise, size=means.shape)
    return means[index].reshape(src.shape).astype(np.float32)


def largest_free_rectangle(
    blocked: Sequence[tuple[int, int, int, int]], *, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """The largest axis-aligned ``(x0, y0, x1, y1)`` (end exclusive) avoiding every blocked one.

    ``blocked`` rectangles are integer ``(x0, y0, x1, y1)`` already clipped to
    the ``width`` x ``height`` image. Works on the grid of their edges (maximal rectangle in a
    histogram, with strips of varying width): O(n^2) for n rectangles. Ties go
    to the first found (top-most, then left-most). None when nothing is free.
    """
    if height <= 0 or width <= 0:
        return None
    xs = sorted({0, width, *(v for b in blocked for v in (b[0], b[2]))})
    ys = sorted({0, height, *(v for b in blocked for v in (b[1], b[3]))})
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    nx, ny = len(xs) - 1, len(ys) - 1
    free = np.ones((ny, nx), dtype=bool)
    for x0, y0, x1, y1 in blocked:
        if x1 > x0 and y1 > y0:
            free[yi[y0] : yi[y1], xi[x0] : xi[x1]] = False
    row_h = np.diff(ys)
    heights = np.zeros(nx, dtype=np.int64)  # pixel height of the free run ending at this row
    best: tuple[int, tuple[int, int, int, int]] | None = None
    for r in range(ny):
        heights = np.where(free[r], heights + row_h[r], 0)
        # largest rectangle under the histogram; columns have widths col_w
        stack: list[tuple[int, int]] = []  # (start column, height)
        for c in range(nx + 1):
            h = int(heights[c]) if c < nx else 0
            start = c
            while stack and stack[-1][1] >= h:
                s, sh = stack.pop()
                if sh > 0:
                    area = sh * (xs[c] - xs[s])
                    if best is None or area > best[0]:
                        best = (area, (xs[s], ys[r + 1] - sh, xs[c], ys[r + 1]))
                start = s
            stack.append((start, h))
    return None if best is None else best[1]
