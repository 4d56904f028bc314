"""Batched SE(3)/SO(3) kernels in plain numpy. The batch axis comes first.

Names follow ``a2b``: ``cam2world`` maps points in camera coordinates to world
coordinates, ``p_world = cam2world @ p_cam``. Shapes are given as ``(..., 4, 4)``.
Quaternions always state their order (``quat_xyzw``). No per-pose Python loops.
"""

from __future__ import annotations

import numpy as np


def invert(a2b: np.ndarray) -> np.ndarray:
    """Inverse of rigid transforms ``(..., 4, 4)`` -> ``b2a (..., 4, 4)``, closed form."""
    a2b = np.asarray(a2b, dtype=np.float64)
    out = np.zeros_like(a2b)
    rot_t = np.swapaxes(a2b[..., :3, :3], -1, -2)
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rot_t, a2b[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def relative(a2world: np.ndarray, b2world: np.ndarray) -> np.ndarray:
    """``b2a = inv(a2world) @ b2world`` for batches ``(..., 4, 4)``.

    For cameras this is the motion from view a to view b expressed in camera a's axes:
    its translation is camera b's centre in camera a, its rotation maps b-axes to a-axes.
    """
    a2world = np.asarray(a2world, dtype=np.float64)
    b2world = np.asarray(b2world, dtype=np.float64)
    rot_a_t = np.swapaxes(a2world[..., :3, :3], -1, -2)
    out = np.zeros(np.broadcast_shapes(a2world.shape, b2world.shape), dtype=np.float64)
    out[..., :3, :3] = rot_a_t @ b2world[..., :3, :3]
    out[..., :3, 3] = np.einsum("...ij,...j->...i", rot_a_t, b2world[..., :3, 3] - a2world[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def quat_xyzw_to_matrix(quat_xyzw: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` in xyzw order -> rotation matrices ``(..., 3, 3)``.

    The input is normalised here; callers decide beforehand whether a norm far from 1 is
    an error (ingestion quarantines it).
    """
    q = np.asarray(quat_xyzw, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = np.moveaxis(q, -1, 0)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    m = np.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ],
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat_xyzw(rot: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` -> unit quaternions ``(..., 4)`` xyzw with w >= 0.

    Branch-free Shepperd-style: each candidate is computed from the largest diagonal
    combination, which keeps it well conditioned at every angle including pi.
    """
    r = np.asarray(rot, dtype=np.float64)
    m00, m01, m02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    m10, m11, m12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    m20, m21, m22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]
    # 4 candidate (unnormalised) quaternions, rows: pivot on w, x, y, z.
    cand = np.stack(
        [
            np.stack([m21 - m12, m02 - m20, m10 - m01, 1 + m00 + m11 + m22], -1),
            np.stack([1 + m00 - m11 - m22, m01 + m10, m02 + m20, m21 - m12], -1),
            np.stack([m01 + m10, 1 - m00 + m11 - m22, m12 + m21, m02 - m20], -1),
            np.stack([m02 + m20, m12 + m21, 1 - m00 - m11 + m22, m10 - m01], -1),
        ],
        axis=-2,
    )
    pivots = np.stack([m00 + m11 + m22, m00, m11, m22], -1)
    best = np.argmax(pivots, axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., 3:4] < 0, -q, q)


def matrix_to_rotvec(rot: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` -> rotation vectors ``(..., 3)`` in rad, angle in [0, pi]."""
    q = matrix_to_quat_xyzw(rot)
    v = q[..., :3]
    s = np.linalg.norm(v, axis=-1)
    angle = 2.0 * np.arctan2(s, q[..., 3])
    # angle / sin(angle/2) -> 2 as s -> 0; use the series to stay exact near identity.
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0 + s * s / 3.0)
    return v * scale[..., None]


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rotation vectors ``(..., 3)`` in rad -> rotation matrices ``(..., 3, 3)`` (Rodrigues)."""
    v = np.asarray(rotvec, dtype=np.float64)
    theta = np.linalg.norm(v, axis=-1)
    half = 0.5 * theta
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(theta > 1e-12, np.sin(half) / np.where(theta > 1e-12, theta, 1.0), 0.5 - theta**2 / 48.0)
    quat_xyzw = np.concatenate([v * k[..., None], np.cos(half)[..., None]], axis=-1)
    return quat_xyzw_to_matrix(quat_xyzw)


def pose_from_translation_quat_xyzw(translation_m: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    """``(..., 3)`` translations and ``(..., 4)`` xyzw quaternions -> ``(..., 4, 4)`` transforms."""
    t = np.asarray(translation_m, dtype=np.float64)
    rot = quat_xyzw_to_matrix(quat_xyzw)
    out = np.zeros(rot.shape[:-2] + (4, 4), dtype=np.float64)
    out[..., :3, :3] = rot
    out[..., :3, 3] = t
    out[..., 3, 3] = 1.0
    return out


def rotation_defect(rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(orthonormality error, determinant)`` for ``(..., 3, 3)``.

    The error is ``max |R^T R - I|``; a proper rotation has error ~1e-15 and det +1.
    """
    r = np.asarray(rot, dtype=np.float64)
    err = np.abs(np.swapaxes(r, -1, -2) @ r - np.eye(3)).max(axis=(-1, -2))
    return err, np.linalg.det(r)
