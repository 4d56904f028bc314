"""Simulator pose conventions -> remot's convention, and the ``sim_pose_table`` reader.

remot's convention: world right-handed with z up; ``cam2world`` maps camera coordinates in
**OpenCV axes** (x right, y down, z forward) to world coordinates.

**Habitat** (habitat-sim, also most OpenGL engines): world right-handed, y up (-z is the
default forward, x right); camera in OpenGL axes (x right, y up, looking along -z). Pose given
as ``position_xyz`` and ``quat_xyzw`` (camera-to-world). Conversion::

    W = R_x(+90 deg) = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]   habitat world -> z-up world
                       (y_hab -> +z, -z_hab -> +y, x -> x)
    C = diag(1, -1, -1)                                      OpenCV camera -> OpenGL camera
    R = W @ R_hab @ C,   t = W @ t_hab

**CARLA / Unreal Engine 4**: world left-handed, x forward, y right, z up, metres; rotation
``(pitch, yaw, roll)`` in degrees, the matrix of ``carla.Transform.get_matrix()``:
``M = R_z(yaw) @ R_y(-pitch) @ R_x(-roll)`` in UE's coordinates (pitch > 0 looks up, yaw > 0
turns right towards +y_UE). A CARLA camera looks along its local +x with +y right and +z up.
Conversion::

    F = diag(1, -1, 1)                                       UE world -> right-handed z-up world (flip y)
    P = [[0, 0, 1], [1, 0, 0], [0, -1, 0]]                   OpenCV camera -> UE camera axes
                       (UE x = OpenCV z, UE y = OpenCV x, UE z = -OpenCV y)
    R = F @ M @ P,   t = F @ location

Both ``det(F) = det(P) = -1``, so ``det(R) = +1``. Objects keep their own body axes
re-expressed the same way, so an unrotated object stays unrotated: Habitat ``W @ M @ W.T``,
CARLA ``F @ M @ F``.

``sim_pose_table`` reads one CSV or JSONL file per episode (or several episodes per file with
``options.episode_column``) with the camera pose in ``options.convention``. Options:
``convention`` (``opencv`` | ``habitat`` | ``carla``, default ``opencv``); ``columns:
{timestamp, position: [3 names], rotation: [names]}`` (defaults ``timestamp_s``, ``x y z``, and
``qx qy qz qw`` or, for CARLA, ``pitch yaw roll``); ``quat_order`` (``xyzw`` | ``wxyz``) for
the quaternion columns; ``objects: [{object_id, color_name, position: [3], rotation: [...]}]``
in the same convention; ``timestamp_unit``; ``glob`` (default ``**/*.csv``, ``**/*.jsonl``);
the media options of :mod:`.robot_table` (``video``, ``video_column``, ``frame_column``,
``video_time_column``, ``video_fps``, ``fps``); ``intrinsics: {fx, fy, cx, cy}`` or
``fov_deg`` (horizontal, as CARLA's camera ``fov``: fx = fy = width / (2 tan(fov/2)), principal
point at the image centre); ``scene_id``. JSONL lists are addressed as ``name[i]`` and nested
objects as ``parent.child``. Rows are quarantined as in :mod:`.robot_table`.
"""

from __future__ import annotations

import numpy as np

from remot_pipeline.core import se3
from remot_pipeline.sources.base import SourceError, SourceSpec
from remot_pipeline.sources.robot_table import (
    TIME_UNITS,
    Layout,
    PoseColumns,
    media_options,
    quat_columns_xyzw,
    table_reader,
    unit_scale,
)

FORMAT = "sim_pose_table"
CONVENTIONS = ("opencv", "habitat", "carla")

#: Habitat (y-up) world -> remot (z-up) world: R_x(+90 deg).
HABITAT_WORLD_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
#: OpenCV camera axes -> OpenGL camera axes (its own inverse).
OPENCV_TO_OPENGL_CAMERA = np.diag([1.0, -1.0, -1.0])
#: UE4 left-handed world -> right-handed z-up world (its own inverse).
UE_TO_RIGHT_HANDED = np.diag([1.0, -1.0, 1.0])
#: OpenCV camera axes -> UE camera axes: p_ue = P @ p_cv (x_ue = z_cv, y_ue = x_cv, z_ue = -y_cv).
OPENCV_TO_UE_CAMERA = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _compose(rot: np.ndarray, t: np.ndarray) -> np.ndarray:
    out = np.zeros(rot.shape[:-2] + (4, 4))
    out[..., :3, :3] = rot
    out[..., :3, 3] = t
    out[..., 3, 3] = 1.0
    return out


def opencv_pose(position_xyz: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    """Already in remot's convention: ``(..., 3)`` position, ``(..., 4)`` xyzw -> ``cam2world (..., 4, 4)``."""
    return se3.pose_from_translation_quat_xyzw(position_xyz, quat_xyzw)


def habitat_to_opencv(position_xyz: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    """Habitat camera poses -> remot ``cam2world (..., 4, 4)``.

    Input: camera-to-world in a right-handed y-up world, camera in OpenGL axes (x right, y up,
    looking along -z); ``position_xyz (..., 3)`` in metres, ``quat_xyzw (..., 4)``.
    Output: world z-up (``W = R_x(+90 deg)``: y_hab -> z, -z_hab -> y), camera in OpenCV axes
    (x right, y down, z forward): ``R = W @ R_hab @ diag(1, -1, -1)``, ``t = W @ t_hab``.
    """
    rot = se3.quat_xyzw_to_matrix(quat_xyzw)
    t = np.asarray(position_xyz, dtype=np.float64)
    return _compose(HABITAT_WORLD_TO_ZUP @ rot @ OPENCV_TO_OPENGL_CAMERA, t @ HABITAT_WORLD_TO_ZUP.T)


def opencv_to_habitat(cam2world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`habitat_to_opencv`: ``cam2world (..., 4, 4)`` -> ``(position_xyz, quat_xyzw)``."""
    m = np.asarray(cam2world, dtype=np.float64)
    rot = HABITAT_WORLD_TO_ZUP.T @ m[..., :3, :3] @ OPENCV_TO_OPENGL_CAMERA
    return m[..., :3, 3] @ HABITAT_WORLD_TO_ZUP, se3.matrix_to_quat_xyzw(rot)


def carla_rotation_ue(pitch_yaw_roll_deg: np.ndarray) -> np.ndarray:
    """CARLA ``Rotation(pitch, yaw, roll)`` in degrees ``(..., 3)`` -> its matrix ``(..., 3, 3)`` in UE's
    left-handed numbers (``carla.Transform.get_matrix()``): ``R_z(yaw) @ R_y(-pitch) @ R_x(-roll)``.
    Column 0 is the forward vector ``(cos p cos y, cos p sin y, sin p)``."""
    a = np.radians(np.asarray(pitch_yaw_roll_deg, dtype=np.float64))
    cp, cy, cr = np.cos(a[..., 0]), np.cos(a[..., 1]), np.cos(a[..., 2])
    sp, sy, sr = np.sin(a[..., 0]), np.sin(a[..., 1]), np.sin(a[..., 2])
    m = np.stack([
        cp * cy, cy * sp * sr - sy * cr, -cy * sp * cr - sy * sr,
        cp * sy, sy * sp * sr + cy * cr, -sy * sp * cr + cy * sr,
        sp, -cp * sr, cp * cr,
    ], axis=-1)
    return m.reshape(a.shape[:-1] + (3, 3))


def carla_to_opencv(location_xyz_m: np.ndarray, pitch_yaw_roll_deg: np.ndarray) -> np.ndarray:
    """CARLA / UE4 camera transforms -> remot ``cam2world (..., 4, 4)``.

    Input: UE4 left-handed world (x forward, y right, z up), ``location_xyz_m (..., 3)``,
    ``pitch_yaw_roll_deg (..., 3)`` in CARLA's order (pitch about y, yaw about z, roll about x);
    the camera looks along its local +x. Output: right-handed z-up world (y flipped: +y_UE ->
    -y), camera in OpenCV axes (x right = +y_UE local, y down = -z_UE local, z forward = +x_UE
    local): ``R = F @ M @ P``, ``t = F @ location`` (see the module docstring).
    """
    m = carla_rotation_ue(pitch_yaw_roll_deg)
    t = np.asarray(location_xyz_m, dtype=np.float64)
    return _compose(UE_TO_RIGHT_HANDED @ m @ OPENCV_TO_UE_CAMERA, t @ UE_TO_RIGHT_HANDED.T)


def opencv_to_carla(cam2world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`carla_to_opencv`: ``cam2world (..., 4, 4)`` -> ``(location_xyz_m, pitch_yaw_roll_deg)``.

    Pitch is in [-90, 90]; at pitch = +-90 (gimbal lock) yaw and roll are not unique.
    """
    c = np.asarray(cam2world, dtype=np.float64)
    m = UE_TO_RIGHT_HANDED @ c[..., :3, :3] @ OPENCV_TO_UE_CAMERA.T
    pitch = np.degrees(np.arcsin(np.clip(m[..., 2, 0], -1.0, 1.0)))
    yaw = np.degrees(np.arctan2(m[..., 1, 0], m[..., 0, 0]))
    roll = np.degrees(np.arctan2(-m[..., 2, 1], m[..., 2, 2]))
    return c[..., :3, 3] @ UE_TO_RIGHT_HANDED.T, np.stack([pitch, yaw, roll], axis=-1)


def habitat_object_to_world(position_xyz: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    """Habitat object poses -> ``obj2world (..., 4, 4)`` in the z-up world; body axes re-expressed
    the same way (``W @ R @ W.T``), so an unrotated object stays unrotated."""
    rot = se3.quat_xyzw_to_matrix(quat_xyzw)
    w = HABITAT_WORLD_TO_ZUP
    return _compose(w @ rot @ w.T, np.asarray(position_xyz, dtype=np.float64) @ w.T)


def carla_object_to_world(location_xyz_m: np.ndarray, pitch_yaw_roll_deg: np.ndarray) -> np.ndarray:
    """CARLA actor transforms -> ``obj2world (..., 4, 4)`` in the right-handed world: body axes
    mirrored like the world (``F @ M @ F``: x forward, y left, z up)."""
    f = UE_TO_RIGHT_HANDED
    return _compose(f @ carla_rotation_ue(pitch_yaw_roll_deg) @ f, np.asarray(location_xyz_m, dtype=np.float64) @ f.T)


_CAMERA = {"opencv": opencv_pose, "habitat": habitat_to_opencv, "carla": carla_to_opencv}
_OBJECT = {"opencv": opencv_pose, "habitat": habitat_object_to_world, "carla": carla_object_to_world}
_DEFAULT_GLOBS = ("**/*.csv", "**/*.jsonl")


# --------------------------------------------------------------------------------------------
# sim_pose_table reader
# --------------------------------------------------------------------------------------------


def _pose_columns(entry: dict, convention: str, quat_order: str, where: str, to_matrix, **extra) -> PoseColumns:
    euler = convention == "carla"
    position = tuple(str(c) for c in entry.get("position", ("x", "y", "z")))
    rotation = entry.get("rotation", ("pitch", "yaw", "roll") if euler else ("qx", "qy", "qz", "qw"))
    if len(position) != 3:
        raise SourceError(f"{where}: position needs 3 column names, got {list(position)}; fix the sources file")
    if euler:
        if len(rotation) != 3:
            raise SourceError(f"{where}: a CARLA rotation needs 3 column names (pitch, yaw, roll), got {list(rotation)}")
        rotation = tuple(str(c) for c in rotation)
    else:
        rotation = quat_columns_xyzw(rotation, quat_order, where)
    return PoseColumns(position, rotation, not euler, to_matrix, **extra)


def layout_from_options(spec: SourceSpec) -> Layout:
    o = spec.options
    where = f"source {spec.name!r}"
    convention = o.get("convention", "opencv")
    if convention not in CONVENTIONS:
        raise SourceError(f"{where}: convention {convention!r} is not one of {list(CONVENTIONS)}; fix the sources file")
    cols = o.get("columns") or {}
    if not isinstance(cols, dict):
        raise SourceError(f"{where}: options.columns must map timestamp, position and rotation; fix the sources file")
    quat_order = o.get("quat_order", "xyzw")
    camera = _pose_columns(cols, convention, quat_order, where, _CAMERA[convention])
    objects = []
    if not isinstance(o.get("objects") or [], list):
        raise SourceError(f"{where}: options.objects must be a list of {{object_id, position, rotation}}; fix the sources file")
    for i, obj in enumerate(o.get("objects") or []):
        if not isinstance(obj, dict) or "object_id" not in obj or "position" not in obj:
            raise SourceError(f"{where}: objects[{i}] needs object_id and position (and rotation); fix the sources file")
        objects.append(_pose_columns(obj, convention, quat_order, f"{where} objects[{i}]", _OBJECT[convention],
                                     object_id=str(obj["object_id"]), color_name=str(obj.get("color_name", "unknown"))))
    return Layout(
        timestamp=str(cols.get("timestamp", "timestamp_s")),
        timestamp_scale=unit_scale(o.get("timestamp_unit", "s"), TIME_UNITS, "timestamp_unit", where),
        camera=camera,
        objects=tuple(objects),
        quat_norm_tol=float(o.get("quat_norm_tol", 1e-2)),
        fov_deg=float(o["fov_deg"]) if o.get("fov_deg") is not None else None,
        **media_options(o, where),
    )


discover, read = table_reader(layout_from_options, _DEFAULT_GLOBS)  # option type errors: one line (checked_layout)
