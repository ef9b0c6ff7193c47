"""DonorPool: mixes of a batch's faces, none weighing over 1/k, never a face's own; the batch's first pass."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
from _fakes import PosedMesher, RedDetector, draw_face

import facesafe
from facesafe import Box, DonorPool, Face, Synthesize
from facesafe._redact._donor import SIZE, shape_deviation, target_geometry
from facesafe._redact._pool import capped_weights, mix_weights

MESHER = PosedMesher()


def photo(seed: int, size: int = 96) -> tuple[np.ndarray, Face]:
    """A read-only photo of its own random texture with one meshed face box in it."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(140, 40, size=(size + 40, size + 40, 3)), 0, 255).astype(np.uint8)
    image.setflags(write=False)
    (face,) = MESHER(image, [Face(Box(20, 20, 20 + size, 20 + size))])
    return image, face


def filled(k: int, n: int, **settings) -> DonorPool:
    pool = DonorPool(k=k, **settings)
    for seed in range(n):
        image, face = photo(seed)
        assert pool.add(image, [face]) == 1
    return pool


@pytest.mark.parametrize(("n", "k"), [(3, 2), (11, 10), (60, 10), (400, 10), (30, 5)])
def test_no_face_weighs_more_than_one_kth_and_the_weights_sum_to_one(n, k):
    for seed in range(20):
        chosen, offsets = mix_weights(n, k, np.random.default_rng(seed))
        weights = np.full(n, 1.0 / n)
        weights[chosen] += offsets
        assert np.abs(weights).max() <= 1.0 / k + 1e-6
        assert weights.sum() == pytest.approx(1.0, abs=1e-5)
        assert len(set(chosen.tolist())) == len(chosen) <= k * k // 2
    with pytest.raises(ValueError, match="more than k = 10"):
        mix_weights(10, 10, np.random.default_rng(0))


@pytest.mark.parametrize(("n", "k"), [(11, 10), (60, 10), (400, 10), (30, 5)])
def test_capped_weights_never_give_a_face_more_than_one_kth(n, k):
    rng = np.random.default_rng(n + k)
    for size in (0.001, 0.05, 1.0, 100.0):  # small spreads are kept as they are, large ones scaled down
        spread = rng.standard_normal(n) * size
        weights = capped_weights(spread, k)
        assert np.abs(weights).max() <= 1.0 / k + 1e-9
        assert weights.sum() == pytest.approx(1.0)
        if size == 0.001:
            np.testing.assert_allclose(weights, 1.0 / n + spread - spread.mean())
    with pytest.raises(ValueError, match="more than k = 10"):
        capped_weights(np.zeros(10), 10)


def shaped(seed: int, size: int = 96, spread: float = 0.04) -> tuple[np.ndarray, Face, np.ndarray]:
    """Like photo(), but the face's mesh is the reference shape plus a random shape of its own (returned)."""
    image, face = photo(seed, size)
    own = np.random.default_rng(1000 + seed).normal(0.0, spread, (478, 2))
    own[:, 0] -= own[:, 0].mean()
    own[:, 1] -= own[:, 1].mean()
    scale = size / 2 * 0.9
    return image, Face(face.box, mesh=face.mesh + own * scale), own


def test_shape_deviation_is_the_face_own_shape_less_its_expression():
    _, face, own = shaped(0, spread=0.01)
    got = shape_deviation(face.mesh)
    assert np.corrcoef(got.ravel(), own.ravel())[0, 1] > 0.9
    # closing the eyes (an expression) hardly changes it
    from facesafe._redact._donor import LEFT_EYE, RIGHT_EYE

    closed = face.mesh.copy()
    for eye in (LEFT_EYE, RIGHT_EYE):
        idx = list(eye)
        closed[idx, 1] = closed[idx, 1].mean() + (closed[idx, 1] - closed[idx, 1].mean()) * 0.2
    moved = np.abs(shape_deviation(closed) - got)[list(LEFT_EYE) + list(RIGHT_EYE)].max()
    lids = np.abs(closed - face.mesh)[list(LEFT_EYE)].max() / (96 / 2 * 0.9)
    assert moved < 0.3 * lids


def test_replacements_get_mixed_shapes_none_their_own():
    faces = [shaped(seed) for seed in range(30)]
    pool, without = DonorPool(k=3), DonorPool(k=3)
    for i, (image, face, _) in enumerate(faces):
        pool.add(image, [face])
        if i:
            without.add(image, [face])
    image, face, _ = faces[0]
    shapes = [pool.mix(image, face.mesh, np.random.default_rng(seed))[1] for seed in range(6)]
    assert all(s.shape == (478, 2) for s in shapes)
    # every draw is another shape (the old pool drew every face on the one reference shape) ...
    spread = np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(shapes)])
    assert spread > 0.005
    # ... it is placed (target_geometry moves the points by it) ...
    placed, _ = target_geometry(face.mesh, identity=0.0, rng=None, shape=shapes[0])
    plain, _ = target_geometry(face.mesh, identity=0.0, rng=None)
    assert np.abs(placed - plain).mean() > 0.5 * spread * 96 / 2 * 0.9
    # ... and the face's own shape (and texture) never enters its mix: exactly what the others alone give
    for seed in range(3):
        a, b = pool.mix(image, face.mesh, np.random.default_rng(seed)), without.mix(image, face.mesh, np.random.default_rng(seed))
        np.testing.assert_allclose(a[1], b[1], atol=1e-6)
        np.testing.assert_allclose(a[0], b[0], atol=1e-6)


def test_a_face_gets_nothing_of_its_own_texture():
    # A (bright) among twelve others: A's replacement is exactly what the twelve alone give it
    bright = np.full((136, 136, 3), 250, np.uint8)
    (face,) = MESHER(bright, [Face(Box(20, 20, 116, 116))])
    others = [photo(seed) for seed in range(12)]
    with_a, without_a = DonorPool(k=3), DonorPool(k=3)
    with_a.add(bright, [face])
    for image, f in others:
        with_a.add(image, [f])
        without_a.add(image, [f])
    got = with_a.texture(bright, face.mesh, np.random.default_rng(0))
    assert got.shape == (SIZE, SIZE, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, without_a.texture(bright, face.mesh, np.random.default_rng(0)), atol=1e-6)
    assert got.mean() < 0.8  # and A's own texture would show: the check can tell
    # a pool that holds only this image's face gives no mix at all
    copies = DonorPool(k=2)
    for _ in range(5):
        copies.add(bright, [face])
    with pytest.raises(ValueError, match=r"fewer than k \+ 1 = 3"):
        copies.texture(bright, face.mesh, np.random.default_rng(0))


def test_the_sample_is_bounded_and_does_not_depend_on_the_order_faces_come_in():
    a, b = DonorPool(k=2, capacity=5), DonorPool(k=2, capacity=5)
    items = [photo(seed) for seed in range(9)]
    for i, (image, face) in enumerate(items):
        a.add(image, [face], name=f"p{i}")
    for i, (image, face) in reversed(list(enumerate(items))):
        b.add(image, [face], name=f"p{i}")
    assert len(a) == len(b) == 5 and a.offered == 9
    assert a.fingerprint() == b.fingerprint()
    assert DonorPool(k=2, capacity=5).fingerprint() != a.fingerprint()


def test_too_few_faces_fall_back_to_the_builtin_donor_and_enough_use_the_pool():
    image, face = photo(100)
    small = filled(10, 4)
    assert Synthesize(donor=small, mesher=MESHER).replace(image, [face]).donors == ("synthetic",)
    pool = filled(3, 8)
    result = Synthesize(donor=pool, mesher=MESHER).replace(image, [face])
    assert result.donors == ("pool",)
    builtin = Synthesize(mesher=MESHER).replace(image, [face])
    assert np.abs(result.image.astype(int) - builtin.image.astype(int)).mean() > 0.5
    again = Synthesize(donor=pool, mesher=MESHER).replace(image, [face])
    np.testing.assert_array_equal(result.image, again.image)  # deterministic


def test_small_and_unmeshed_faces_are_not_pooled():
    image, face = photo(1)
    pool = DonorPool(k=2, min_width=200)
    assert pool.add(image, [face, Face(face.box)]) == 0 and len(pool) == 0
    with pytest.raises(ValueError, match="capacity"):
        DonorPool(capacity=0)
    with pytest.raises(ValueError, match="size"):
        DonorPool(size=8)


def test_the_pool_writes_nothing_to_disk(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    pool = filled(3, 6)
    Synthesize(donor=pool, mesher=MESHER).replace(*((lambda im, f: (im, [f]))(*photo(50))))
    assert [name for _, _, names in os.walk(tmp_path) for name in names] == []


# ---------------------------------------------------------------- batch: the first pass


def _folder(root: Path, n: int) -> Path:
    src = root / "src"
    src.mkdir()
    for i in range(n):
        rng = np.random.default_rng(200 + i)  # a tint of its own, and no reddish noise the detector would take for a face
        image = np.clip(rng.normal([150 - 10 * i, 140, 120 + 10 * i], 10, size=(120, 120, 3)), 0, 255).astype(np.uint8)
        draw_face(image, 30, 30, 60)
        facesafe.write_image(src / f"p{i}.png", image)
    return src


def test_a_synthetic_batch_builds_its_pool_in_a_first_pass(tmp_path: Path):
    src = _folder(tmp_path, 5)  # each face mixes the other four less the nearest: k + 1 = 3
    method = Synthesize(donor=DonorPool(k=2), mesher=MESHER)
    report = anonymize_dir_quiet(src, tmp_path / "out", method=method)
    assert (report.written, report.fell_back) == (5, 0)
    assert report.summary().endswith("; donor: a pool of 5 faces from 5 sampled images (k=2)")
    _, rows = facesafe.read_manifest(report.manifest)
    assert [row.donors for row in rows] == [[["pool"]]] * 5  # per frame, per face: which donor it got
    # the settings name the pool's recipe, not its faces: the same folder resumes
    again = anonymize_dir_quiet(src, tmp_path / "out", method=Synthesize(donor=DonorPool(k=2), mesher=MESHER))
    assert (again.written, again.unchanged) == (0, 5)
    painted = anonymize_dir_quiet(src, tmp_path / "painted", method=Synthesize(mesher=MESHER), donor_pool=False)
    assert painted.donor == ""
    a, b = (facesafe.read_image(tmp_path / d / "p0.png") for d in ("out", "painted"))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5


def test_a_batch_with_too_few_faces_for_k_says_so_and_uses_the_builtin_donor(tmp_path: Path):
    src = _folder(tmp_path, 3)
    report = anonymize_dir_quiet(src, tmp_path / "out", method=Synthesize(mesher=MESHER))
    assert report.donor.startswith("built-in donor: 3 of the faces in 3 sampled images fit the pool, fewer than k + 1 = 11")
    _, rows = facesafe.read_manifest(report.manifest)
    assert [row.donors for row in rows] == [[["synthetic"]]] * 3  # the built-in donor, per face
    anonymize_dir_quiet(src, tmp_path / "painted", method=Synthesize(mesher=MESHER), donor_pool=False)
    for name in ("p0.png", "p1.png", "p2.png"):
        np.testing.assert_array_equal(facesafe.read_image(tmp_path / "out" / name), facesafe.read_image(tmp_path / "painted" / name))


# ---------------------------------------------------------------- datasets: the same first pass


def _parquet(root: Path, n: int) -> Path:
    """A table of the composed photos of :func:`_folder` as PNG bytes, in two row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = _folder(root, n)
    images = [(folder / f"p{i}.png").read_bytes() for i in range(n)]
    table = root / "table" / "train.parquet"
    table.parent.mkdir()
    pq.write_table(pa.table({"id": list(range(n)), "image": pa.array(images, pa.binary())}), table, row_group_size=3)
    return table


def _cells(table: Path) -> list[np.ndarray]:
    import pyarrow.parquet as pq

    return [facesafe.read_image(data) for data in pq.read_table(table).column("image").to_pylist()]


def test_a_synthetic_dataset_builds_its_pool_in_a_first_pass(tmp_path: Path):
    pytest.importorskip("pyarrow")
    from facesafe._datasets import anonymize_dataset

    table = _parquet(tmp_path, 5)
    report = anonymize_dataset(table, tmp_path / "out", detector=RedDetector(), workers=0,
                               method=Synthesize(donor=DonorPool(k=2), mesher=MESHER))
    assert (report.written, report.failed, report.fell_back) == (5, 0, 0)
    assert report.donor == "a pool of 5 faces from 5 sampled images (k=2)"
    assert report.summary().endswith("; donor: a pool of 5 faces from 5 sampled images (k=2)")
    _, rows = facesafe.read_manifest(report.manifest)
    assert [row.donors for row in rows if "#" in row.rel] == [[["pool"]]] * 5
    # the settings name the pool's recipe: the same table resumes
    again = anonymize_dataset(table, tmp_path / "out", detector=RedDetector(), workers=0,
                              method=Synthesize(donor=DonorPool(k=2), mesher=MESHER))
    assert (again.written, again.unchanged) == (0, 1)
    painted = anonymize_dataset(table, tmp_path / "painted", detector=RedDetector(), workers=0,
                                method=Synthesize(mesher=MESHER), donor_pool=False)
    assert painted.donor == "" and "donor" not in painted.summary()
    pooled, plain = _cells(tmp_path / "out" / "train.parquet"), _cells(tmp_path / "painted" / "train.parquet")
    for a, b in zip(pooled, plain, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5
    # the first pass wrote nothing beside the outputs and the manifest
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["train.parquet"]


def test_a_dataset_with_too_few_faces_for_k_says_so_and_uses_the_builtin_donor(tmp_path: Path):
    pytest.importorskip("pyarrow")
    from facesafe._datasets import anonymize_dataset

    table = _parquet(tmp_path, 3)
    report = anonymize_dataset(table, tmp_path / "out", detector=RedDetector(), workers=0, method=Synthesize(mesher=MESHER))
    assert report.donor.startswith("built-in donor: 3 of the faces in 3 sampled images fit the pool, fewer than k + 1 = 11")
    assert "; donor: built-in donor" in report.summary()
    _, rows = facesafe.read_manifest(report.manifest)
    assert [row.donors for row in rows if "#" in row.rel] == [[["synthetic"]]] * 3
    anonymize_dataset(table, tmp_path / "painted", detector=RedDetector(), workers=0, method=Synthesize(mesher=MESHER),
                      donor_pool=False)
    for a, b in zip(_cells(tmp_path / "out" / "train.parquet"), _cells(tmp_path / "painted" / "train.parquet"), strict=True):
        np.testing.assert_array_equal(a, b)


def _no_faces(image: np.ndarray) -> tuple[Face, ...]:
    return ()


def test_a_coco_dataset_samples_its_images_and_their_annotated_faces(tmp_path: Path):
    pytest.importorskip("pycocotools")
    import json

    from facesafe._datasets import anonymize_dataset

    images = _folder(tmp_path, 5)
    # the faces are known only from the annotations (the detector finds none): the first pass pools them too
    entries = [{"id": i, "file_name": f"p{i}.png", "width": 120, "height": 120} for i in range(5)]
    boxes = [{"id": i, "image_id": i, "category_id": 1, "bbox": [30, 30, 60, 60], "area": 3600, "iscrowd": 0} for i in range(5)]
    annotations = tmp_path / "instances.json"
    annotations.write_text(json.dumps({"images": entries, "annotations": boxes, "categories": [{"id": 1, "name": "face"}]}))
    report = anonymize_dataset(annotations, tmp_path / "out", images=images, detector=_no_faces, workers=0,
                               method=Synthesize(donor=DonorPool(k=2), mesher=MESHER))
    assert (report.written, report.faces) == (5, 5)
    assert report.donor == "a pool of 5 faces from 5 sampled images (k=2)"
    _, rows = facesafe.read_manifest(report.manifest)
    assert [row.donors for row in rows if "#image=" in row.source] == [[["pool"]]] * 5


def anonymize_dir_quiet(src: Path, out: Path, **options):
    return facesafe.anonymize_dir(src, out, detector=RedDetector(), workers=0, **options)


# ---------------------------------------------------------------- nothing to write: no first pass


class _Counting(RedDetector):
    """A RedDetector that counts the images it is shown (on the class: ``workers=0`` runs an unpickled copy in this process)."""

    calls = 0

    def __call__(self, image: np.ndarray) -> tuple[Face, ...]:
        type(self).calls += 1
        return super().__call__(image)

    def __repr__(self) -> str:
        return "Counting()"


def _calls(run) -> tuple[object, int]:
    """What ``run()`` returns, and how many images the detector was shown meanwhile."""
    _Counting.calls = 0
    return run(), _Counting.calls


def _pooled() -> Synthesize:
    return Synthesize(donor=DonorPool(k=2), mesher=MESHER)


def test_a_folder_rerun_with_nothing_to_write_makes_no_first_pass(tmp_path: Path):
    src = _folder(tmp_path, 5)

    def run(out: str = "out"):
        return facesafe.anonymize_dir(src, tmp_path / out, detector=_Counting(), workers=0, method=_pooled())

    first, shown = _calls(run)
    assert first.written == 5 and first.donor.startswith("a pool of 5 faces") and shown >= 10  # both passes see each image
    again, shown = _calls(run)
    assert (again.written, again.unchanged, again.donor, shown) == (0, 5, "", 0)
    # one input changed: the first pass samples the whole folder again, so its output is a fresh run's
    image = facesafe.read_image(src / "p4.png").copy()
    image[:8] = 0
    facesafe.write_image(src / "p4.png", image, overwrite=True)
    third, shown = _calls(run)
    assert (third.written, third.unchanged, third.donor) == (1, 4, first.donor) and shown > 1
    fresh = run("fresh")
    assert (tmp_path / "out" / "p4.png").read_bytes() == (tmp_path / "fresh" / "p4.png").read_bytes()
    assert fresh.donor == first.donor


def test_a_dataset_rerun_with_nothing_to_write_makes_no_first_pass(tmp_path: Path):
    pytest.importorskip("pyarrow")
    from facesafe._datasets import anonymize_dataset

    table = _parquet(tmp_path, 5)

    def run():
        return anonymize_dataset(table, tmp_path / "out", detector=_Counting(), workers=0, method=_pooled())

    first, shown = _calls(run)
    assert first.units == 1 and first.donor.startswith("a pool of 5 faces") and shown >= 10
    again, shown = _calls(run)
    assert (again.written, again.unchanged, again.donor, shown) == (0, 1, "", 0)


def test_a_coco_rerun_with_nothing_to_write_makes_no_first_pass_and_writes_nothing(tmp_path: Path):
    pytest.importorskip("pycocotools")
    import json

    from facesafe._datasets import anonymize_dataset

    images = _folder(tmp_path, 5)
    entries = [{"id": i, "file_name": f"p{i}.png", "width": 120, "height": 120} for i in range(5)]
    annotations = tmp_path / "instances.json"
    annotations.write_text(json.dumps({"images": entries, "annotations": [], "categories": [{"id": 1, "name": "x"}]}))
    out = tmp_path / "out"

    def run():
        return anonymize_dataset(annotations, out, images=images, detector=_Counting(), workers=0, method=_pooled())

    first, shown = _calls(run)
    assert (first.written, first.units) == (5, 1) and first.donor.startswith("a pool of 5 faces") and shown >= 10
    written = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}
    again, shown = _calls(run)
    assert (again.written, again.units, again.unchanged, again.donor, shown) == (0, 0, 1, "", 0)
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == written  # nothing rewritten
    # an output image gone: the set is done again, first pass and all
    (out / "images" / "p2.png").unlink()
    third, shown = _calls(run)
    assert (third.written, third.units, third.donor) == (5, 1, first.donor) and shown >= 10
