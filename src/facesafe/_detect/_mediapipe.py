"""MediaPipe FaceMesh: dense landmarks (478 points) for faces already found.

FaceMesh is run on a square crop around each face box (grown so the whole head
fits), so that it sees one face at a workable size whatever the photo. The
points come back in image pixels on :attr:`Face.mesh`.

MediaPipe is the ``synthetic`` extra, not a core dependency: its last wheel
with the models inside (0.10.21) pins NumPy 1 and exists for Python <= 3.12
only. :func:`require_facemesh` says so, without importing it, before any work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import os
import pathlib
import re
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence

import numpy as np

from .._errors import DetectionError, MissingExtraError
from .._geometry import Face
from .._protocols import Closeable

__all__ = ["FaceMesher", "mesh_faces", "require_facemesh", "LANDMARK_MODEL", "DETECTION_MODEL"]

# FaceMesh's models, inside the mediapipe package (0.10.21 ships them; later releases do not):
LANDMARK_MODEL = "modules/face_landmark/face_landmark_with_attention.tflite"
DETECTION_MODEL = "modules/face_detection/face_detection_short_range.tflite"  # BlazeFace, run by FaceMesh

_CROP_GROW = 2.0  # crop side = this x the longer side of the face box
_CROP_MIN = 192  # upscale small crops to this side (FaceMesh's own input is 192 px)
_CROP_MAX = 512  # downscale big crops to this side (saves time, loses nothing)
N_POINTS = 478
# What MediaPipe's native code writes to stderr (file descriptor 2, past Python) while its
# graph starts: start-up notices, not problems. Matched whole lines only; any other line
# written meanwhile is passed on.
_STARTUP_CHATTER = re.compile(
    r"INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|W0000 [0-9:. ]+ [0-9]+ (inference_feedback_manager|landmark_projection_calculator)\.cc:[0-9]+\] .*"
)
# Descriptor 2 belongs to the whole process: one redirection at a time (meshers in several
# threads start one after the other), or a second one would restore the first one's file.
_STDERR_REDIRECT = threading.Lock()


class FaceMesher(Closeable):
    """Fills :attr:`Face.mesh` with MediaPipe FaceMesh's 478 refined landmarks.

    Load once, call on many images; use as a context manager or call
    :meth:`close`. ``mesher(image, faces)`` returns the faces in the same order,
    with ``mesh`` set where FaceMesh found the face in its crop (others are
    returned unchanged).

    Raises :class:`~facesafe.MissingExtraError` when built without the
    ``synthetic`` extra (mediapipe 0.10.21).
    """

    def __init__(self, *, min_confidence: float = 0.5) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        require_facemesh()
        self.min_confidence = min_confidence
        self._mesh = None

    def _model(self):
        if self._mesh is None:
            try:
                from mediapipe.python.solutions import face_mesh

                self._mesh = face_mesh.FaceMesh(
                    static_image_mode=True,
                    max_num_faces=1,
                    refine_landmarks=True,
                    min_detection_confidence=self.min_confidence,
                )
            except Exception as exc:
                raise DetectionError(f"cannot load MediaPipe FaceMesh: {exc}") from exc
        return self._mesh

    def __call__(self, image: np.ndarray, faces: Sequence[Face]) -> tuple[Face, ...]:
        """Return ``faces`` with :attr:`Face.mesh` filled where FaceMesh finds them."""
        _check_image(image)
        H, W = image.shape[:2]
        out = []
        for face in faces:
            mesh = self._mesh_one(image, face, W, H)
            out.append(face if mesh is None else dataclasses.replace(face, mesh=mesh))
        return tuple(out)

    def _mesh_one(self, image: np.ndarray, face: Face, W: int, H: int) -> np.ndarray | None:
        cx, cy = face.box.center
        side = max(face.box.width, face.box.height) * _CROP_GROW
        if side < 4:
            return None
        x0, y0 = int(np.floor(cx - side / 2)), int(np.floor(cy - side / 2))
        n = int(np.ceil(side))
        # Pad with black where the crop leaves the image, so the face stays centred.
        crop: np.ndarray = np.zeros((n, n, 3), np.uint8)
        sx0, sy0 = max(x0, 0), max(y0, 0)
        sx1, sy1 = min(x0 + n, W), min(y0 + n, H)
        if sx1 <= sx0 or sy1 <= sy0:
            return None
        crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
        target = min(max(n, _CROP_MIN), _CROP_MAX)
        if target != n:
            import cv2

            interp = cv2.INTER_AREA if target < n else cv2.INTER_LINEAR
            crop = cv2.resize(crop, (target, target), interpolation=interp)
        try:
            if self._mesh is not None:
                result = self._mesh.process(crop)
            else:  # the graph is made and run for the first time: its start-up notices come now
                with _without_startup_chatter():
                    result = self._model().process(crop)
        except DetectionError:
            raise
        except Exception as exc:
            raise DetectionError(f"MediaPipe FaceMesh failed: {exc}") from exc
        if not result.multi_face_landmarks:
            return None
        lm = result.multi_face_landmarks[0].landmark
        pts = np.array([(p.x, p.y) for p in lm], np.float64)
        if pts.shape != (N_POINTS, 2):
            return None
        pts *= n  # normalised crop coordinates -> crop pixels at original scale
        pts[:, 0] += x0
        pts[:, 1] += y0
        return pts

    def close(self) -> None:
        """Release the MediaPipe graph (the mesher reloads it if called again)."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __getstate__(self) -> dict:
        return {"min_confidence": self.min_confidence}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)  # type: ignore[misc]  # rebuilt as the class it was pickled from


def mesh_faces(image: np.ndarray, faces: Sequence[Face]) -> tuple[Face, ...]:
    """Return ``faces`` with :attr:`Face.mesh` (478 x 2 image pixels) filled by
    MediaPipe FaceMesh where it finds them (others unchanged). Loads the model
    on every call: build a :class:`FaceMesher` to mesh many images."""
    with FaceMesher() as mesher:
        return mesher(image, faces)


def require_facemesh(feature: str = "FaceMesher") -> None:
    """Raise :class:`~facesafe.MissingExtraError` unless mediapipe with its FaceMesh model is installed.

    Looks at the installed files only (importing mediapipe costs ~100 MB and a
    second); a mediapipe without the model (any release after 0.10.21) counts
    as missing.
    """
    try:
        dist = importlib.metadata.distribution("mediapipe")
        found = pathlib.Path(str(dist.locate_file(f"mediapipe/{LANDMARK_MODEL}"))).is_file()
    except importlib.metadata.PackageNotFoundError:
        found = False
    if not found:
        raise MissingExtraError(
            "synthetic",
            f"{feature} needs MediaPipe FaceMesh (mediapipe 0.10.21, Python 3.11 or 3.12), which is not installed",
        )


@contextlib.contextmanager
def _without_startup_chatter() -> Iterator[None]:
    """Hold back MediaPipe's start-up notices on stderr; pass on every other line written meanwhile.

    The native code writes them to file descriptor 2 directly, so it is
    pointed at a temporary file for the duration and restored after (what
    other threads write to stderr meanwhile comes out after it). Where there
    is no descriptor 2 to redirect, nothing is held back.
    """
    with _STDERR_REDIRECT:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        try:
            sys.stderr.flush()
            with tempfile.TemporaryFile() as held:
                os.dup2(held.fileno(), 2)
                try:
                    yield
                finally:
                    os.dup2(saved, 2)
                    held.seek(0)
                    for line in held.read().decode(errors="replace").splitlines(keepends=True):
                        if not _STARTUP_CHATTER.fullmatch(line.rstrip("\r\n")):
                            sys.stderr.write(line)
                    sys.stderr.flush()
        finally:
            os.close(saved)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 RGB (H, W, 3), got {image.dtype} {image.shape}")
