"""Build ``src/facesafe/_redact/mean_face.npz``: the mean FaceMesh shape the synthetic donor uses.

The mean is a statistic of many people, so it belongs to nobody: MediaPipe
FaceMesh (478 refined landmarks, with depth) is run on every face of at least
60 px in the WIDER FACE dev subset (``../shared/data/wider-dev``), each mesh is
aligned to the running mean by a 3-D similarity (generalised Procrustes
analysis), near-frontal meshes are kept, every mesh is also mirrored (so the
mean is left-right symmetric), and the aligned meshes are averaged. Only the
478 x 3 mean coordinates and the left-right point pairing are written; no
pixel, no per-face record.

mediapipe 0.10.21 does not ship its ``canonical_face_model.obj`` in the wheel,
hence this script.

    .venv/bin/python scripts/make_mean_face.py [../shared/data/wider-dev]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src/facesafe/_redact/mean_face.npz"


def _meshes(root: Path) -> list[np.ndarray]:
    from mediapipe.python.solutions import face_mesh

    ann = json.loads((root / "annotations.json").read_text())
    meshes = []
    with face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as fm:
        for item in ann["images"]:
            faces = [f for f in item["faces"] if f[2] >= 60]
            if not faces:
                continue
            image = cv2.cvtColor(cv2.imread(str(root / item["file"])), cv2.COLOR_BGR2RGB)
            for x, y, w, h in faces:
                side = int(2 * max(w, h))
                x0, y0 = int(x + w / 2 - side / 2), int(y + h / 2 - side / 2)
                crop = np.zeros((side, side, 3), np.uint8)
                sx0, sy0 = max(x0, 0), max(y0, 0)
                sx1, sy1 = min(x0 + side, image.shape[1]), min(y0 + side, image.shape[0])
                crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
                crop = cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA)
                result = fm.process(crop)
                if result.multi_face_landmarks:
                    lm = result.multi_face_landmarks[0].landmark
                    meshes.append(np.array([(p.x, p.y, p.z) for p in lm], np.float64) * 256)
    return meshes


def _align(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float]:
    """``src`` moved onto ``dst`` by the best 3-D similarity (Umeyama); also the rotation angle (deg)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rot = u @ fix @ vt
    scale = (s * np.diag(fix)).sum() / (a**2).sum()
    angle = np.degrees(np.arccos(np.clip((np.trace(rot) - 1) / 2, -1, 1)))
    return scale * a @ rot.T + md, float(angle)


def _frontal(mesh: np.ndarray) -> np.ndarray:
    """Rotate a mesh so the eye corners (33, 263) lie along x and forehead-chin (10, 152) along y."""
    x = mesh[263] - mesh[33]
    x /= np.linalg.norm(x)
    y = mesh[152] - mesh[10]
    y -= x * (y @ x)
    y /= np.linalg.norm(y)
    frame = np.stack([x, y, np.cross(x, y)])
    out = (mesh - mesh.mean(0)) @ frame.T
    # centre x on the midline: the midpoint of the eye corners and of the nose tip
    out[:, 0] -= (out[33, 0] + out[263, 0] + 2 * out[1, 0]) / 4
    return out


def main(root: Path) -> None:
    meshes = _meshes(root)
    print(f"{len(meshes)} meshes")
    mean = meshes[0] - meshes[0].mean(0)
    for _ in range(5):
        aligned = [_align(m, mean) for m in meshes]
        kept = [a for a, angle in aligned if angle < 25]
        mean = np.mean(kept, axis=0)
        mean -= mean.mean(0)
        mean /= np.sqrt((mean**2).sum() / len(mean))
    mean = _frontal(mean)
    # left-right pairing: each point's partner is the point nearest its mirror image
    mirrored = mean * [-1, 1, 1]
    pair = np.array([int(np.argmin(((mean - p) ** 2).sum(1))) for p in mirrored])
    flips = [m * [-1, 1, 1] for m in kept]
    flips = [f[pair] for f in flips]
    everything = [_align(m, mean)[0] for m in kept + flips]
    mean = np.mean(everything, axis=0)
    mean -= mean.mean(0)
    mean /= np.abs(mean[:, 0]).max()  # x in [-1, 1]; y down; z towards the viewer is negative
    print(f"kept {len(kept)} near-frontal meshes (+ mirrors)")
    np.savez_compressed(OUT, mean=mean.astype(np.float32).round(5), pair=pair.astype(np.int16), faces=len(kept))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/wider-dev"))
