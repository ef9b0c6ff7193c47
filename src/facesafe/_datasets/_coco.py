"""COCO: an annotation file and its images folder, into ``DST/annotations.json`` and ``DST/images/``.

Each entry of ``images`` is one record: its file (``file_name``, relative to
the images folder) is anonymised into ``DST/images/`` under the same relative
name (its suffix changes only with its format), and the entry keeps only the
fields in ``IMAGE_FIELDS``: ``flickr_url``, ``coco_url``, ``date_captured``
and anything else that could identify or date a photo go.

After ``crop`` the image is smaller, and :func:`crop_annotation` moves every
annotation of it into the kept region: ``bbox`` is clipped and shifted,
polygons are clipped to the region (Sutherland-Hodgman), RLE masks are cut
(pycocotools), keypoints outside the region become ``0, 0, 0`` (not labelled)
and ``num_keypoints`` is recounted, ``area`` is recomputed from the new mask
(from the clipped box when there is no mask). An annotation left with nothing
in the region is dropped and counted, as are the annotations of an image that
failed. ``width`` and ``height`` are the kept region's.

Annotations are in the pixels of the file as stored. facesafe turns a photo
upright by its EXIF orientation before anything else, so an image whose
decoded size differs from the entry's ``width`` x ``height`` fails (the
annotations would not fit it). Everything at the top level other than
``images`` and ``annotations`` (``info``, ``licenses``, ``categories``) and
every non-geometric field of an annotation is copied unchanged: its text is
the user's responsibility.

Faces the annotations already mark (a face category, the head keypoints of
people: :class:`FaceHints`) are redacted together with the detector's faces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .._batch._run import hmac_name
from .._discover import output_rel
from .._io import atomic_write_bytes
from ._core import Outcome, OutputFile, Session, Task, failed

__all__ = ["IMAGE_FIELDS", "Coco", "FaceHints", "clip_polygon", "crop_annotation"]

# What an image entry may keep: nothing here names, locates or dates a photo.
IMAGE_FIELDS = ("id", "file_name", "width", "height", "license")

Region = tuple[int, int, int, int]


def clip_polygon(xy: list[float], region: Region) -> list[float]:
    """The polygon ``[x1, y1, x2, y2, ...]`` clipped to ``region`` ``(x0, y0, x1, y1)``, in the region's coordinates."""
    x0, y0, x1, y1 = region
    points = list(zip(xy[0::2], xy[1::2], strict=False))  # an odd trailing value is no point
    edges = (  # (inside, crossing of the edge by the segment p -> q)
        (lambda p: p[0] >= x0, lambda p, q: (x0, p[1] + (x0 - p[0]) * (q[1] - p[1]) / (q[0] - p[0]))),
        (lambda p: p[0] <= x1, lambda p, q: (x1, p[1] + (x1 - p[0]) * (q[1] - p[1]) / (q[0] - p[0]))),
        (lambda p: p[1] >= y0, lambda p, q: (p[0] + (y0 - p[1]) * (q[0] - p[0]) / (q[1] - p[1]), y0)),
        (lambda p: p[1] <= y1, lambda p, q: (p[0] + (y1 - p[1]) * (q[0] - p[0]) / (q[1] - p[1]), y1)),
    )
    for inside, cross in edges:
        kept: list[tuple[float, float]] = []
        for i, current in enumerate(points):
            previous = points[i - 1]
            if inside(current):
                if not inside(previous):
                    kept.append(cross(previous, current))
                kept.append(current)
            elif inside(previous):
                kept.append(cross(previous, current))
        points = kept
        if not points:
            return []
    return [round(v - offset, 2) for x, y in points for v, offset in ((x, x0), (y, y0))]


def _polygon_area(xy: list[float]) -> float:
    x, y = np.asarray(xy[0::2]), np.asarray(xy[1::2])
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def _uncompressed(mask: np.ndarray) -> dict[str, Any]:
    """A binary mask as an uncompressed RLE (column-major runs, starting with zeros)."""
    flat = np.asfortranarray(mask).ravel(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts.insert(0, 0)
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def _crop_rle(rle: dict[str, Any], region: Region, size: tuple[int, int]) -> tuple[dict[str, Any], float] | None:
    from pycocotools import mask as coco_mask

    width, height = size
    compressed = not isinstance(rle["counts"], list)
    encoded = dict(rle, counts=rle["counts"].encode("ascii")) if compressed and isinstance(rle["counts"], str) else rle
    if not compressed:
        encoded = coco_mask.frPyObjects(rle, height, width)
    x0, y0, x1, y1 = region
    cut = np.ascontiguousarray(coco_mask.decode(encoded)[y0:y1, x0:x1])
    area = float(cut.sum())
    if area == 0:
        return None
    if not compressed:
        return _uncompressed(cut), area
    out = coco_mask.encode(np.asfortranarray(cut))
    return {"size": [int(y1 - y0), int(x1 - x0)], "counts": out["counts"].decode("ascii")}, area


def crop_annotation(annotation: dict[str, Any], region: Region, size: tuple[int, int]) -> dict[str, Any] | None:
    """``annotation`` moved into ``region`` of an image of ``size`` ``(width, height)``; ``None`` when nothing of it is left."""
    x0, y0, x1, y1 = region
    out = dict(annotation)
    box_area = None
    if "bbox" in annotation:
        bx, by, bw, bh = annotation["bbox"]
        nx0, ny0, nx1, ny1 = max(bx, x0), max(by, y0), min(bx + bw, x1), min(by + bh, y1)
        if nx1 <= nx0 or ny1 <= ny0:
            return None
        out["bbox"] = [round(nx0 - x0, 2), round(ny0 - y0, 2), round(nx1 - nx0, 2), round(ny1 - ny0, 2)]
        box_area = (nx1 - nx0) * (ny1 - ny0)
        if "area" in annotation and bw * bh > 0:
            out["area"] = round(annotation["area"] * box_area / (bw * bh), 2)
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, list) and segmentation:
        polygons = [p for p in (clip_polygon(poly, region) for poly in segmentation) if len(p) >= 6 and _polygon_area(p) > 0]
        if not polygons:
            return None
        out["segmentation"] = polygons
        out["area"] = round(_mask_area(polygons, region), 2)
    elif isinstance(segmentation, dict):
        cut = _crop_rle(segmentation, region, size)
        if cut is None:
            return None
        out["segmentation"], out["area"] = cut
    if "keypoints" in annotation:
        points = list(annotation["keypoints"])
        for i in range(0, len(points), 3):
            x, y, v = points[i : i + 3]
            inside = v > 0 and x0 <= x < x1 and y0 <= y < y1
            points[i : i + 3] = [x - x0, y - y0, v] if inside else [0, 0, 0]
        out["keypoints"] = points
        out["num_keypoints"] = sum(1 for v in points[2::3] if v > 0)
    return out


def _mask_area(polygons: list[list[float]], region: Region) -> float:
    from pycocotools import mask as coco_mask

    x0, y0, x1, y1 = region
    rles = coco_mask.frPyObjects(polygons, y1 - y0, x1 - x0)
    return float(coco_mask.area(coco_mask.merge(rles)))


FACE_POINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
FACE_WORDS = ("face", "faces", "head")


class FaceHints:
    """Faces the annotations already know: boxes of a face category and the head keypoints of people.

    A category is a face category when a word of its name is ``face``,
    ``faces`` or ``head``. From a keypoint annotation (COCO persons), the
    visible ``nose``, eyes and ears give a square centred on them, twice
    their spread wide and at least a quarter of the person's box. These are
    redacted together with the detector's faces: a backstop for its misses.
    """

    def __init__(self, categories: list[dict[str, Any]]) -> None:
        self.face_ids = {c.get("id") for c in categories
                         if set(str(c.get("name", "")).lower().replace("_", " ").split()) & set(FACE_WORDS)}
        self.points = {c.get("id"): [i for i, n in enumerate(c.get("keypoints") or []) if n in FACE_POINTS] for c in categories}

    def __call__(self, annotations: list[dict[str, Any]]) -> tuple[tuple[float, float, float, float], ...]:
        hints = []
        for ann in annotations:
            box = ann.get("bbox")
            if ann.get("category_id") in self.face_ids and box and len(box) == 4:
                hints.append((float(box[0]), float(box[1]), float(box[0] + box[2]), float(box[1] + box[3])))
            keypoints = ann.get("keypoints") or []
            seen = [(keypoints[3 * i], keypoints[3 * i + 1]) for i in self.points.get(ann.get("category_id"), [])
                    if 3 * i + 2 < len(keypoints) and keypoints[3 * i + 2] > 0]
            if seen:
                xs, ys = [p[0] for p in seen], [p[1] for p in seen]
                side = max(2.0 * max(max(xs) - min(xs), max(ys) - min(ys)), 0.25 * float(box[2]) if box else 0.0, 8.0)
                cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
                hints.append((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
        return tuple(hints)


def _safe_rel(file_name: Any) -> PurePosixPath | None:
    if not isinstance(file_name, str) or not file_name:
        return None
    rel = PurePosixPath(file_name.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        return None
    return rel


@dataclass(frozen=True)
class _Entry:
    """One image entry and its file's bytes (``problem``: why there are none)."""

    entry: dict[str, Any]
    key: str
    data: bytes | None = field(repr=False)
    problem: str | None = None


@dataclass(frozen=True)
class _End:
    """Every entry done: the annotation file is written."""


class Coco:
    """The COCO adapter: :meth:`items` reads the image files, :meth:`emit` writes them and, last, ``annotations.json``.

    Args:
        faces_category: the name of a category to add, with one annotation
            per face found (``bbox`` in the output's pixels, ``score``), for
            review; ``None`` adds nothing.
        rename_key: name the output images by the keyed hash of their
            ``file_name`` (``--rename hmac``), flat in ``images/``.

    The output images are written one by one (each atomically) as they come
    back; the annotation file only when all are done, so a killed run has
    written no ``annotations.json``, and its re-run does every image again
    (replacing the images it wrote). A re-run of a finished one writes
    nothing (:meth:`done`): the annotation file, every image file and every
    output as that run left them, with the same settings.
    """

    def __init__(self, source: Path, images: Path, out: Path, session: Session, *, faces_category: str | None = None,
                 rename_key: bytes | None = None) -> None:
        try:
            data = json.loads(source.read_bytes())
            entries, annotations = data["images"], data.get("annotations", [])
            if not isinstance(entries, list) or not isinstance(annotations, list):
                raise TypeError("images and annotations must be lists")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"source: {os.fspath(source)!r} is not a COCO annotation file ({type(exc).__name__}: {exc})") from None
        self.source, self.images, self.out, self.session, self.rename_key = source, images, out, session, rename_key
        self.data, self.entries, self.annotations = data, entries, annotations
        self.by_image: dict[Any, list[int]] = {}
        for index, annotation in enumerate(annotations):
            self.by_image.setdefault(annotation.get("image_id"), []).append(index)
        self.hints = FaceHints(data.get("categories") or [])
        self.output = out / "annotations.json"
        self.kept_images: list[dict[str, Any]] = []
        self.kept: dict[int, dict[str, Any]] = {}
        self.faces = _FaceCategory(faces_category, data.get("categories") or [], annotations) if faces_category else None
        self._file: OutputFile | None = None
        self._done: bool | None = None

    def done(self) -> bool:
        """Whether an earlier run with these settings wrote ``annotations.json`` from this file as it is, and every
        image from its file as it is (outputs still in place): then there is nothing to write."""
        if self._done is None:
            self._done = self.session.previous(self.source, self.output) and all(map(self._written, self.entries))
        return self._done

    def _written(self, entry: dict[str, Any]) -> bool:
        """Whether the entry's image was written by an earlier run with these settings, from its file as it is."""
        rel = _safe_rel(entry.get("file_name"))
        if rel is None:
            return False
        try:
            return self.session.previous(self.images / rel, key=f"{self.source}#image={entry.get('id')}")
        except OSError:  # an image that cannot be read is not done: the run meets it again and records it
            return False

    def items(self) -> Iterator[_Entry | _End]:
        """Each image entry with its file's bytes, read as it is reached, then the end; nothing when :meth:`done`."""
        if self.done():
            self.session.unchanged_unit()
            return
        if not self.session.may_write(self.source, self.output):
            return
        self.session.plan_unit(self.source, "annotations.json", self.output)
        yield from self._entries()
        yield _End()

    def _entries(self) -> Iterator[_Entry]:
        for entry in self.entries:
            key = f"{self.source}#image={entry.get('id')}"
            rel = _safe_rel(entry.get("file_name"))
            if rel is None:
                yield _Entry(entry, key, None, f"file_name {entry.get('file_name')!r} is not a relative path inside the images folder")
                continue
            try:
                yield _Entry(entry, key, (self.images / rel).read_bytes())
            except OSError as exc:
                yield _Entry(entry, key, None, f"cannot read {rel}: {exc.strerror or exc}")

    def all_tasks(self) -> Iterator[Task]:
        """Every image entry's task, read as a stream, with no record made (the pool's first pass)."""
        for item in self._entries():
            yield from self.tasks_of(item)

    def tasks_of(self, item: _Entry | _End) -> list[Task]:
        """An entry's image as a task, with the faces its annotations mark as hints."""
        if not isinstance(item, _Entry) or item.data is None:
            return []
        return [Task(item.key, item.data, hints=self.hints([self.annotations[i] for i in self.by_image.get(item.entry.get("id"), [])]))]

    def emit(self, item: _Entry | _End, outcomes: tuple[Outcome, ...]) -> None:
        """Write one entry's image and move its annotations; at the end, write the annotation file."""
        if isinstance(item, _End):
            self._finish()
        else:
            self._entry(item, outcomes)

    def abort(self) -> None:
        """Nothing half-written to drop: the annotation file is written at once, at the end."""
        if self._file is not None:
            self._file.abort()

    def _entry(self, item: _Entry, outcomes: tuple[Outcome, ...]) -> None:
        entry, key, session = item.entry, item.key, self.session
        rel = str(entry.get("file_name"))
        outcome = failed(key, item.problem) if item.problem is not None else _checked(outcomes[0], entry)
        target = name = None
        if outcome.status == "written" and outcome.data is not None:
            fmt = outcome.output_format or ""
            name = (PurePosixPath(hmac_name(self.rename_key, rel, fmt)) if self.rename_key is not None
                    else output_rel(PurePosixPath(rel), fmt))
            target = self.out / "images" / name
            try:
                atomic_write_bytes(target, outcome.data, overwrite=session.may_replace(key, target))
            except Exception as exc:  # an output that cannot be written is this record's failure
                outcome = failed(key, f"{type(exc).__name__}: {exc}")
        session.record(outcome, rel=rel, output=None if target is None else str(target))
        indices = self.by_image.pop(entry.get("id"), [])
        if outcome.status != "written":
            session.drop_annotations(len(indices))
            return
        assert outcome.size is not None
        width, height = outcome.size
        region = outcome.region if outcome.region is not None else (0, 0, width, height)
        self.kept_images.append({k: entry[k] for k in IMAGE_FIELDS if k in entry} | {
            "file_name": str(name), "width": region[2] - region[0], "height": region[3] - region[1]})
        for index in indices:
            annotation = self.annotations[index]
            moved = annotation if region == (0, 0, width, height) else crop_annotation(annotation, region, (width, height))
            if moved is None:
                session.drop_annotations(1)
            else:
                self.kept[index] = moved
        if self.faces is not None:
            self.faces.add(entry.get("id"), outcome, region)

    def _finish(self) -> None:
        self.session.drop_annotations(sum(len(v) for v in self.by_image.values()))  # annotations of no image entry
        result = {key: value for key, value in self.data.items() if key not in ("images", "annotations")}
        result["images"] = self.kept_images
        result["annotations"] = [self.kept[index] for index in sorted(self.kept)]
        if self.faces is not None:
            result["categories"] = [*(self.data.get("categories") or []), self.faces.category]
            result["annotations"] += self.faces.annotations
        self._file = OutputFile(self.output)
        self._file.temp.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        self._file.commit()
        self._file = None
        self.session.done_unit(self.source, "annotations.json", self.output)


class _FaceCategory:
    """The faces found, as annotations of an added category (for review): boxes in the output's pixels, with scores."""

    def __init__(self, name: str, categories: list[dict[str, Any]], annotations: list[dict[str, Any]]) -> None:
        ids = [c["id"] for c in categories if isinstance(c.get("id"), int)]
        self.category = {"id": max(ids, default=0) + 1, "name": name, "supercategory": "facesafe"}
        self._next = max((a["id"] for a in annotations if isinstance(a.get("id"), int)), default=0) + 1
        self.annotations: list[dict[str, Any]] = []

    def add(self, image_id: Any, outcome: Outcome, region: Region) -> None:
        """One annotation per face found in the first frame that lies (partly) in the kept ``region``."""
        x0, y0, x1, y1 = region
        for fx0, fy0, fx1, fy1, score in outcome.face_boxes():
            nx0, ny0, nx1, ny1 = max(fx0, x0), max(fy0, y0), min(fx1, x1), min(fy1, y1)
            if nx1 <= nx0 or ny1 <= ny0:
                continue
            w, h = round(nx1 - nx0, 2), round(ny1 - ny0, 2)
            self.annotations.append({"id": self._next, "image_id": image_id, "category_id": self.category["id"],
                                     "bbox": [round(nx0 - x0, 2), round(ny0 - y0, 2), w, h], "area": round(w * h, 2),
                                     "iscrowd": 0, "score": score})
            self._next += 1


def _checked(outcome: Outcome, entry: dict[str, Any]) -> Outcome:
    """The outcome, failed when the decoded image is not the size the annotations are drawn on."""
    if outcome.status != "written" or outcome.size is None or "width" not in entry or "height" not in entry:
        return outcome
    if tuple(outcome.size) != (entry["width"], entry["height"]):
        width, height = outcome.size
        return failed(outcome.key, f"decoded size {width}x{height} differs from the annotations' {entry['width']}x{entry['height']} "
                                   "(an EXIF orientation the annotations do not follow?)")
    return outcome
