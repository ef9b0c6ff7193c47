"""Build ``src/facesafe/_redact/mean_face.npz``: the reference FaceMesh shape the synthetic donor uses.

Source: the public-domain astronaut photo (``skimage.data.astronaut()``, a
NASA portrait of Eileen Collins). mediapipe 0.10.21 ships neither its
``canonical_face_model.obj`` nor the ``geometry_pipeline_metadata`` protobuf
that holds the canonical mesh, and no evaluation photo may be used, so:

1. MediaPipe FaceMesh (478 refined landmarks, with depth) is run on 9 crops of
   the astronaut's face (3 scales x 3 in-plane rotations) and on their mirror
   images;
2. the left-right pairing of the 478 points is read off those pairs: a point
   of the mirrored crop's mesh, flipped back, lands on its partner in the
   unmirrored mesh (an optimal one-to-one assignment; it is an involution);
3. every mesh, and its mirror image re-indexed by that pairing, is aligned to
   the running mean by a 3-D similarity (generalised Procrustes analysis) and
   averaged: the shape is exactly left-right symmetric;
4. it is rotated frontal (eye corners along x, forehead-chin along y) and
   scaled so that x spans [-1, 1].

Only the 478 x 3 coordinates and the pairing are written; no pixel. The
shape is one symmetrised, public-domain face (smiling, mouth slightly open);
``Synthesize`` keeps the original's expression around eyes, brows and lips and
adds a seeded random shape, so this is a reference, not anybody's identity
handed on.

    .venv/bin/python scripts/make_mean_face.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src/facesafe/_redact/mean_face.npz"
CENTRE, SIDE = (209.0, 111.0), 118.0  # the astronaut's face: centre and size in pixels
CROP = 256


def _meshes() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """FaceMesh points (in crop pixels) of each crop, and of its mirror image flipped back."""
    import skimage.data
    from mediapipe.python.solutions import face_mesh

    image = skimage.data.astronaut()
    plain, mirrored = [], []
    with face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as fm:
        for zoom in (1.8, 2.0, 2.2):
            for angle in (-6.0, 0.0, 6.0):
                matrix = cv2.getRotationMatrix2D(CENTRE, angle, CROP / (SIDE * zoom))
                matrix[:, 2] += CROP / 2 - np.array(CENTRE)
                crop = cv2.warpAffine(image, matrix, (CROP, CROP), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
                found = []
                for picture in (crop, np.ascontiguousarray(crop[:, ::-1])):
                    result = fm.process(picture)
                    if result.multi_face_landmarks:
                        points = result.multi_face_landmarks[0].landmark
                        found.append(np.array([(p.x, p.y, p.z) for p in points], np.float64) * CROP)
                if len(found) == 2:
                    plain.append(found[0])
                    back = found[1].copy()
                    back[:, 0] = CROP - back[:, 0]
                    mirrored.append(back)
    if not plain:
        raise RuntimeError("FaceMesh found no face on the astronaut")
    return plain, mirrored


def _pairing(plain: list[np.ndarray], mirrored: list[np.ndarray]) -> np.ndarray:
    """``pair[i]``: the point that mirrors point ``i`` (an involution)."""
    from scipy.optimize import linear_sum_assignment

    cost = sum(((m[:, None, :2] - p[None, :, :2]) ** 2).sum(axis=2) for p, m in zip(plain, mirrored, strict=True))
    rows, cols = linear_sum_assignment(cost)
    pair = np.empty(len(rows), np.int64)
    pair[rows] = cols
    if not (pair[pair] == np.arange(len(pair))).all():
        raise RuntimeError("the left-right pairing is not an involution")
    return pair


def _align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``src`` moved onto ``dst`` by the best 3-D similarity (Umeyama)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a)
    fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ fix @ vt
    scale = (s * np.diag(fix)).sum() / (a**2).sum()
    return scale * a @ rot.T + md


def _frontal(mesh: np.ndarray) -> np.ndarray:
    """Rotate a mesh so the eye corners (33, 263) lie along x and forehead-chin (10, 152) along y."""
    x = mesh[263] - mesh[33]
    x /= np.linalg.norm(x)
    y = mesh[152] - mesh[10]
    y -= x * (y @ x)
    y /= np.linalg.norm(y)
    frame = np.stack([x, y, np.cross(x, y)])
    out = (mesh - mesh.mean(0)) @ frame.T
    out[:, 0] -= (out[33, 0] + out[263, 0]) / 2
    return out


def main() -> None:
    plain, mirrored = _meshes()
    pair = _pairing(plain, mirrored)
    samples = plain + [m[pair] for m in mirrored]  # the mirror crops, re-indexed: more views of the same face
    samples += [(s * [-1.0, 1.0, 1.0])[pair] for s in samples]  # and every mirror image: exact symmetry
    mean = samples[0] - samples[0].mean(0)
    for _ in range(4):
        mean = np.mean([_align(s, mean) for s in samples], axis=0)
        mean -= mean.mean(0)
    mean = _frontal(mean)
    mean = (mean + (mean * [-1.0, 1.0, 1.0])[pair]) / 2  # remove rounding asymmetry
    mean -= mean.mean(0)
    mean /= np.abs(mean[:, 0]).max()  # x in [-1, 1]; y down; z towards the viewer is negative
    print(f"{len(plain)} crops (+ mirrors); {int((pair == np.arange(len(pair))).sum())} points on the midline")
    np.savez_compressed(
        OUT,
        mean=mean.astype(np.float32).round(5),
        pair=pair.astype(np.int16),
        source=np.array("skimage.data.astronaut (public domain), FaceMesh 478 points, symmetrised"),
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
