"""anonymize(): read -> detect -> redact, for one image or one decoded file.

:func:`anonymize` works on one RGB array. :class:`Anonymizer` holds the
settings (method, preset, output format, limits) and one detector, and applies
them to arrays, decoded files (every frame, alpha kept) and encoded bytes; it is
what batch workers build once per process, and it pickles as its settings only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import RedactionError
from ._geometry import Box, Face
from ._io import DEFAULT_MAX_PIXELS, Picture, encode_image, load_image, output_format
from ._protocols import Closeable, Detector, Redaction, as_redaction, kept_region
from ._targets import parse_targets, text_kinds, text_model_path

if TYPE_CHECKING:
    from ._detect import Preset

__all__ = ["Anonymizer", "Result", "FileResult", "anonymize", "anonymize_bytes", "make_redaction"]

DEFAULT_METHOD = "blur"
DEFAULT_PRESET = "balanced"


@dataclass(frozen=True)
class Result:
    """What :func:`anonymize` did to one image.

    Attributes:
        image: the redacted ``uint8`` RGB image (a new array).
        faces: every face found, in the input image's coordinates; when the
            targets ask for plates or text, their regions follow the faces,
            told apart by :attr:`Face.kind <facesafe.Face.kind>`.
        method: name of the redaction applied.
        region: the part of the input that was kept when the method cuts
            faces out of frame (``crop``, see :meth:`Redaction.region
            <facesafe.Redaction.region>`); else ``None``.
        fell_back: indices (into ``faces``, ascending) of the faces that got
            the method's fallback redaction instead of its own
            (``synthetic``: too small or turned; ``crop``: all of them when no
            large enough face-free region was found).
        donors: per face of kind ``face``, what replaced it, when the method
            says (``synthetic``: see :attr:`Redacted.donors`); else empty.
    """

    image: np.ndarray = field(repr=False)
    faces: tuple[Face, ...]
    method: str
    region: Box | None = None
    fell_back: tuple[int, ...] = ()
    donors: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileResult:
    """What :meth:`Anonymizer.anonymize_picture` did to every frame of a file.

    Attributes:
        picture: the redacted frames (alpha kept, cropped alike for ``crop``).
        faces: the faces found (then the plates and text the targets ask
            for, by :attr:`~facesafe.Face.kind`), one tuple per frame.
        method: name of the redaction applied.
        region: the part of every frame that was kept (``crop``), else ``None``.
        fell_back: per frame, as :attr:`Result.fell_back`: indices (into that
            frame's ``faces``) of the faces that got the fallback redaction.
        donors: per frame, as :attr:`Result.donors` (empty tuples when the
            method does not say).
    """

    picture: Picture = field(repr=False)
    faces: tuple[tuple[Face, ...], ...]
    method: str
    region: Box | None = None
    fell_back: tuple[tuple[int, ...], ...] = ()
    donors: tuple[tuple[str, ...], ...] = ()

    @property
    def face_count(self) -> int:
        """Faces (of kind ``face``) found over all frames."""
        return sum(f.kind == "face" for frame in self.faces for f in frame)

    @property
    def fell_back_count(self) -> int:
        """Faces that got the fallback redaction, over all frames."""
        return sum(len(f) for f in self.fell_back)


def make_redaction(
    method: str | Redaction | Callable[[np.ndarray, Sequence[Face]], np.ndarray], **options: Any
) -> Redaction | Callable[[np.ndarray, Sequence[Face]], np.ndarray]:
    """The redaction for ``method``: a catalogue name with its options, or a redaction as is."""
    if not isinstance(method, str):
        if options:
            raise TypeError("options can only be given with a method name, not a redaction object")
        if not (isinstance(method, Redaction) or callable(method)):
            raise TypeError(f"method must be a name or a redaction, got {type(method).__name__}")
        return method
    catalogue = _catalogue()
    try:
        cls = catalogue[method]
    except KeyError:
        raise ValueError(f"method must be one of {sorted(catalogue)}, got {method!r}") from None
    return cls(**options)


def _require_extras(redaction: object) -> None:
    """Raise :class:`~facesafe.MissingExtraError` if ``redaction`` will need an extra that is not installed."""
    if isinstance(redaction, _catalogue()["synthetic"]) and getattr(redaction, "mesher", None) is None:
        from ._detect._mediapipe import require_facemesh  # here: only a synthetic run needs to know about MediaPipe

        require_facemesh("method='synthetic'")


def _redaction_code() -> ModuleType:
    """facesafe's redaction package (``facesafe._redact``), loaded on first use."""
    from . import _redact  # here: strip and inspect load the batch package, and so this module, but never redact

    return _redact


def detection() -> ModuleType:
    """facesafe's detection package (``facesafe._detect``: faces, plates, text), loaded on first use."""
    from . import _detect  # here, not at import: a custom detector (tests, strip's runner) never loads the models' code

    return _detect


def _catalogue() -> Mapping[str, type]:
    """The shipped redactions by name (:data:`facesafe.REDACTIONS`)."""
    return _redaction_code().REDACTIONS


def _method_name(redaction: object) -> str:
    for name, cls in _catalogue().items():
        if type(redaction) is cls:
            return name
    return type(redaction).__name__


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 RGB of shape (H, W, 3), got {image.dtype} {image.shape}")


class Anonymizer(Closeable):
    """Reusable anonymisation settings plus one detector, built lazily once.

    >>> anonymizer = Anonymizer(method="pixelate", preset="fast")   # doctest: +SKIP
    >>> clean = anonymizer.anonymize(image).image                    # doctest: +SKIP
    >>> jpeg_bytes = anonymizer(open("in.jpg", "rb").read())         # doctest: +SKIP

    Args:
        method: a catalogue name (``"blur"``, ``"pixelate"``, ``"fill"``,
            ``"crop"``, ...), any :class:`~facesafe.Redaction`, or a plain
            callable ``(image, faces) -> image`` that keeps the size.
        preset: detection preset, used when no ``detector`` is given: a
            name (``"fast"``, ``"balanced"``, ``"thorough"``) or a
            :class:`~facesafe.Preset` (e.g. one of them with ``orient`` changed).
        detector: any :class:`~facesafe.Detector`; default: a
            :class:`~facesafe.FaceDetector` with ``preset``.
        format: output format for encoded outputs (``None``: the input's).
        quality: encoder quality for lossy outputs.
        max_pixels: refuse inputs declaring more pixels than this.
        threads: inference threads of the default detector (``None``: its default).
        targets: what to find and hide: ``"faces"`` (default), ``"plates"``
            (licence plates), ``"text"`` (every readable text line, signs
            too), or several, ``"faces,plates"`` or ``("faces", "plates")``.
            Plates and text need ``pip install 'facesafe[text]'``; they are
            pixelated over their box before the faces get ``method`` (see
            ``docs/text.md``), and are returned among the faces with their
            :attr:`~facesafe.Face.kind`, after the faces.
        options: options of the redaction named by ``method``.

    Pickling keeps the settings and drops a default detector (it is rebuilt on
    first use), so an Anonymizer can be sent to worker processes.

    Raises :class:`~facesafe.MissingExtraError` at once when the method needs
    an extra that is not installed (``synthetic`` with the default detector
    and mesher: MediaPipe FaceMesh).
    """

    def __init__(
        self,
        *,
        method: str | Redaction | Callable[[np.ndarray, Sequence[Face]], np.ndarray] = DEFAULT_METHOD,
        preset: str | Preset = DEFAULT_PRESET,
        detector: Detector | None = None,
        format: str | None = None,
        quality: int = 92,
        max_pixels: int | None = None,
        threads: int | None = None,
        targets: str | Sequence[str] = "faces",
        **options: Any,
    ) -> None:
        self.redaction = make_redaction(method, **options)
        self._redaction = as_redaction(self.redaction)
        self.method = _method_name(self.redaction)
        if detector is None:  # the built-in detector finds no FaceMesh points: say now, not per file
            _require_extras(self.redaction)
        if not isinstance(preset, str) and not isinstance(preset, detection().Preset):  # a name needs no import
            raise TypeError(f"preset must be a str or Preset, got {type(preset).__name__}")
        self._preset = preset
        self.preset: str = preset if isinstance(preset, str) else preset.name  # the name, for manifests and reports
        self.format = None if format is None else format.upper()
        if not 1 <= int(quality) <= 100:
            raise ValueError(f"quality must be in 1..100, got {quality}")
        self.quality = int(quality)
        self.max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else int(max_pixels)
        if self.max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {max_pixels}")
        self.threads = threads
        self.targets = parse_targets(targets)
        self._text_kinds = text_kinds(self.targets)
        if self._text_kinds:
            text_model_path("det")  # fail now, before any output, when the text extra is missing
        self._own_detector = detector is None
        self._detector = detector
        self._text_detector: Any = None

    # -- detector lifecycle -------------------------------------------------
    @property
    def detector(self) -> Detector:
        """The detector in use, built on first access."""
        if self._detector is None:
            self._detector = detection().FaceDetector(preset=self._preset, threads=self.threads)
        return self._detector

    @property
    def text_detector(self) -> Any:
        """The plate / text detector (``None`` when only faces are asked), built on first access."""
        if self._text_kinds and self._text_detector is None:
            self._text_detector = detection().TextDetector(kinds=self._text_kinds, threads=self.threads)
        return self._text_detector

    def _with_face_detector(self, detector: Detector) -> Anonymizer:
        """The same settings and targets, finding faces with ``detector`` (for the datasets' annotated faces); plates and text
        with this one's text detector, shared: close this one, never the copy."""
        other = copy.copy(self)
        other._detector, other._own_detector = detector, False
        other._text_detector = self.text_detector
        return other

    def load(self) -> None:
        """Build the detectors now (a worker does, before its first task)."""
        if "faces" in self.targets:
            self.detector  # noqa: B018
        self.text_detector  # noqa: B018

    def close(self) -> None:
        """Release the default detector's models (a custom detector is left alone)."""
        if self._own_detector and self._detector is not None:
            close = getattr(self._detector, "close", None)
            if close is not None:
                close()
            self._detector = None
        if self._text_detector is not None:
            self._text_detector.close()
            self._text_detector = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._own_detector:
            state["_detector"] = None
        state["_text_detector"] = None
        return state

    def settings(self) -> dict[str, Any]:
        """Everything that decides the output, as plain JSON-able values (a batch run resumes when they are equal).

        ``targets`` is listed only when it is not faces alone, so a faces-only
        run keeps the settings (and resumes the manifests) of earlier versions.
        """
        settings: dict[str, Any] = {
            "method": self.method,
            "redaction": self._redaction.fingerprint(),
            "preset": _preset_setting(self._preset) if self._own_detector else repr(self._detector),
            "format": self.format,
            "quality": self.quality,
            "max_pixels": self.max_pixels,
        }
        if self.targets != ("faces",):
            settings["targets"] = list(self.targets)
        return settings

    # -- work ---------------------------------------------------------------
    def detect(self, image: np.ndarray) -> tuple[Face, ...]:
        """Faces (then plates and text, as the targets ask) in ``image``; a detector failure raises, never returns ``()``."""
        faces = tuple(self.detector(image)) if "faces" in self.targets else ()
        for face in faces:
            if not isinstance(face, Face):
                raise TypeError(f"detector returned {type(face).__name__}, expected Face")
        if not self._text_kinds:
            return faces
        return faces + tuple(self.text_detector(image))

    def anonymize(self, image: np.ndarray) -> Result:
        """Detect and redact every face of one ``uint8`` RGB image."""
        _check_image(image)
        faces = self.detect(image)
        region = self._kept(faces, width=image.shape[1], height=image.shape[0])
        fell_back: tuple[int, ...]
        donors: tuple[str, ...] = ()
        if region is not None:
            out, fell_back = _hide_text(image, faces)[region.to_slices()].copy(), ()
        else:
            out, fell_back, donors = self._redact(image, faces)
        return Result(image=out, faces=faces, method=self.method, region=region, fell_back=fell_back, donors=donors)

    def _redact(self, image: np.ndarray, faces: Sequence[Face]) -> tuple[np.ndarray, tuple[int, ...], tuple[str, ...]]:
        """Redact ``faces`` keeping the frame (plates and text among them first, by kind); also say which
        faces fell back (indices among the faces of kind ``face``) and, if the method says, each face's
        donor. A size change is refused."""
        if any(f.kind != "face" for f in faces):
            image, faces = _hide_text(image, faces), [f for f in faces if f.kind == "face"]
        done = self._redaction.redact(image, faces)
        if done.image.shape != image.shape:
            raise RedactionError(
                f"{self.redaction!r} returned shape {done.image.shape} for {image.shape}: redact() keeps "
                "the size (a method that cuts the frame says so with region())"
            )
        donors = tuple(getattr(done, "donors", ()))  # a Redacted of an older protocol implementation has none
        return done.image, tuple(done.fell_back), donors if len(donors) == len(faces) else ()

    def _kept(self, faces: Sequence[Face], *, width: int, height: int) -> Box | None:
        """The part of the frame the method keeps, free of every face (plates and text are hidden, not avoided)."""
        return kept_region(self._redaction, [f for f in faces if f.kind == "face"], width=width, height=height)

    def anonymize_picture(self, picture: Picture) -> FileResult:
        """Detect and redact every frame of a decoded file; alpha is kept.

        In animations a face found in one frame is also redacted in the frames
        next to it, so that a face the detector misses for one frame does not
        flash through. ``crop`` keeps one rectangle free of every face of
        every frame, so all frames keep one size.
        """
        per_frame = tuple(self.detect(frame) for frame in picture.frames)
        height, width = picture.frames[0].shape[:2]
        region = self._kept(tuple(f for faces in per_frame for f in faces), width=width, height=height)
        if region is not None:
            rows, cols = region.to_slices(width=width, height=height)
            hidden = (_hide_text(f, per_frame[i]) for i, f in enumerate(picture.frames))
            frames = tuple(np.ascontiguousarray(f[rows, cols]) for f in hidden)
            alpha = None if picture.alpha is None else tuple(np.ascontiguousarray(a[rows, cols]) for a in picture.alpha)
            fell_back: tuple[tuple[int, ...], ...] = tuple(() for _ in per_frame)
            donors: tuple[tuple[str, ...], ...] = tuple(() for _ in per_frame)
        else:
            done = [self._redact_frame(frame, per_frame, i) for i, frame in enumerate(picture.frames)]
            frames = tuple(image for image, _, _ in done)
            alpha = picture.alpha
            fell_back = tuple(indices for _, indices, _ in done)
            donors = tuple(given for _, _, given in done)
        out = replace(picture, frames=frames, alpha=alpha)
        return FileResult(picture=out, faces=per_frame, method=self.method, region=region, fell_back=fell_back, donors=donors)

    def _redact_frame(
        self, frame: np.ndarray, per_frame: tuple[tuple[Face, ...], ...], i: int
    ) -> tuple[np.ndarray, tuple[int, ...], tuple[str, ...]]:
        """Frame ``i`` with the faces of frames ``i - 1 .. i + 1`` redacted; which of its own faces fell back, their donors."""
        before = per_frame[i - 1] if i > 0 else ()
        own = per_frame[i]
        hide = before + own + (per_frame[i + 1] if i + 1 < len(per_frame) else ())
        if not hide:
            return frame.copy(), (), ()
        image, fell_back, donors = self._redact(frame, hide)
        start = sum(f.kind == "face" for f in before)
        count = sum(f.kind == "face" for f in own)
        return image, tuple(k - start for k in fell_back if start <= k < start + count), donors[start : start + count]

    def encode(self, result: FileResult, *, input_format: str) -> tuple[bytes, str]:
        """Encode a result as ``(data, format)``; the format is the configured one or the input's default."""
        fmt = self.format or output_format(input_format)
        return encode_image(result.picture, format=fmt, quality=self.quality), fmt

    def anonymize_bytes(self, data: bytes) -> bytes:
        """Decode, anonymise every frame and re-encode; the output carries no metadata."""
        picture = load_image(data, max_pixels=self.max_pixels)
        encoded, _ = self.encode(self.anonymize_picture(picture), input_format=picture.format)
        return encoded

    __call__ = anonymize_bytes

    def __repr__(self) -> str:
        targets = "" if self.targets == ("faces",) else f", targets={','.join(self.targets)!r}"
        return f"Anonymizer(method={self.method!r}, redaction={self.redaction!r}, preset={self.preset!r}, format={self.format!r}{targets})"


def _preset_setting(preset: str | Preset) -> str | dict[str, Any]:
    """How a run's settings record ``preset``: its name when it is the named preset, else every field
    (a preset changed from its namesake, e.g. with ``orient`` switched, gives other outputs)."""
    if isinstance(preset, str):
        return preset
    if detection().PRESETS.get(preset.name) == preset:
        return preset.name
    return {f.name: getattr(preset, f.name) for f in fields(preset)}


def _hide_text(image: np.ndarray, regions: Sequence[Face]) -> np.ndarray:
    """``image`` with its plates and text hidden (see :func:`~facesafe._redact._text.hide_text`)."""
    return _redaction_code().hide_text(image, regions)


def anonymize(
    image: np.ndarray,
    *,
    method: str | Redaction | Callable[[np.ndarray, Sequence[Face]], np.ndarray] = DEFAULT_METHOD,
    preset: str | Preset = DEFAULT_PRESET,
    detector: Detector | None = None,
    targets: str | Sequence[str] = "faces",
    **options: Any,
) -> Result:
    """Find every face in ``image`` and redact it.

    Args:
        image: ``uint8`` RGB array of shape ``(H, W, 3)``; not modified.
        method: ``"blur"`` (default), ``"pixelate"``, ``"fill"``, ``"crop"``,
            ``"synthetic"``, any :class:`~facesafe.Redaction`, or a plain
            callable ``(image, faces) -> image`` that keeps the size.
        preset: detection preset (``"fast"``, ``"balanced"``, ``"thorough"``,
            or a :class:`~facesafe.Preset`), used when ``detector`` is not given.
        detector: any :class:`~facesafe.Detector`. Building the default one
            loads models: for many images, pass one detector (or use
            :class:`~facesafe.Anonymizer`) instead of calling this in a loop.
        targets: what to find and hide besides faces: ``"faces,plates,text"``
            (see :class:`~facesafe.Anonymizer`; plates and text need the
            ``facesafe[text]`` extra).
        options: options of the named method, e.g. ``color=(255, 0, 255)`` for fill.

    >>> result = anonymize(image, method="fill", color=(0, 0, 0))   # doctest: +SKIP
    >>> result.faces, result.image.shape                             # doctest: +SKIP
    """
    with Anonymizer(method=method, preset=preset, detector=detector, targets=targets, **options) as anonymizer:
        return anonymizer.anonymize(image)


def anonymize_bytes(data: bytes, **settings: Any) -> bytes:
    """Anonymise one encoded image (any supported format) and return the encoded output.

    ``settings`` are those of :class:`Anonymizer`. For many images build one
    :class:`Anonymizer` and call it on each ``bytes`` instead.
    """
    with Anonymizer(**settings) as anonymizer:
        return anonymizer.anonymize_bytes(data)
