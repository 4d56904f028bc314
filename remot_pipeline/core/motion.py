"""The motion estimation expert g: relative motion for candidate frame pairs, batched.

For every episode, candidate pairs ``(a, b)`` are all frame pairs whose index offset lies in
``offsets`` (both directions), whose time difference is at most ``max_dt_s`` and which do not
span a tracking gap (two consecutive frames further apart than ``max_frame_gap_s``). Motion is
expressed in frame a: ``b2a = inv(cam2world_a) @ cam2world_b`` (OpenCV camera axes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import conform, empty
from remot_pipeline.core import phases, se3
from remot_pipeline.core.labels import DEFAULT_BANDS
from remot_pipeline.core.ledger import StageResult


@dataclass(frozen=True)
class PairConfig:
    """Which frame pairs are candidates, and how long a pair must be to carry a phase.

    ``min_offset`` .. ``max_offset`` in steps of ``offset_step``: frame offsets ``b - a`` (both
    directions); ``max_dt_s``: the longest pair; ``max_frame_gap_s``: consecutive frames further
    apart than this are a tracking gap, which no pair spans. ``min_phase_s``: a pair gets a
    manipulation ``phase`` only when it lasts at least this long, so that its two frames can show
    the phase (a grasp or a place takes about a second; two frames 0.2 s apart look the same).
    """

    min_offset: int = 2
    max_offset: int = 30
    offset_step: int = 2
    max_dt_s: float = 3.0
    max_frame_gap_s: float = 0.5
    min_phase_s: float = 0.6


def enumerate_pairs(n_frames: int, cfg: PairConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``(a, a + k)`` for ``k`` in the configured offsets, then every reverse pair.

    Returns ``(a, b, offsets)``; the order is offset by offset, which is the order
    :func:`camera_motion_offsets` computes motion in.
    """
    offsets = np.arange(cfg.min_offset, cfg.max_offset + 1, cfg.offset_step)
    offsets = offsets[(offsets > 0) & (offsets < n_frames)]
    if offsets.size == 0:
        empty_ = np.zeros(0, np.int64)
        return empty_, empty_, offsets
    a = np.concatenate([np.arange(n_frames - k) for k in offsets])
    b = a + np.repeat(offsets, n_frames - offsets)
    return np.concatenate([a, b]), np.concatenate([b, a]), offsets


def filter_pairs(timestamps_s: np.ndarray, a: np.ndarray, b: np.ndarray, cfg: PairConfig) -> tuple[np.ndarray, dict[str, int]]:
    """Keep mask for pairs that span no tracking gap and at most ``max_dt_s``; counts per rule."""
    ts = np.asarray(timestamps_s, dtype=np.float64)
    gaps = np.concatenate([[0], np.cumsum(np.diff(ts) > cfg.max_frame_gap_s)])
    spans_gap = gaps[b] != gaps[a]
    too_long = ~spans_gap & (np.abs(ts[b] - ts[a]) > cfg.max_dt_s)
    return ~spans_gap & ~too_long, {"spans_tracking_gap": int(spans_gap.sum()), "dt_above_max": int(too_long.sum())}


def candidate_pairs(timestamps_s: np.ndarray, cfg: PairConfig) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Index arrays ``(a, b)`` of the kept candidate pairs, and the count filtered per rule.

    >>> a, b, f = candidate_pairs(np.array([0.0, 0.1, 0.2, 5.0, 5.1]), PairConfig(1, 1, 1, 1.0, 0.5))
    >>> list(zip(a.tolist(), b.tolist())), f
    ([(0, 1), (1, 2), (3, 4), (1, 0), (2, 1), (4, 3)], {'spans_tracking_gap': 2, 'dt_above_max': 0})
    """
    a, b, _ = enumerate_pairs(len(timestamps_s), cfg)
    keep, filtered = filter_pairs(timestamps_s, a, b, cfg)
    return a[keep], b[keep], filtered


def pose_soa(cam2world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(F, 4, 4)`` -> ``(quat_xyzw (4, F), rotation entries (3, 3, F), translation (3, F))``.

    Structure of arrays: each component is one contiguous row, so a slice over frames is a
    cheap view and every arithmetic step below is one vectorised pass.
    """
    c = np.asarray(cam2world, dtype=np.float64)
    quat_xyzw = np.ascontiguousarray(se3.matrix_to_quat_xyzw(c[:, :3, :3]).T)
    return quat_xyzw, np.ascontiguousarray(np.moveaxis(c[:, :3, :3], 0, -1)), np.ascontiguousarray(c[:, :3, 3].T)


def relative_motion_soa(quat_a, rot_a, t_a, quat_b, t_b, out: np.ndarray | None = None) -> np.ndarray:
    """Motion a->b in camera a's axes from structure-of-arrays poses.

    ``quat_*``: ``(4, N)`` xyzw; ``rot_a``: ``(3, 3, N)``; ``t_*``: ``(3, N)``. Returns (or fills)
    ``out (7, N)``: rotation vector in degrees (rows 0-2), rotation angle in degrees (row 3) and
    translation ``R_a^T (t_b - t_a)`` in metres (rows 4-6). The relative rotation is the quaternion
    ``conj(q_a) * q_b``; its rotation vector ``2 atan2(|v|, |w|) v / |v| * sign(w)`` is well
    conditioned at every angle, half turns included.
    """
    n = quat_a.shape[1]
    out = np.empty((7, n)) if out is None else out
    ax, ay, az, aw = quat_a
    bx, by, bz, bw = quat_b
    w = aw * bw + ax * bx + ay * by + az * bz
    x = aw * bx - ax * bw - ay * bz + az * by
    y = aw * by + ax * bz - ay * bw - az * bx
    z = aw * bz - ax * by + ay * bx - az * bw
    sin_half = np.sqrt(x * x + y * y + z * z)
    angle_deg = np.arctan2(sin_half, np.abs(w)) * (2.0 * _DEG)
    scale = np.where(sin_half > 1e-12, angle_deg / np.where(sin_half > 1e-12, sin_half, 1.0), 2.0 * _DEG)
    scale = np.where(w < 0, -scale, scale)
    np.multiply(x, scale, out=out[0])
    np.multiply(y, scale, out=out[1])
    np.multiply(z, scale, out=out[2])
    out[3] = angle_deg
    dx, dy, dz = t_b[0] - t_a[0], t_b[1] - t_a[1], t_b[2] - t_a[2]
    for i in range(3):
        out[4 + i] = rot_a[0, i] * dx + rot_a[1, i] * dy + rot_a[2, i] * dz
    return out


_DEG = 180.0 / np.pi


def _named(motion: np.ndarray) -> dict[str, np.ndarray]:
    """Contract columns from the ``(7, N)`` block of :func:`relative_motion_soa`."""
    return {
        "cam_translation_a_m": motion[4:7].T,
        "cam_translation_norm_m": np.sqrt(np.einsum("ij,ij->j", motion[4:7], motion[4:7])),
        "cam_rotvec_a_rad": (motion[0:3] * (1.0 / _DEG)).T,
        "yaw_left_deg": -motion[1],
        "pitch_up_deg": motion[0],
        "roll_cw_deg": motion[2],
        "rotation_angle_deg": motion[3],
    }


def camera_motion_offsets(cam2world: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Camera motion for the pairs of :func:`enumerate_pairs` (forward by offset, then reverse).

    Each offset is two contiguous slices of the structure-of-arrays poses: no gathers, and the
    working set of one offset stays in cache. This is the kernel ``bench/`` measures.
    """
    q, rot, t = pose_soa(cam2world)
    n = t.shape[1]
    offsets = [int(k) for k in offsets]
    out = np.empty((7, 2 * sum(n - k for k in offsets)))
    pos = 0
    for k in offsets:  # forward pairs (a, a + k), offset by offset
        relative_motion_soa(q[:, : n - k], rot[:, :, : n - k], t[:, : n - k], q[:, k:], t[:, k:], out[:, pos : pos + n - k])
        pos += n - k
    for k in offsets:  # then their reverses (a + k, a)
        relative_motion_soa(q[:, k:], rot[:, :, k:], t[:, k:], q[:, : n - k], t[:, : n - k], out[:, pos : pos + n - k])
        pos += n - k
    return _named(out)


def camera_motion(cam2world: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Camera motion a->b in camera a's axes for index arrays ``a, b`` (N,).

    ``cam2world``: ``(F, 4, 4)``. Returns translation ``(N, 3)`` (right, down, forward, m),
    rotation vector ``(N, 3)`` (rad), and yaw-left / pitch-up / roll-cw / total angle in deg.
    Yaw, pitch and roll are the rotation-vector components about the camera's axes
    (negated about y, which points down): exact under inversion, ``rel(b, a) = -rel(a, b)``.
    """
    q, rot, t = pose_soa(cam2world)
    return _named(relative_motion_soa(q[:, a], rot[:, :, a], t[:, a], q[:, b], t[:, b]))


#: When picking the object that "moved most", a turn of this many degrees counts as much as one
#: metre of displacement: the ratio of the default band minima (rotation over object translation),
#: so the pick agrees with the labels' normalised magnitudes and a pure spin names its own cube.
OBJECT_DEG_PER_M = DEFAULT_BANDS["rotation_deg"][0] / DEFAULT_BANDS["object_translation_m"][0]


def relative_rotvec_world(rot: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation vectors (rad) of ``R_b R_a^T``: the rotation a->b expressed in the fixed frame.

    ``rot``: ``(F, ..., 3, 3)`` rotations to the fixed frame (obj2world, ee2base); returns
    ``(N, ..., 3)``. Exact under inversion: the pair (b, a) gives the negated vector.
    """
    return se3.matrix_to_rotvec(rot[b] @ np.swapaxes(rot[a], -1, -2))


def object_yaw_ccw_deg(obj2world: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each object's own turn a->b about the world vertical (+z), counterclockwise seen from above.

    ``obj2world``: ``(F, K, 4, 4)``; returns ``(N, K)`` degrees: the world-z component of the
    rotation vector of ``R_b R_a^T``. The camera does not enter it (world frame). For a turn
    about the vertical alone it is the signed turn angle; positive = counterclockwise from above.
    """
    return np.degrees(relative_rotvec_world(obj2world[:, :, :3, :3], a, b)[..., 2])


def object_motion(cam2world: np.ndarray, obj2world: np.ndarray, a: np.ndarray, b: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The object that moved most a->b, its own displacement in camera a's axes, and its own turn.

    ``obj2world``: ``(F, K, 4, 4)``. World displacement ``p_b - p_a`` is rotated into camera a
    (``R_a^T``), so camera ego-motion does not enter it. "Moved most" compares displacement and
    turn about the vertical on one scale (:data:`OBJECT_DEG_PER_M` degrees per metre), so a cube
    spinning in place is chosen over its still neighbours. Returns ``(object index (N,),
    disp (N, 3) m, yaw_ccw (N,) deg)`` (see :func:`object_yaw_ccw_deg`).
    """
    p = obj2world[:, :, :3, 3]
    disp_world = p[b] - p[a]  # (N, K, 3)
    yaw_deg = object_yaw_ccw_deg(obj2world, a, b)  # (N, K)
    score = np.maximum(np.linalg.norm(disp_world, axis=-1) * OBJECT_DEG_PER_M, np.abs(yaw_deg))
    moved = np.argmax(score, axis=1)
    rows = np.arange(len(a))
    chosen = disp_world[rows, moved]
    rot_a_t = np.swapaxes(cam2world[a, :3, :3], -1, -2)
    return moved, np.einsum("nij,nj->ni", rot_a_t, chosen), yaw_deg[rows, moved]


def ee_roll_image_cw_deg(cam2world: np.ndarray, ee_rotvec_base_rad: np.ndarray, a: np.ndarray, b: np.ndarray
                         ) -> np.ndarray:
    """The end effector's rotation a->b about camera a's optical axis: clockwise in the image.

    ``cam2world``: ``(F, 4, 4)`` (world = robot base for a fixed camera); ``ee_rotvec_base_rad``:
    ``(F, 3)``. The rotation ``R_b R_a^T`` (in the base frame) has rotation vector ``r``; its
    component along camera a's forward axis ``z_a`` (OpenCV axes) is ``r . z_a``. A positive turn
    about +z takes +x (image right) towards +y (image down): clockwise as the image is seen.
    Returns ``(N,)`` degrees, positive = clockwise in the image.
    """
    r = relative_rotvec_world(se3.rotvec_to_matrix(ee_rotvec_base_rad), a, b)  # (N, 3), base frame
    return np.degrees(np.einsum("ni,ni->n", r, cam2world[a, :3, 2]))


def _fixed_list(values: np.ndarray | None, width: int, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.list_(pa.float64(), width))
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(values, dtype=np.float64).ravel()), width)


def _scalar(values: np.ndarray | None, n: int) -> pa.Array:
    return pa.nulls(n, pa.float64()) if values is None else pa.array(np.asarray(values, dtype=np.float64))


def _matrices(column: pa.ChunkedArray, width: int) -> np.ndarray | None:
    if column.null_count == len(column):
        return None
    flat = pc.list_flatten(column.combine_chunks()).to_numpy(zero_copy_only=False)
    return flat.reshape(len(column), -1, width) if width == 16 else flat.reshape(len(column), width)


def episode_motion_pairs(frames: pa.Table, cfg: PairConfig) -> StageResult:
    """Motion pairs for one episode's ``frames`` rows (sorted by frame_index)."""
    n = frames.num_rows
    ts = frames.column("timestamp_s").to_numpy()
    a, b, offsets = enumerate_pairs(n, cfg)
    keep, filtered = filter_pairs(ts, a, b, cfg)
    rows_in = len(a)
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return StageResult(empty("motion_pairs"), empty("quarantine"), rows_in, filtered)
    episode_id = frames.column("episode_id")[0].as_py()
    m = len(a)
    cam = _matrices(frames.column("cam2world"), 16)
    cam2world = None if cam is None else cam.reshape(n, 4, 4)
    if cam2world is not None:
        cm = {k: v[keep] for k, v in camera_motion_offsets(cam2world, offsets).items()}
    else:
        cm = {k: None for k in ("cam_translation_a_m", "cam_rotvec_a_rad")}
        cm.update({k: None for k in ("cam_translation_norm_m", "yaw_left_deg", "pitch_up_deg", "roll_cw_deg",
                                     "rotation_angle_deg")})
    ee = _matrices(frames.column("ee_pos_base_m"), 3)
    ee_disp_base = None if ee is None else ee[b] - ee[a]
    ee_disp_cam = None
    if ee_disp_base is not None and cam2world is not None:
        ee_disp_cam = np.einsum("nij,nj->ni", np.swapaxes(cam2world[a, :3, :3], -1, -2), ee_disp_base)
    ee_rv = _matrices(frames.column("ee_rotvec_base_rad"), 3)
    ee_roll = None if ee_rv is None or cam2world is None else ee_roll_image_cw_deg(cam2world, ee_rv, a, b)
    grip = frames.column("gripper_width_m").to_numpy(zero_copy_only=False)
    grip = None if frames.column("gripper_width_m").null_count == n else np.asarray(grip, dtype=np.float64)
    phase = hold = None
    if grip is not None and ee is not None:
        per_frame = phases.frame_phases(ts, grip, ee)
        idx, _ = phases.pair_phases(per_frame, a, b, phases.PhaseConfig().min_fraction, ts, cfg.min_phase_s)
        names = np.array([*phases.PHASES, None], dtype=object)
        phase = np.where(b > a, names[idx], None).tolist()  # time-directional: forward pairs only
        hold = phases.holding(grip, a, b).tolist()
    obj_id = obj_color = obj_disp = obj_yaw = None
    objs = frames.column("objects")
    if objs.null_count < n and cam2world is not None:
        o = objs.combine_chunks()
        counts = pc.list_value_length(o).to_numpy(zero_copy_only=False)
        if counts.size and (counts == counts[0]).all() and counts[0] > 0:
            k = int(counts[0])
            flat = pc.list_flatten(o)
            mats = pc.list_flatten(flat.field("obj2world")).to_numpy(zero_copy_only=False).reshape(n, k, 4, 4)
            ids = np.asarray(flat.field("object_id").to_pylist(), dtype=object).reshape(n, k)[0]
            colors = np.asarray(flat.field("color_name").to_pylist(), dtype=object).reshape(n, k)[0]
            moved, obj_disp, obj_yaw = object_motion(cam2world, mats, a, b)
            obj_id, obj_color = ids[moved].tolist(), colors[moved].tolist()
    domain = frames.column("domain")[0].as_py()
    split = frames.column("split")[0].as_py()
    fi = frames.column("frame_index").to_numpy()
    table = pa.table(
        {
            "episode_id": pa.array([episode_id] * m, pa.string()),
            "domain": pa.array([domain] * m, pa.string()),
            "split": pa.array([split] * m, pa.string()),
            "pair_id": pa.array([f"{episode_id}:{x}-{y}" for x, y in zip(fi[a].tolist(), fi[b].tolist())], pa.string()),
            "frame_index_a": pa.array(fi[a]),
            "frame_index_b": pa.array(fi[b]),
            "dt_s": pa.array(ts[b] - ts[a]),
            "cam_translation_a_m": _fixed_list(cm["cam_translation_a_m"], 3, m),
            "cam_translation_norm_m": _scalar(cm["cam_translation_norm_m"], m),
            "cam_rotvec_a_rad": _fixed_list(cm["cam_rotvec_a_rad"], 3, m),
            "yaw_left_deg": _scalar(cm["yaw_left_deg"], m),
            "pitch_up_deg": _scalar(cm["pitch_up_deg"], m),
            "roll_cw_deg": _scalar(cm["roll_cw_deg"], m),
            "rotation_angle_deg": _scalar(cm["rotation_angle_deg"], m),
            "ee_disp_base_m": _fixed_list(ee_disp_base, 3, m),
            "ee_disp_cam_m": _fixed_list(ee_disp_cam, 3, m),
            "ee_roll_image_cw_deg": _scalar(ee_roll, m),
            "gripper_delta_m": _scalar(None if grip is None else grip[b] - grip[a], m),
            "phase": pa.array(phase, pa.string()) if phase is not None else pa.nulls(m, pa.string()),
            "gripper_holding": pa.array(hold, pa.bool_()) if hold is not None else pa.nulls(m, pa.bool_()),
            "object_id": pa.array(obj_id, pa.string()) if obj_id is not None else pa.nulls(m, pa.string()),
            "object_color": pa.array(obj_color, pa.string()) if obj_color is not None else pa.nulls(m, pa.string()),
            "object_disp_a_m": _fixed_list(obj_disp, 3, m),
            "object_yaw_ccw_deg": _scalar(obj_yaw, m),
        }
    )
    return StageResult(conform(table, "motion_pairs"), empty("quarantine"), rows_in, filtered)
