"""Detection presets: how much work the detector does per image.

Every preset runs CenterFace on the whole image at a *base* scale (the image
itself, or shrunk so its long side is at most ``max_side``) and at half that
scale (large faces), then merges what the passes found. ``balanced`` adds
upscaled passes on the regions where the first passes saw small or uncertain
faces, first finds which quarter turn stands the photo up (``orient``:
photos stored sideways or upside down) and looks again, mirrored, at the
large clusters just short of their threshold (``mirror_weak``), looks close
up at the large faces it kept unsure and drops those no look sees
(``verify``), and searches again a photo its faces show tilted between
quarter turns (``tilt``); ``thorough``
upscales the whole image and adds mirrored and rotated passes. Figures for each preset are in
docs/detection.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Preset", "PRESETS"]


@dataclass(frozen=True, slots=True)
class Preset:
    """The settings of one detection preset (read-only).

    Attributes:
        name: the preset's name.
        max_side: long side (px) of the base pass; larger images are shrunk
            for it (and looked at in upscaled tiles where needed).
        coarse: also run a pass at half the base scale (finds large faces).
        upscale: factor of the upscaled pass over tiles (0: no such pass).
        upscale_everywhere: upscale every tile, not only those that need it.
        trigger_height: a tile is upscaled when it holds a candidate face
            shorter than this (base-pass px)...
        trigger_score: ...whose merged score is at least this.
        tile: side of the tiles (base-pass px) the upscaled pass works on.
        flip: also run the base (and half) pass on the mirrored image.
        mirror_weak: look again, in a mirrored window each, at the large
            clusters short of their threshold (:mod:`._mirror`): a profile
            seen weakly one way round is often seen clearly the other way.
        verify: look again, close up, at each large cluster kept although
            no pass was sure of it, and drop it when no look sees it at all
            (:mod:`._verify`): large false alarms mask many pixels.
        orient: first find which quarter turn stands the photo up (from the
            half or base pass's landmarks, else four small probe passes) and run the
            passes on the photo turned that way, or both ways when the turn
            is doubtful: photos stored sideways or upside down at little
            extra cost (on in ``balanced``; see :mod:`._orient`).
        tilt: search a photo again, turned upright, when the clear faces
            found agree that it is tilted at least 20 degrees away from any
            quarter turn
            (:mod:`._tilt`; on in ``balanced``).
        rotations: also run the base pass on the image turned by these
            angles (degrees, counter-clockwise), for lying or upside-down faces.
        thresholds: minimum merged score to keep a face, for faces shorter than
            32, 64, 128 base-pass px, and taller.
        rotated_threshold: minimum score of a face seen only in a rotated pass.
        floor: heatmap level below which a peak is not a candidate at all.
    """

    name: str
    max_side: int = 2048
    coarse: bool = True
    upscale: float = 2.0
    upscale_everywhere: bool = False
    trigger_height: float = 64.0
    trigger_score: float = 0.03
    tile: int = 128
    flip: bool = False
    mirror_weak: bool = False
    verify: bool = False
    orient: bool = False
    tilt: bool = False
    rotations: tuple[int, ...] = ()
    thresholds: tuple[float, float, float, float] = (0.1, 0.1, 0.15, 0.3)
    rotated_threshold: float = 0.5
    floor: float = 0.02

    def __post_init__(self) -> None:
        if self.max_side < 64:
            raise ValueError(f"max_side must be >= 64, got {self.max_side}")
        if self.upscale < 0:
            raise ValueError(f"upscale must be >= 0, got {self.upscale}")
        if any(r not in (90, 180, 270) for r in self.rotations):
            raise ValueError(f"rotations must be among 90, 180, 270, got {self.rotations}")
        if len(self.thresholds) != 4:
            raise ValueError(f"thresholds must have 4 values, got {self.thresholds}")


PRESETS = MappingProxyType(
    {
        "fast": Preset("fast", upscale=0.0),
        "balanced": Preset(
            "balanced",
            upscale=1.5,
            trigger_height=40.0,
            trigger_score=0.08,
            orient=True,
            mirror_weak=True,
            verify=True,
            tilt=True,
            thresholds=(0.15, 0.10, 0.10, 0.3),
        ),
        "thorough": Preset(
            "thorough",
            upscale_everywhere=True,
            flip=True,
            rotations=(90, 180, 270),
            tile=256,
            thresholds=(0.15, 0.15, 0.2, 0.4),
        ),
    }
)
"""Preset name -> :class:`Preset`: ``fast``, ``balanced`` (default), ``thorough``."""
