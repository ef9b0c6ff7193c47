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
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ._core import Runner, Outcome, Session, Task, atomic_output, failed

__all__ = ["IMAGE_FIELDS", "FaceHints", "anonymize_coco", "crop_annotation", "clip_polygon"]

# What an image entry may keep: nothing here names, locates or dates a photo.
IMAGE_FIELDS = ("id", "file_name", "width", "height", "license")

Region = tuple[int, int, int, int]


def clip_polygon(xy: list[float], region: Region) -> list[float]:
    """The polygon ``[x1, y1, x2, y2, ...]`` clipped to ``region`` ``(x0, y0, x1, y1)``, in the region's coordinates."""
    x0, y0, x1, y1 = region
    points = list(zip(xy[0::2], xy[1::2]))
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


def _entries(entries: list[dict[str, Any]], images: Path, source: Path) -> Iterator[tuple[dict[str, Any], str, bytes | None, str | None]]:
    """``(entry, key, bytes, problem)`` per image entry, the file read as it is reached."""
    for entry in entries:
        key = f"{source}#image={entry.get('id')}"
        rel = _safe_rel(entry.get("file_name"))
        if rel is None:
            yield entry, key, None, f"file_name {entry.get('file_name')!r} is not a relative path inside the images folder"
            continue
        try:
            yield entry, key, (images / rel).read_bytes(), None
        except OSError as exc:
            yield entry, key, None, f"cannot read {rel}: {exc.strerror or exc}"


def anonymize_coco(source: Path, images: Path, out: Path, session: Session, runner: Runner) -> None:
    """Anonymise a COCO annotation file's images into ``out/images`` and write ``out/annotations.json``."""
    from .._discover import output_rel
    from .._io import atomic_write_bytes

    try:
        data = json.loads(source.read_bytes())
        entries, annotations = data["images"], data.get("annotations", [])
        if not isinstance(entries, list) or not isinstance(annotations, list):
            raise TypeError("images and annotations must be lists")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"source: {os.fspath(source)!r} is not a COCO annotation file ({type(exc).__name__}: {exc})") from None
    by_image: dict[Any, list[int]] = {}
    for index, annotation in enumerate(annotations):
        by_image.setdefault(annotation.get("image_id"), []).append(index)
    output = out / "annotations.json"
    if not session.may_write(source, output):
        return
    session.plan_unit(source, "annotations.json", output)
    kept_images: list[dict[str, Any]] = []
    kept: dict[int, dict[str, Any]] = {}

    hints = FaceHints(data.get("categories") or [])

    def tasks_of(item: tuple[dict[str, Any], str, bytes | None, str | None]) -> list[Task]:
        if item[2] is None:
            return []
        return [Task(item[1], item[2], hints=hints([annotations[i] for i in by_image.get(item[0].get("id"), [])]))]

    for (entry, key, _, problem), outcomes in runner.map(_entries(entries, images, source), tasks_of):
        rel = str(entry.get("file_name"))
        outcome = failed(key, problem) if problem is not None else _checked(outcomes[0], entry)
        target = None
        if outcome.status == "written":
            name = output_rel(PurePosixPath(rel), outcome.output_format)
            target = out / "images" / name
            try:
                atomic_write_bytes(target, outcome.data, overwrite=session.may_replace(key, target))
            except Exception as exc:  # an output that cannot be written is this record's failure
                outcome = failed(key, f"{type(exc).__name__}: {exc}")
        session.record(outcome, rel=rel, output=None if target is None else str(target))
        indices = by_image.pop(entry.get("id"), [])
        if outcome.status != "written":
            session.drop_annotations(len(indices))
            continue
        width, height = outcome.size
        region = outcome.region if outcome.region is not None else (0, 0, width, height)
        kept_images.append({k: entry[k] for k in IMAGE_FIELDS if k in entry} | {
            "file_name": str(name), "width": region[2] - region[0], "height": region[3] - region[1]})
        for index in indices:
            moved = annotations[index] if region == (0, 0, width, height) else crop_annotation(annotations[index], region, (width, height))
            if moved is None:
                session.drop_annotations(1)
            else:
                kept[index] = moved
    session.drop_annotations(sum(len(v) for v in by_image.values()))  # annotations of no image entry
    result = {key: value for key, value in data.items() if key not in ("images", "annotations")}
    result["images"] = kept_images
    result["annotations"] = [kept[index] for index in sorted(kept)]
    with atomic_output(output) as temp:
        temp.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    session.done_unit(source, "annotations.json", output)


def _checked(outcome: Outcome, entry: dict[str, Any]) -> Outcome:
    """The outcome, failed when the decoded image is not the size the annotations are drawn on."""
    if outcome.status != "written" or "width" not in entry or "height" not in entry:
        return outcome
    if tuple(outcome.size) != (entry["width"], entry["height"]):
        width, height = outcome.size
        return failed(outcome.key, f"decoded size {width}x{height} differs from the annotations' {entry['width']}x{entry['height']} "
                                   "(an EXIF orientation the annotations do not follow?)")
    return outcome
