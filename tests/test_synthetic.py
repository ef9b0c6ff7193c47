"""Synthetic replacement: determinism, fall-back, locality, k-Same, nothing on disk.

Most tests give faces a ready-made FaceMesh (the mean shape, posed) so no model
runs; one test meshes the astronaut with MediaPipe (the synthetic extra).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from conftest import ASTRONAUT_FACE, needs_facemesh

import facesafe
from facesafe import Box, Face, KSamePool, Synthesize, face_mask
from facesafe._redact._donor import SIZE, mean_face


def posed_mesh(box: Box, *, yaw: float = 0.0) -> np.ndarray:
    """The mean face shape turned by ``yaw`` degrees and fitted into ``box``."""
    a = math.radians(yaw)
    rotation = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    points = mean_face() @ rotation.T
    scale = box.width / 2 * 0.9
    cx, cy = box.center
    return points[:, :2] * scale + [cx, cy + 0.05 * box.height]


def scene(height: int = 120, width: int = 140, seed: int = 3) -> np.ndarray:
    """A read-only skin-toned image with gentle texture."""
    rng = np.random.default_rng(seed)
    base = np.array([200, 150, 130], np.float64) + rng.normal(0, 12, size=(height, width, 3))
    image = np.clip(base, 0, 255).astype(np.uint8)
    image.setflags(write=False)
    return image


BOX = Box(35, 20, 95, 100)
FACE = Face(BOX, mesh=posed_mesh(BOX))


def no_mesher(image, faces):
    """A FaceMesh stand-in that finds nothing."""
    return list(faces)


def changeable(height: int, width: int, face: Face, synth: Synthesize) -> np.ndarray:
    """Where ``synth`` may change pixels: its ``shape`` region and, with ``mesh_region``, the grown mesh outline."""
    inside = face_mask([face], width=width, height=height, shape=synth.shape, grow=synth.grow) > 0
    if synth.mesh_region and face.mesh is not None:
        inside |= face_mask([face], width=width, height=height, shape="outline", grow=synth.grow) > 0
    return inside


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_same_seed_same_output_other_seed_other_face():
    image = scene()
    first = Synthesize(seed=1)(image, [FACE])
    again = Synthesize(seed=1)(image, [FACE])
    other = Synthesize(seed=2)(image, [FACE])
    np.testing.assert_array_equal(first, again)
    core = BOX.expanded(0.6).to_slices()
    assert diff(first[core], other[core]) > 2.0


def test_replaces_the_face_and_nothing_outside_the_grown_region():
    image = scene()
    before = image.copy()
    synth = Synthesize()
    result = synth.replace(image, [FACE])
    np.testing.assert_array_equal(image, before)  # input untouched
    assert result.donors == ("synthetic",) and result.fell_back == ()
    out = result.image
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.shares_memory(out, image)
    inside = changeable(*image.shape[:2], FACE, synth)
    np.testing.assert_array_equal(out[~inside], image[~inside])
    # the eyes and mouth are drawn: the core changes well beyond the noise
    core = BOX.expanded(0.6).to_slices()
    assert diff(out[core], image[core]) > 8.0


def test_box_shape_and_grow_bound_the_change():
    image = scene()
    synth = Synthesize(shape="box", grow=1.0, mesh_region=False)
    out = synth(image, [FACE])
    inside = face_mask([FACE], width=image.shape[1], height=image.shape[0], shape="box", grow=1.0) > 0
    np.testing.assert_array_equal(out[~inside], image[~inside])
    assert (out[inside] != image[inside]).any()


def landmarks_of(points: np.ndarray) -> tuple[tuple[str, float, float], ...]:
    """The detector's five landmarks (facesafe's names) read off 478 FaceMesh-ordered ``points``."""
    index = {"right_eye": 468, "left_eye": 473, "nose": 1, "mouth_right": 61, "mouth_left": 291}
    return tuple((name, float(points[i, 0]), float(points[i, 1])) for name, i in index.items())


def test_small_and_unmeshed_faces_are_synthesised_by_landmarks_or_box_turned_ones_fall_back():
    image = scene(160, 240)
    tiny = Face(Box(5, 5, 17, 19))  # 12 px, no landmarks: placed in its box
    small_box = Box(200, 100, 224, 128)
    small = Face(small_box, landmarks=landmarks_of(posed_mesh(small_box, yaw=20)))  # 24 px: by its landmarks
    turned_box = Box(40, 30, 100, 110)
    turned = Face(turned_box, mesh=posed_mesh(turned_box, yaw=75))
    unmeshed = Face(Box(120, 40, 180, 120))  # FaceMesh finds nothing: placed in its box
    result = Synthesize(mesher=no_mesher).replace(image, [tiny, small, turned, unmeshed])
    assert result.fell_back == (2,)
    assert "turned" in result.reasons[2]
    assert result.donors == ("synthetic", "synthetic", "fallback", "synthetic")
    assert result.placed == ("box", "landmarks", "", "box")
    for face in (tiny, small, turned, unmeshed):
        core = face.box.expanded(0.6).to_slices()
        assert diff(result.image[core], image[core]) > 5.0, face
    for face in (tiny, small, unmeshed):  # synthesised: nothing outside its region changes
        others = [f for f in (tiny, small, turned, unmeshed) if f is not face]
        alone = Synthesize(mesher=no_mesher)(image, [face])
        keep = ~changeable(*image.shape[:2], face, Synthesize())
        np.testing.assert_array_equal(alone[keep], image[keep])
        assert others  # (the mixed run above changed each of them)


def test_a_face_placed_by_landmarks_draws_the_face_where_they_are():
    # a face seen small, turned and rolled: the new face's dark features (eyes, brows, lips) sit on
    # the five landmarks' positions, not at the box's centre
    image = np.full((120, 120, 3), 200, np.uint8)
    box = Box(30, 30, 90, 100)
    truth = posed_mesh(box, yaw=25)
    face = Face(box, landmarks=landmarks_of(truth))
    result = Synthesize(mesher=no_mesher, min_size=80).replace(image, [face])
    assert result.placed == ("landmarks",)
    grey = result.image.astype(np.float64).mean(axis=2)
    dark = grey < grey[box.to_slices()].mean() - 25
    ys, xs = np.nonzero(dark)
    features = truth[[468, 473, 61, 291]]
    assert abs(xs.mean() - features[:, 0].mean()) < 4 and abs(ys.mean() - features[:, 1].mean()) < 8


def test_landmark_pose_recovers_turn_roll_and_size():
    from facesafe._redact._place import pose_from_landmarks

    box = Box(30, 30, 90, 100)
    for yaw, roll in ((0.0, 0.0), (30.0, 0.0), (-40.0, 20.0), (15.0, 90.0)):
        r = math.radians(roll)
        rolled = posed_mesh(box, yaw=yaw) - box.center
        rolled = rolled @ np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]]) + box.center
        pose = pose_from_landmarks(Face(box, landmarks=landmarks_of(rolled)))
        assert pose is not None
        assert abs(abs(pose.yaw) - abs(yaw)) < 3 and abs(pose.roll - roll) < 3, (yaw, roll)
        np.testing.assert_allclose(pose.scale, box.width / 2 * 0.9, rtol=0.03)
    far = landmarks_of(posed_mesh(Box(200, 200, 260, 270)))  # landmarks of another face: not trusted
    assert pose_from_landmarks(Face(box, landmarks=far)) is None


def test_faces_under_four_pixels_fall_back_and_still_change():
    image = scene()
    speck = Face(Box(10, 10, 13, 13))
    result = Synthesize(fallback=facesafe.Fill(color=(0, 255, 0))).replace(image, [speck, FACE])
    assert result.fell_back == (0,) and "4 px" in result.reasons[0]
    assert tuple(result.image[11, 11]) == (0, 255, 0)


def test_mixed_faces_only_the_unsuitable_one_falls_back():
    image = scene(120, 220)
    other_box = Box(150, 30, 205, 100)
    other = Face(other_box, mesh=posed_mesh(other_box, yaw=20))
    result = Synthesize().replace(image, [FACE, other, Face(Box(0, 0, 3, 3))])
    assert result.donors == ("synthetic", "synthetic", "fallback")
    assert result.placed == ("mesh", "mesh", "")


def test_grayscale_and_alpha_inputs():
    gray = scene()[:, :, 0].copy()
    out = Synthesize()(gray, [FACE])
    assert out.shape == gray.shape
    inside = changeable(*gray.shape, FACE, Synthesize())
    np.testing.assert_array_equal(out[~inside], gray[~inside])
    rgba = np.dstack([scene(), np.full(scene().shape[:2], 77, np.uint8)])
    out = Synthesize()(rgba, [FACE])
    assert out.shape == rgba.shape and (out[:, :, 3] == 77).all()


def test_parameter_errors_name_the_parameter():
    with pytest.raises(ValueError, match="identity"):
        Synthesize(identity=1.5)
    with pytest.raises(ValueError, match="grow"):
        Synthesize(grow=0.5)
    with pytest.raises(TypeError, match="donor"):
        Synthesize(donor="pool")
    with pytest.raises(ValueError, match="k must"):
        KSamePool(k=1)


def pooled_faces(n: int) -> list[tuple[np.ndarray, Face]]:
    """``n`` different scenes with a meshed face each."""
    return [(scene(seed=100 + i), FACE) for i in range(n)]


def test_pool_with_fewer_than_k_faces_uses_the_builtin_donor():
    pool = KSamePool(k=5)
    for image, face in pooled_faces(3):
        pool.add(image, [face])
    assert len(pool) == 3
    with pytest.raises(ValueError, match=r"fewer than k \+ 1 = 6"):
        pool.average(np.zeros((SIZE, SIZE, 3), np.float32))
    result = Synthesize(donor=pool).replace(scene(), [FACE])
    assert result.donors == ("synthetic",)


def test_pool_groups_hold_k_plus_one_faces():
    k = 4
    pool = KSamePool(k=k, size=32)
    items = pooled_faces(11)
    for image, face in items:
        assert pool.add(image, [face]) == 1
    sizes = np.bincount(pool._cluster())  # the grouping itself is private: its sizes are the k-Same promise
    assert sizes.min() >= k + 1 and sizes.sum() == 11
    result = Synthesize(donor=pool).replace(items[0][0], [FACE])
    assert result.donors == ("k-same",)
    pool.clear()
    assert len(pool) == 0


def _one_and_ten_others() -> tuple[KSamePool, np.ndarray, np.ndarray]:
    """A pool of face A and ten copies of face B; A's and B's aligned textures."""
    from facesafe._redact._donor import align_to_template

    a, b = scene(seed=100), scene(seed=101)
    pool = KSamePool(k=4, size=32)
    pool.add(a, [FACE])
    for _ in range(10):
        pool.add(b, [FACE])
    return pool, align_to_template(a, FACE.mesh), align_to_template(b, FACE.mesh)


def _b_only_average(b_texture: np.ndarray) -> np.ndarray:
    """What any average of B's copies is: the pool of B alone, asked for B."""
    only_b = KSamePool(k=4, size=32)
    for _ in range(11):
        only_b.add(scene(seed=101), [FACE])
    return only_b.average(b_texture)


def test_a_pooled_face_gets_the_others_average_never_its_own():
    # whatever the grouping, every other face in A's group is B: A's average is B's, with nothing of A
    pool, a_texture, b_texture = _one_and_ten_others()
    got = pool.average(a_texture)
    np.testing.assert_allclose(got, _b_only_average(b_texture), atol=1e-5)
    assert np.abs(got - a_texture).mean() > 0.02  # and A's texture is far from it: the check can tell them apart


def test_pool_and_synthesis_write_nothing_to_disk(tmp_path, monkeypatch):
    import tempfile

    work, tmp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    pool = KSamePool(k=3)
    for image, face in pooled_faces(4):
        pool.add(image, [face])
    Synthesize(donor=pool).replace(scene(), [FACE])
    Synthesize().replace(scene(), [FACE])
    written = [os.path.join(root, name) for root, _, names in os.walk(tmp_path) for name in names]
    assert written == []


@pytest.fixture(scope="module")
def astronaut_meshed(astronaut):
    (face,) = facesafe.FaceMesher()(astronaut, [Face(ASTRONAUT_FACE)])
    return face


@pytest.fixture(scope="module")
def astronaut_result(astronaut):
    return Synthesize(seed=0).replace(astronaut, [Face(ASTRONAUT_FACE)])


@needs_facemesh
def test_astronaut_is_meshed_and_replaced(astronaut, astronaut_result, astronaut_meshed):
    assert astronaut_result.donors == ("synthetic",)
    assert astronaut_meshed.mesh is not None
    out = astronaut_result.image
    inside = changeable(512, 512, astronaut_meshed, Synthesize())
    np.testing.assert_array_equal(out[~inside], astronaut[~inside])
    core = ASTRONAUT_FACE.expanded(0.6).to_slices()
    assert diff(out[core], astronaut[core]) > 8.0


def test_in_the_catalogue():
    assert facesafe.REDACTIONS["synthetic"] is Synthesize


def test_identity_geometry_goes_to_the_mean_and_expression_stays():
    from facesafe._redact._donor import LEFT_EYE, RIGHT_EYE, target_geometry

    neutral = FACE.mesh.copy()
    person = neutral.copy()
    person[list(RIGHT_EYE)] -= [4.0, 0.0]  # eyes 8 px further apart: identity
    person[list(LEFT_EYE)] += [4.0, 0.0]
    lower_lip = [146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324]
    person[lower_lip] += [0.0, 6.0]  # mouth opened (the jaw drops): expression
    base, _ = target_geometry(neutral, identity=0.0, rng=None)
    new, pose = target_geometry(person, identity=0.0, rng=None)
    eye_gap = lambda p: p[list(LEFT_EYE)].mean(0)[0] - p[list(RIGHT_EYE)].mean(0)[0]  # noqa: E731
    assert abs(eye_gap(new) - eye_gap(base)) < 1.0 < eye_gap(person) - eye_gap(neutral)
    opening = lambda p: p[14, 1] - p[13, 1]  # noqa: E731
    assert opening(new) - opening(base) > 4.0
    assert abs(pose.yaw) < 2.0


def test_reference_shape_is_symmetric_and_from_the_public_domain_astronaut():
    from importlib import resources

    with resources.files("facesafe._redact").joinpath("mean_face.npz").open("rb") as handle:
        data = np.load(handle)
        mean, pair, source = data["mean"], data["pair"].astype(int), str(data["source"])
    assert "astronaut" in source and mean.shape == (478, 3)
    np.testing.assert_array_equal(pair[pair], np.arange(478))  # a left-right pairing
    np.testing.assert_allclose(mean, (mean * [-1, 1, 1])[pair], atol=1e-4)


def test_closed_eyes_stay_closed_but_the_lid_shape_goes_to_the_mean():
    from facesafe._redact._donor import RIGHT_EYE, target_geometry

    person = FACE.mesh.copy()
    eye = list(RIGHT_EYE)
    centre_y = person[eye, 1].mean()
    person[eye, 1] = centre_y + (person[eye, 1] - centre_y) * 0.1  # the right eye closed
    new, _ = target_geometry(person, identity=0.0, rng=None)
    base, _ = target_geometry(FACE.mesh, identity=0.0, rng=None)
    height = lambda p: np.ptp(p[eye, 1])  # noqa: E731
    assert height(new) < 0.3 * height(base)
    # a bump on one lid (lid shape: identity) does not carry over
    bumped = FACE.mesh.copy()
    bumped[159, 1] -= 3.0  # the top of the upper lid, raised alone
    moved, _ = target_geometry(bumped, identity=0.0, rng=None)
    assert abs(moved[159, 1] - base[159, 1]) < 1.5


def test_thin_triangles_sample_inside_their_source_triangle():
    from facesafe._redact._warp import piecewise_warp

    source = np.full((100, 100, 3), 0.5, np.float32)
    source[:5], source[65:], source[:, :5], source[:, 80:] = 1.0, 1.0, 1.0, 1.0  # never to be sampled
    src = np.array([[10.0, 10.0], [60.0, 10.0], [35.0, 60.0], [10.0, 60.0]])
    dst = np.array([[5.0, 20.45], [95.0, 20.75], [50.0, 21.05], [5.0, 40.0]])  # a sliver 0.6 px high
    warped, cover = piecewise_warp(source, src, dst, (50, 100))
    assert cover.sum() > 0
    assert np.abs(warped[cover > 0] - 0.5).max() < 1e-4  # extrapolated weights sampled the border


def test_mesh_region_reaches_the_forehead_above_a_short_box():
    # a box from the brows to the chin (dlib's convention): the forehead above its ellipse still changes
    short = Box(BOX.x0, 45, BOX.x1, BOX.y1)
    face = Face(short, mesh=FACE.mesh)
    image = scene()
    ellipse = face_mask([face], width=image.shape[1], height=image.shape[0], grow=1.3) > 0
    outline = face_mask([face], width=image.shape[1], height=image.shape[0], shape="outline", grow=1.3) > 0
    forehead = outline & ~ellipse
    assert forehead.sum() > 50
    wide = Synthesize()(image, [face])
    narrow = Synthesize(mesh_region=False)(image, [face])
    assert (wide[forehead] != image[forehead]).any()
    np.testing.assert_array_equal(narrow[forehead], image[forehead])
    np.testing.assert_array_equal(wide[~(ellipse | outline)], image[~(ellipse | outline)])


def test_context_fill_keeps_no_structure_of_what_it_covers():
    # a dark bar across the forehead, above the face (a hair line): filled, it leaves no edge
    box = Box(70, 40, 190, 200)
    face = Face(box, mesh=posed_mesh(box))
    image = scene(240, 280).copy()
    image[42:48, 110:150] = 30
    image.setflags(write=False)
    bar = (slice(36, 56), slice(112, 148))
    edge = lambda img: np.abs(np.diff(img[bar].astype(np.float64).mean(axis=(1, 2)))).max()  # noqa: E731
    assert edge(Synthesize(context=0)(image, [face])) > 100
    assert edge(Synthesize(context="fill")(image, [face])) < 3


def test_context_must_be_fill_or_a_number():
    with pytest.raises(ValueError, match="context"):
        Synthesize(context="blur")
    with pytest.raises(ValueError, match="context"):
        Synthesize(context=-0.1)
    assert Synthesize(context=0.15).context == 0.15


def test_mesh_region_must_be_a_bool():
    with pytest.raises(TypeError, match="mesh_region"):
        Synthesize(mesh_region="False")
    assert Synthesize(mesh_region=False).mesh_region is False


def test_context_fill_runs_from_the_new_face_not_a_halo_of_the_surroundings():
    # a skin-toned head on a black surround (a dark collar, dark hair): just beyond the new face's
    # chin the fill starts from the face's own skin and fades towards black, rather than being
    # filled from the black edge up to the face (a dark halo)
    box = Box(70, 40, 190, 200)
    face = Face(box, mesh=posed_mesh(box))
    image = np.zeros((240, 280, 3), np.uint8)
    rows, cols = box.expanded(1.15).to_slices(width=280, height=240)
    image[rows, cols] = scene(240, 280)[rows, cols]
    image.setflags(write=False)
    chin = int(face.mesh[152, 1])  # FaceMesh point 152: the chin
    out = Synthesize()(image, [face]).astype(np.float64)
    below = out[chin + 2 : chin + 8, 115:145].mean()
    cheeks = out[100:130, 100:180].mean()
    assert below > 0.4 * cheeks  # filled from the black edge alone: 0.17


def test_a_face_the_pool_holds_aligned_differently_never_gets_its_own_texture():
    from facesafe._redact._donor import align_to_template

    pool, a_texture, b_texture = _one_and_ten_others()
    # face A again, meshed half a pixel off: not an exact pool member, but the same face
    moved = align_to_template(scene(seed=100), FACE.mesh + 0.5)
    got = pool.average(moved)
    np.testing.assert_allclose(got, _b_only_average(b_texture), atol=1e-5)
    assert np.abs(got - a_texture).mean() > 0.02


def test_fingerprint_leaves_the_mesher_out_and_hashes_the_pool_in():
    assert Synthesize(mesher=no_mesher).fingerprint() == Synthesize(mesher=lambda image, faces: faces).fingerprint()
    assert Synthesize(seed=1).fingerprint() != Synthesize(seed=2).fingerprint()
    pools = [KSamePool(k=2, size=32) for _ in range(3)]
    items = pooled_faces(4)
    for pool, chosen in zip(pools, (items[:3], items[:3], items[1:]), strict=True):
        for image, face in chosen:
            pool.add(image, [face])
    same, also_same, other = pools
    assert same.fingerprint() == also_same.fingerprint()
    assert same.fingerprint() != other.fingerprint(), "pools of different faces must not share a resume key"
    assert Synthesize(donor=same).fingerprint() != Synthesize(donor=other).fingerprint()
    before = same.fingerprint()
    same.add(items[3][0], [items[3][1]])
    assert same.fingerprint() != before


def test_the_collar_below_the_chin_stays_the_photos_own():
    # a dark collar a fifth of a face width below the chin, inside the grown region: the fill stops
    # short of it (below the chin only the jaw line is filled), so it keeps its pixels and its colour
    # is not carried up under the chin
    box = Box(70, 30, 190, 230)  # a tall box: its grown region reaches well below the chin
    face = Face(box, mesh=posed_mesh(box))
    chin = int(face.mesh[152, 1])
    collar = chin + 22  # 108 px wide face: 0.2 face widths below the chin
    image = scene(300, 280).copy()
    image[collar:, :] = 20
    image.setflags(write=False)
    synth = Synthesize()
    out = synth(image, [face])
    below = changeable(300, 280, face, synth)
    below[: collar + 1] = False
    assert below.sum() > 500  # the grown region does reach into the collar
    np.testing.assert_array_equal(out[below], image[below])
    assert out[chin + 3 : chin + 8, 120:140].mean() > 100  # under the chin: skin-toned, not the collar's dark


def _redness(pixels: np.ndarray) -> float:
    """The red share of the mean colour (the skin about 0.42 here, white 0.33)."""
    mean = pixels.reshape(-1, 3).astype(np.float64).mean(axis=0)
    return float(mean[0] / mean.sum())


def test_a_white_cap_over_the_forehead_does_not_pale_the_face():
    # a skin-toned face under a white cap whose brim comes down between the eyes, on a white surround:
    # the mesh's skin region reaches under the cap, but its white is not the face's skin, so it neither
    # sets the tone nor lights the face (the old colour-distance test let it in: the face went grey-white)
    import cv2

    from facesafe._redact._donor import FACE_OVAL

    box = Box(70, 40, 190, 200)
    face = Face(box, mesh=posed_mesh(box))
    image = np.full((240, 280, 3), 245, np.uint8)
    skin = np.zeros((240, 280), np.uint8)
    cv2.fillConvexPoly(skin, cv2.convexHull(face.mesh[list(FACE_OVAL)].astype(np.int32)), 1)
    skin[: int(face.mesh[6, 1])] = 0  # the brim (FaceMesh point 6: between the eyes)
    image[skin > 0] = scene(240, 280)[skin > 0]
    image.setflags(write=False)
    out = Synthesize(context=0.0)(image, [face])
    cheeks, before = out[110:140, 95:165], image[110:140, 95:165]
    assert _redness(cheeks) > 0.40  # as the skin (0.42); with the cap counted as skin: 0.385
    assert float(cheeks.mean()) - float(before.mean()) < 30  # 20 brighter; with the cap counted: 42


def foliage(height: int, width: int, seed: int = 5) -> np.ndarray:
    """A read-only green, leafy texture with no skin-coloured pixel (what a detector may score low)."""
    rng = np.random.default_rng(seed)
    leaves = rng.normal(0, 25, size=(height, width, 1)) * np.array([0.6, 1.0, 0.5])
    image = np.clip(np.array([60, 120, 50]) + leaves, 0, 255).astype(np.uint8)
    image.setflags(write=False)
    return image


def test_a_low_scored_detection_without_skin_gets_the_fallback_not_a_painted_face():
    # composed: foliage that a detector scored low, one detection under min_size (placed by its five
    # landmarks) and one above it that FaceMesh does not find; neither is painted (a face on a bush
    # or a fish), both get the fallback redaction and are counted as fallbacks: never left as they were
    image = foliage(140, 240)
    small_box, large_box = Box(20, 30, 44, 58), Box(120, 30, 180, 110)
    small = Face(small_box, score=0.2, landmarks=landmarks_of(posed_mesh(small_box)))
    large = Face(large_box, score=0.2, landmarks=landmarks_of(posed_mesh(large_box)))
    fallback = facesafe.Fill(color=(255, 0, 255))
    synth = Synthesize(mesher=no_mesher, fallback=fallback)
    result = synth.replace(image, [small, large])
    assert result.donors == ("fallback", "fallback") and result.fell_back == (0, 1)
    assert "not plausibly a face" in result.reasons[0] and "FaceMesh finds no face" in result.reasons[1]
    np.testing.assert_array_equal(result.image, fallback(image, [small, large]))
    # the same detections scored high, or the same low scores on skin, are painted as before
    sure = [Face(f.box, score=0.9, landmarks=f.landmarks) for f in (small, large)]
    assert synth.replace(image, sure).donors == ("synthetic", "synthetic")
    assert synth.replace(scene(140, 240), [small, large]).donors == ("synthetic", "synthetic")
    # a grey photo cannot tell skin by its colour: painted
    grey = np.repeat(image.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert synth.replace(grey, [small, large]).donors == ("synthetic", "synthetic")
