"""Rotations, rigid poses and pinhole intrinsics shared by the synthetic domains.

Conventions (everywhere in ``remot_pipeline.synthetic``):

- World frame: right-handed, z up (metres).
- Camera axes: OpenCV (x right, y down, z forward).
- ``a2b`` is a rigid transform mapping points in frame ``a`` to frame ``b``, shape ``(..., 4, 4)``;
  ``cam2world`` therefore has the camera centre in world as its translation and camera-axis
  directions in world as its rotation columns.
- Intrinsics: pinhole, no distortion, ``fx = fy = 0.8 * width_px``, ``cx = width_px / 2``,
  ``cy = height_px / 2`` (pixel centres at integer coordinates, as in OpenCV).
"""

from __future__ import annotations

import numpy as np

FOCAL_PER_WIDTH = 0.8

# Camera axes written in a "body" frame (x forward, y left, z up) at zero yaw / pitch / roll:
# columns are camera x (right) = -y_body, camera y (down) = -z_body, camera z (forward) = +x_body.
CAM2BODY = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def intrinsics(width_px: int, height_px: int) -> dict[str, float]:
    """Pinhole intrinsics in pixels: fx = fy = 0.8 * width, principal point at (W/2, H/2)."""
    f = FOCAL_PER_WIDTH * width_px
    return {"fx": f, "fy": f, "cx": width_px / 2.0, "cy": height_px / 2.0}


def intrinsics_matrix(width_px: int, height_px: int) -> np.ndarray:
    """K, shape (3, 3)."""
    k = intrinsics(width_px, height_px)
    return np.array([[k["fx"], 0.0, k["cx"]], [0.0, k["fy"], k["cy"]], [0.0, 0.0, 1.0]])


def rot_x(angle_rad) -> np.ndarray:
    """Rotation about x by ``angle_rad``, shape (..., 3, 3)."""
    a = np.asarray(angle_rad, dtype=float)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], axis=-1).reshape(a.shape + (3, 3))


def rot_z(angle_rad) -> np.ndarray:
    """Rotation about z by ``angle_rad``, shape (..., 3, 3)."""
    a = np.asarray(angle_rad, dtype=float)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(a.shape + (3, 3))


def make_pose(rotation: np.ndarray, translation_m: np.ndarray) -> np.ndarray:
    """Rigid transform from rotation (..., 3, 3) and translation (..., 3); shape (..., 4, 4)."""
    rotation = np.asarray(rotation, dtype=float)
    translation_m = np.asarray(translation_m, dtype=float)
    shape = np.broadcast_shapes(rotation.shape[:-2], translation_m.shape[:-1])
    pose = np.zeros(shape + (4, 4))
    pose[..., :3, :3] = rotation
    pose[..., :3, 3] = translation_m
    pose[..., 3, 3] = 1.0
    return pose


def cam2world_from_ypr(position_m, yaw_rad, pitch_rad, roll_rad) -> np.ndarray:
    """cam2world (N, 4, 4) of a camera at ``position_m`` (N, 3) with heading angles (N,).

    yaw: about world +z (positive = turn left); pitch: positive = look up; roll: about the
    optical axis (positive = image content rotates counter-clockwise, camera right side down).
    """
    rotation = rot_z(yaw_rad) @ CAM2BODY @ rot_x(pitch_rad) @ rot_z(roll_rad)
    return make_pose(rotation, position_m)


def look_at_cam2world(eye_m, target_m, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """cam2world (4, 4) of a camera at ``eye_m`` looking at ``target_m`` with world ``up``."""
    eye_m, target_m = np.asarray(eye_m, float), np.asarray(target_m, float)
    forward = target_m - eye_m
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, float))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return make_pose(np.stack([right, down, forward], axis=-1), eye_m)


def smootherstep(s: np.ndarray) -> np.ndarray:
    """C2-smooth 0 -> 1 ramp on [0, 1] (zero velocity and acceleration at both ends)."""
    s = np.clip(s, 0.0, 1.0)
    return s * s * s * (s * (6.0 * s - 15.0) + 10.0)


def ramp(start: np.ndarray, end: np.ndarray, n_frames: int) -> np.ndarray:
    """States for frames 1..n of a smooth move from ``start`` to ``end``; shape (n, *start.shape).

    Frame 0 (the start state itself) is not included, so consecutive ramps concatenate.
    """
    start, end = np.asarray(start, float), np.asarray(end, float)
    s = smootherstep(np.arange(1, n_frames + 1) / n_frames).reshape((-1,) + (1,) * start.ndim)
    return start + s * (end - start)
