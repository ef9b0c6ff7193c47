"""Re-identification audit: does a face recogniser still match redacted faces?

The recogniser is dlib's ResNet (``dlib_face_recognition_resnet_model_v1``,
99.38% on LFW) with its 5-point landmark predictor and HOG face detector,
all shipped inside the ``dlib-bin`` and ``face-recognition-models`` wheels
(``pip install 'facesafe[audit]'``); nothing is downloaded.

Protocol (:func:`reidentification`):

1. Enrolment (:func:`enrol`): for every person, the first photo (in the
   order given) is the *gallery*; the others are *probes*. On every original
   photo the largest face is found with dlib's detector, its 5 landmarks are
   placed and its 128-d descriptor computed. Photos where dlib finds no face
   are skipped and counted.
2. Each probe photo is redacted as a whole, with the faces ``detector`` finds
   on the original (by default: every face dlib finds), as the pipeline would.
3. The attacker knows where the face was: the descriptor is computed on the
   *redacted* photo at the original face's location, aligned with either the
   original's landmarks (``"original"``: a perfectly aligned chip) or the
   landmark predictor re-run on the redacted photo (``"redacted"``). Neither
   dominates on identity-dev (re-run landmarks link more pixelated faces,
   original ones match more blurred faces), so by default
   (``landmarks="both"``) both attackers run and every figure is the higher
   of the two: the worse case for privacy. A redaction that changes the image
   size (``Crop``) is mapped back onto a black canvas of the original size
   through its ``region()``.
4. Optionally (``gallery="redacted"``) the gallery photos are redacted too:
   a "parrot" attacker who redacts known photos the same way and matches
   redacted against redacted faces.
5. Figures: *rank-1* identification against the gallery (chance =
   1 / people), verification *ROC AUC* over every (probe, gallery) pair, same
   person vs different person (chance = 0.5), and *linkability*: the share of
   probes whose redacted descriptor lies within ``tolerance`` (0.6, dlib's
   same-person threshold) of the descriptor of their own original.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._errors import RedactionError
from .._geometry import Box, Face
from .._protocols import Redaction, as_redaction, kept_region

__all__ = ["ReidResult", "Enrolment", "enrol", "reidentification", "roc_auc"]

# Detection runs on a copy whose longer side is at most this many pixels (then
# upsampled once by dlib), which finds faces of 40+ px at a bounded cost.
_DETECT_SIDE = 1024
LANDMARKS = ("both", "original", "redacted")
GALLERIES = ("original", "redacted")


def _dlib():
    """dlib, and the folder of face_recognition_models' model files.

    That package is found, not imported: its ``__init__`` imports
    ``pkg_resources``, which venvs of Python 3.12 and later do not have.
    """
    try:
        import dlib
    except ImportError as exc:
        raise _missing("dlib") from exc
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("face_recognition_models")
    return dlib, Path(next(iter(spec.submodule_search_locations))) / "models"


def _missing(name: str) -> ImportError:
    return ImportError(f"the re-identification audit needs dlib and its models: pip install 'facesafe[audit]' (missing: {name})")


class _Recogniser:
    """dlib's detector, 5-point predictor and ResNet, loaded once."""

    def __init__(self) -> None:
        dlib, models = _dlib()
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def detect(self, image: np.ndarray) -> list[Box]:
        """Faces dlib finds, largest first, as boxes in ``image`` pixels."""
        import cv2

        height, width = image.shape[:2]
        scale = min(1.0, _DETECT_SIDE / max(height, width))
        small = image if scale == 1.0 else cv2.resize(
            image, (max(round(width * scale), 1), max(round(height * scale), 1)), interpolation=cv2.INTER_AREA
        )
        rects = self.detector(np.ascontiguousarray(small), 1)
        boxes = [
            Box(r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale)
            for r in rects
        ]
        return sorted(boxes, key=lambda b: -b.area)

    def _rect(self, box: Box):
        return self.dlib.rectangle(
            int(round(box.x0)), int(round(box.y0)), int(round(box.x1)) - 1, int(round(box.y1)) - 1
        )

    def landmarks(self, image: np.ndarray, box: Box):
        return self.predictor(np.ascontiguousarray(image), self._rect(box))

    def describe(self, image: np.ndarray, shape) -> np.ndarray:
        return np.array(self.net.compute_face_descriptor(np.ascontiguousarray(image), shape), dtype=np.float64)


@dataclass(frozen=True)
class _Photo:
    person: str
    image: np.ndarray = field(repr=False)
    box: Box
    shape: object = field(repr=False)  # dlib.full_object_detection on the original
    descriptor: np.ndarray = field(repr=False)
    dlib_boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class Enrolment:
    """Originals analysed once (faces, landmarks, descriptors), reused for every redaction."""

    people: tuple[str, ...]
    gallery: tuple[_Photo, ...] = field(repr=False)
    probes: tuple[_Photo, ...] = field(repr=False)
    skipped: int = 0
    recogniser: _Recogniser = field(repr=False, compare=False, default=None)  # type: ignore[assignment]


@dataclass(frozen=True)
class ReidResult:
    """What a face recogniser could still do with one redaction's outputs.

    Attributes:
        method: a label for the redaction (``"original"`` when none).
        people: people in the gallery (rank-1 chance is ``1 / people``).
        probes: redacted photos scored.
        rank1: share of probes whose nearest gallery face is their own person
            (a tie between k gallery faces counts 1/k).
        auc: verification ROC AUC over (probe, gallery) pairs; 0.5 is chance.
        linkability: share of probes within ``tolerance`` of their own original.
        skipped: photos left out because dlib found no face on the original.
        landmarks: the attacker(s) scored; ``"both"`` reports the higher figure of the two.
        gallery: ``"original"`` or ``"redacted"`` (the parrot attacker).
        distances: each probe's descriptor distance to its own original, the
            smaller of the attackers' (in probe order): how far below or above
            ``tolerance`` a redaction leaves its faces, which a share of a few
            dozen probes cannot show. Empty for results built by hand.
    """

    method: str
    people: int
    probes: int
    rank1: float
    auc: float
    linkability: float
    skipped: int = 0
    landmarks: str = "both"
    gallery: str = "original"
    distances: tuple[float, ...] = field(default=(), repr=False)

    @property
    def chance_rank1(self) -> float:
        """Rank-1 of a blind guess."""
        return 1.0 / self.people if self.people else math.nan

    def __str__(self) -> str:
        return (
            f"{self.method}: rank-1 {self.rank1:.2f} (chance {self.chance_rank1:.2f}), "
            f"AUC {self.auc:.3f}, linkability {self.linkability:.1%} "
            f"({self.probes} probes, {self.people} people)"
        )


def enrol(people: Mapping[str, Sequence[np.ndarray]]) -> Enrolment:
    """Analyse original photos: ``{person: [uint8 RGB images, ...]}``, first photo = gallery.

    Photos without a face dlib can find are skipped (see ``Enrolment.skipped``);
    a person whose gallery photo has no face is left out entirely.
    """
    if not isinstance(people, Mapping):
        raise TypeError(f"people must map a person to their photos, got {type(people).__name__}")
    rec = _Recogniser()
    gallery: list[_Photo] = []
    probes: list[_Photo] = []
    skipped = 0
    for person, photos in people.items():
        analysed = []
        for image in photos:
            image = _rgb(image)
            boxes = rec.detect(image)
            if not boxes:
                skipped += 1
                continue
            shape = rec.landmarks(image, boxes[0])
            analysed.append(_Photo(person, image, boxes[0], shape, rec.describe(image, shape), tuple(boxes)))
        if not analysed:
            continue
        gallery.append(analysed[0])
        probes.extend(analysed[1:])
    if not gallery:
        raise ValueError("people must hold at least one photo with a face dlib can find")
    return Enrolment(tuple(p.person for p in gallery), tuple(gallery), tuple(probes), skipped, rec)


def _rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("people must hold uint8 RGB images of shape (H, W, 3)")
    return np.ascontiguousarray(image)


def _redact(redaction: Redaction | Callable, photo: _Photo, detector: Callable | None) -> np.ndarray:
    """The redacted photo on the original's canvas: a cut-out frame (``crop``) is put back in place on black."""
    faces = detector(photo.image) if detector is not None else [Face(b, detector="dlib") for b in photo.dlib_boxes]
    method = as_redaction(redaction)
    height, width = photo.image.shape[:2]
    box = kept_region(method, faces, width=width, height=height)
    if box is None:
        out = method.redact(photo.image, faces).image
        if out.shape != photo.image.shape:
            raise RedactionError(f"{redaction!r} changed the image shape {photo.image.shape} -> {out.shape} in redact()")
        return out
    canvas = np.zeros_like(photo.image)
    rows, cols = box.to_slices()
    canvas[rows, cols] = photo.image[rows, cols]
    return canvas


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); NaN without both classes.

    >>> roc_auc([0.9, 0.8, 0.1, 0.8], [1, 1, 0, 0])
    0.875
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    # average the ranks of tied scores
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def reidentification(
    people: Mapping[str, Sequence[np.ndarray]] | Enrolment,
    redaction: Redaction | Callable[[np.ndarray, Sequence[Face]], np.ndarray] | None = None,
    *,
    method: str | None = None,
    detector: Callable[[np.ndarray], Sequence[Face]] | None = None,
    landmarks: str = "both",
    gallery: str = "original",
    tolerance: float = 0.6,
) -> ReidResult:
    """Measure how well dlib's face recogniser re-identifies ``redaction``'s outputs.

    Args:
        people: ``{person: [uint8 RGB photos]}`` (first photo enrolled as the
            gallery), or an :class:`Enrolment` from :func:`enrol` to reuse.
        redaction: any :class:`facesafe.Redaction` or ``(image, faces) -> image``
            (a ``crop``'s kept region is scored on a black canvas of the
            original's size); ``None`` scores the originals (the recogniser's ceiling).
        method: label for the result (default: the redaction's ``name`` or class).
        detector: finds the faces handed to the redaction (``image -> faces``);
            default: every face dlib finds on the original.
        landmarks: ``"original"`` (aligned on the original's landmarks),
            ``"redacted"`` (predictor re-run on the output) or ``"both"``
            (each figure the higher of the two attackers').
        gallery: ``"original"`` (the attacker holds clear photos of everyone)
            or ``"redacted"`` (the gallery is redacted the same way: a
            "parrot" attacker matching redacted against redacted faces).
        tolerance: descriptor distance under which a probe links to its original.

    See the module docstring for the protocol.
    """
    if landmarks not in LANDMARKS:
        raise ValueError(f"landmarks must be one of {', '.join(LANDMARKS)}; got {landmarks!r}")
    if not (isinstance(tolerance, (int, float)) and tolerance > 0):
        raise ValueError(f"tolerance must be a number > 0, got {tolerance!r}")
    if gallery not in GALLERIES:
        raise ValueError(f"gallery must be one of {', '.join(GALLERIES)}; got {gallery!r}")
    enrolment = people if isinstance(people, Enrolment) else enrol(people)
    rec = enrolment.recogniser
    if method is None:
        method = "original" if redaction is None else getattr(redaction, "name", type(redaction).__name__)
    variants = ("original", "redacted") if landmarks == "both" else (landmarks,)
    probed = _describe(enrolment.probes, redaction, detector, variants, rec)
    if gallery == "redacted":
        enrolled = _describe(enrolment.gallery, redaction, detector, variants, rec)
    else:
        enrolled = {v: [p.descriptor for p in enrolment.gallery] for v in variants}
    people_n = len(enrolment.gallery)
    if not enrolment.probes:
        return ReidResult(method, people_n, 0, math.nan, math.nan, math.nan, enrolment.skipped, landmarks, gallery)
    scores = [_score(enrolment, np.stack(probed[v]), np.stack(enrolled[v]), tolerance) for v in variants]
    rank1, auc, linkability = (max(s[i] for s in scores) for i in range(3))
    originals = np.stack([p.descriptor for p in enrolment.probes])
    own = np.min([np.linalg.norm(np.stack(probed[v]) - originals, axis=1) for v in variants], axis=0)
    return ReidResult(
        method, people_n, len(enrolment.probes), rank1, auc, linkability, enrolment.skipped, landmarks, gallery,
        distances=tuple(float(d) for d in own),
    )


def _describe(
    photos: Sequence[_Photo], redaction: Redaction | Callable | None, detector: Callable | None, variants, rec: _Recogniser
) -> dict[str, list[np.ndarray]]:
    """Descriptors of each redacted photo at its original face, per landmark variant."""
    out: dict[str, list[np.ndarray]] = {v: [] for v in variants}
    for photo in photos:
        if redaction is None:
            for v in variants:
                out[v].append(photo.descriptor)
            continue
        image = _redact(redaction, photo, detector)
        for v in variants:
            shape = photo.shape if v == "original" else rec.landmarks(image, photo.box)
            out[v].append(rec.describe(image, shape))
    return out


def _score(
    enrolment: Enrolment, probes: np.ndarray, gallery: np.ndarray, tolerance: float
) -> tuple[float, float, float]:
    """(rank-1, AUC, linkability) of probe descriptors against gallery descriptors."""
    index = {person: i for i, person in enumerate(enrolment.people)}
    truth = np.array([index[p.person] for p in enrolment.probes])
    dist = np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)
    # rank-1 with ties shared: a probe tied between k gallery faces (e.g. a
    # wholly filled chip) scores 1/k if its person is among them, not a win
    # for whichever face is listed first
    nearest = np.isclose(dist, dist.min(axis=1, keepdims=True), rtol=0.0, atol=1e-9)
    rank1 = float(np.mean(nearest[np.arange(len(truth)), truth] / nearest.sum(axis=1)))
    same = truth[:, None] == np.arange(len(gallery))[None, :]
    auc = roc_auc(-dist, same)
    originals = np.stack([p.descriptor for p in enrolment.probes])
    linked = np.linalg.norm(probes - originals, axis=1) < tolerance
    return rank1, auc, float(linked.mean())
