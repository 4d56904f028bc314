"""Geometry against scipy's Rotation/RigidTransform, algebraic identities over batch shapes,
and a worked example on real TUM data."""

import numpy as np
import pytest
from scipy.spatial.transform import RigidTransform, Rotation

from remot_pipeline.core import se3
from remot_pipeline.core.motion import camera_motion
from remot_pipeline.sources.tum import read_groundtruth
from remot_pipeline.core.ledger import QuarantineLog
from tests.conftest import real_path

SHAPES = [(), (1,), (5,), (1000,), (4, 3)]


def random_poses(rng, shape):
    n = int(np.prod(shape)) if shape else 1
    rot = Rotation.random(n, random_state=rng).as_matrix()
    out = np.zeros((n, 4, 4))
    out[:, :3, :3] = rot
    out[:, :3, 3] = rng.normal(scale=3.0, size=(n, 3))
    out[:, 3, 3] = 1.0
    return out.reshape(shape + (4, 4))


@pytest.mark.parametrize("shape", SHAPES)
def test_identities_over_batch_shapes(shape):
    rng = np.random.default_rng(1)
    a, b = random_poses(rng, shape), random_poses(rng, shape)
    rel = se3.relative(a, b)
    assert rel.shape == shape + (4, 4)
    np.testing.assert_allclose(a @ rel, b, atol=1e-12)
    np.testing.assert_allclose(se3.relative(a, a), np.broadcast_to(np.eye(4), shape + (4, 4)), atol=1e-12)
    np.testing.assert_allclose(se3.relative(b, a), se3.invert(rel), atol=1e-12)
    np.testing.assert_allclose(se3.invert(a) @ a, np.broadcast_to(np.eye(4), shape + (4, 4)), atol=1e-12)


def test_against_scipy_rigid_transform_10k():
    rng = np.random.default_rng(2)
    a, b = random_poses(rng, (10_000,)), random_poses(rng, (10_000,))
    oracle = (RigidTransform.from_matrix(a).inv() * RigidTransform.from_matrix(b)).as_matrix()
    np.testing.assert_allclose(se3.relative(a, b), oracle, atol=1e-10)


def test_rotvec_and_quaternion_against_scipy_including_pi():
    rng = np.random.default_rng(3)
    rots = Rotation.random(10_000, random_state=rng)
    # Angles at and near pi and near 0, where naive formulas break.
    axes = rng.normal(size=(6, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    special = Rotation.from_rotvec(axes * np.array([np.pi, np.pi - 1e-9, 1e-12, 1e-6, 0.0, 3.0])[:, None])
    rots = Rotation.concatenate([rots, special])
    mats = rots.as_matrix()
    q = se3.matrix_to_quat_xyzw(mats)
    q_ref = rots.as_quat(canonical=True)
    np.testing.assert_allclose(np.abs(np.einsum("ni,ni->n", q, q_ref)), 1.0, atol=1e-12)
    np.testing.assert_allclose(se3.quat_xyzw_to_matrix(q_ref), mats, atol=1e-12)
    rv = se3.matrix_to_rotvec(mats)
    np.testing.assert_allclose(se3.rotvec_to_matrix(rv), mats, atol=1e-9)
    # Away from pi the rotation vector is unique: compare directly.
    away = np.linalg.norm(rots.as_rotvec(), axis=1) < np.pi - 1e-6
    np.testing.assert_allclose(rv[away], rots.as_rotvec()[away], atol=1e-9)


def test_yaw_pitch_roll_sign_conventions():
    """OpenCV axes: y points down, so turning left is a negative rotation about +y."""
    eye = np.eye(4)
    def pose(rotvec):
        p = np.eye(4)
        p[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
        return p
    cams = np.stack([eye, pose([0, -np.radians(20), 0]), pose([np.radians(15), 0, 0]), pose([0, 0, np.radians(12)])])
    m = camera_motion(cams, np.array([0, 0, 0]), np.array([1, 2, 3]))
    np.testing.assert_allclose(m["yaw_left_deg"], [20, 0, 0], atol=1e-9)
    np.testing.assert_allclose(m["pitch_up_deg"], [0, 15, 0], atol=1e-9)
    np.testing.assert_allclose(m["roll_cw_deg"], [0, 0, 12], atol=1e-9)
    # Turning left: the forward axis of the new view points to the old view's left (-x).
    forward_b_in_a = Rotation.from_rotvec(m["cam_rotvec_a_rad"][0]).apply([0, 0, 1])
    assert forward_b_in_a[0] < 0


def test_reversed_pair_negates_rotation_exactly():
    rng = np.random.default_rng(4)
    cams = random_poses(rng, (50,))
    a, b = np.arange(25), np.arange(25, 50)
    fwd, back = camera_motion(cams, a, b), camera_motion(cams, b, a)
    for k in ("yaw_left_deg", "pitch_up_deg", "roll_cw_deg"):
        np.testing.assert_allclose(back[k], -fwd[k], atol=1e-9)


def test_tum_fr1_xyz_relative_pose_matches_scipy_on_raw_file():
    path = real_path("tum_rgbd_evo", "freiburg1_xyz-groundtruth.txt")
    q = QuarantineLog("test", "navigation")
    ts, cam2world, keep, lines, rows_in = read_groundtruth(path, q, "fr1_xyz")
    assert rows_in == 3000 and keep.all() and len(q) == 0
    raw = np.loadtxt(path, comments="#")
    t0 = RigidTransform.from_components(raw[0, 1:4], Rotation.from_quat(raw[0, 4:8]))
    t100 = RigidTransform.from_components(raw[100, 1:4], Rotation.from_quat(raw[100, 4:8]))
    oracle = (t0.inv() * t100).as_matrix()
    np.testing.assert_allclose(se3.relative(cam2world[0], cam2world[100]), oracle, atol=1e-9)


def test_offset_kernel_equals_gather_kernel():
    from remot_pipeline.core.motion import PairConfig, camera_motion_offsets, enumerate_pairs

    rng = np.random.default_rng(5)
    cams = random_poses(rng, (300,))
    a, b, offsets = enumerate_pairs(300, PairConfig(1, 40, 3, 10.0, 1.0))
    fast, ref = camera_motion_offsets(cams, offsets), camera_motion(cams, a, b)
    for k in ref:
        np.testing.assert_allclose(fast[k], ref[k], atol=1e-9)
    oracle = (RigidTransform.from_matrix(cams[a]).inv() * RigidTransform.from_matrix(cams[b]))
    np.testing.assert_allclose(fast["cam_rotvec_a_rad"], oracle.rotation.as_rotvec(), atol=1e-9)
    np.testing.assert_allclose(fast["cam_translation_a_m"], oracle.translation, atol=1e-9)
