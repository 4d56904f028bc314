"""Manipulation domain: a gripper doing pick-and-place on a table, as ONE LeRobot v3.0 dataset.

Layout under ``root/manipulation/synthetic_arm/``::

    meta/info.json                                   # features, fps, paths, + "remot" camera extension
    meta/tasks.parquet                               # task_index, task
    meta/episodes/chunk-000/file-000.parquet         # one row per episode (lengths, index & time ranges)
    data/chunk-000/file-000.parquet                  # all frames: observation.state[7], timestamp, ...
    videos/observation.images.front/chunk-000/file-000.mp4   # all episodes back to back

Each episode has its own scene (room and table textures, table tone) around the same robot; the
episodes table names it in the extension column ``remot/scene_id``, so train and test can be
split by scene.

Frames and units: the robot base frame is right-handed, z up, origin on the table top at the arm's
pedestal, +x pointing away from the robot towards the camera. ``observation.state`` =
``[ee_x_m, ee_y_m, ee_z_m, ee_rx_rad, ee_ry_rad, ee_rz_rad, gripper_width_m]``: the tool centre
point (between the fingertips) in the base frame and the rotation vector of ee2base. The EE frame
is the base frame turned about the vertical by the wrist yaw, then about the front camera's
optical axis ``c`` (camera +z in the base frame) by the wrist tilt:
``R = rotvec_to_matrix(tilt * c) @ R_z(yaw)``; a positive tilt turns the gripper clockwise in the
image. The fingers hang below the wrist and open along EE +-y.

The front camera is fixed, looks from the far side of the table back at the robot, so **base +y
projects to image right** (and +x, towards the camera, to image down / larger).

Cycles come in pairs, one block per pair. The first (``away``): approach the block, descend,
close, lift, carry it sideways (base y), then along the camera's depth (base x) toward the camera
to a "show" spot 0.35-0.45 m in front of it, turn the wrist in the image plane (out one way and
back, then out the other way and back, two sizes), carry it back away from the camera, place it
(turning it by up to 25 deg), open, retreat. The second (``back``) brings the block back near its
first spot in two legs (sideways first, then along the depth), so its legs go the other ways.
The first cycle shows every labelled direction but one of "left"/"right", the second the other,
so an episode of two cycles (the default 16 s) shows every labelled direction.

Sizes spread log-uniformly over most of each band: vertical travels (descent, lift, place,
retreat) 7-34 cm (the away cycle's lift 16-30 cm, which brings the show spot near the optical
axis); sideways legs 6-36 cm, depth legs 7-40 cm (where the workspace allows); the gripper opens
4.5-16 cm wider than the block it closes on (blocks 3.5-5.5 cm, so it opens to at most 21.5 cm);
the wrist turns 12-48 deg, but at least what the visibility gate can see at the show spot (6 px of
arc 5 cm from the axis, +10 %: ~14-17 deg). The sizes of an episode's first two cycles are
quantiles from :func:`~.geometry.episode_quantiles` (each one in every eighth of its range over
each block of 8 episodes, and an episode's vertical travels, gripper strokes and wrist turns
spread over their ranges), later ones random. The end effector moves at 0.3-0.4 m/s on average
over a move (at least 0.5 s), the wrist turns at 70 deg/s, the gripper in 0.7-1.0 s.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from remot_pipeline.core.se3 import invert, matrix_to_rotvec, rotvec_to_matrix

from .geometry import (episode_quantiles, intrinsics, intrinsics_matrix, log_uniform, look_at_cam2world, make_pose, ramp,
                       rot_z)
from .render import Solid, box_solid, render, texture_for_size
from .video import Mp4Writer

DATASET_NAME = "synthetic_arm"
VIDEO_KEY = "observation.images.front"
TASK = "pick up the block and place it somewhere else on the table"
STATE_NAMES = ["ee_x_m", "ee_y_m", "ee_z_m", "ee_rx_rad", "ee_ry_rad", "ee_rz_rad", "gripper_width_m"]
CAM2BASE = look_at_cam2world((0.95, 0.0, 0.42), (0.4, 0.0, 0.17))
BLOCK_SIZE_M = (0.035, 0.055)
GRIPPER_STROKE_M = (0.045, 0.16)  # how much wider than the block the gripper opens
GRIPPER_OPEN_M = BLOCK_SIZE_M[1] + GRIPPER_STROKE_M[1]  # the widest it opens
TILT_AXIS = CAM2BASE[:3, 2]  # the camera's optical axis in the base frame
# The wrist turns 12-48 deg, but at least enough that a point 5 cm from the axis sweeps 6 px (+10 %)
# of the default 256 px frame (fx 204.8 px) at the show spot's depth: ~14-18 deg there.
TILT_RAD = np.deg2rad((12.0, 48.0))
TILT_MIN_ARC_PX, TILT_ARC_RADIUS_M, REFERENCE_FX_PX = 6.6, 0.05, 204.8
TILT_RATE_RAD_S = np.deg2rad(70.0)
GRIP_S = (0.7, 1.0)  # closing / opening the gripper
EE_SPEED_M_S = (0.3, 0.4)  # average over a move
MIN_MOVE_S = 0.5
# Vertical travel of a descent, lift, place or retreat: the hover height is the block's half
# size plus this (the block then clears the other, at most 5.5 cm tall, when carried).
TRAVEL_M = (0.07, 0.34)
SHOW_TRAVEL_M = (0.16, 0.3)  # the away cycle's lift: the show spot is then near the optical axis
# Carry legs: along base y (sideways) and base x (the camera's depth).
LATERAL_LEG_M = (0.06, 0.36)
DEPTH_LEG_M = (0.07, 0.4)
# The show spot: base x in SHOW_X_M (0.34-0.37 m in front of the camera), |y| <= SHOW_HALF_Y_M.
SHOW_X_M = (0.58, 0.61)
SHOW_HALF_Y_M = 0.15
# Where blocks are picked / placed: x in WORKSPACE_X_M and |y| <= WORKSPACE_HALF_Y_M(x), a wedge
# that narrows towards the camera so the gripper stays in view.
WORKSPACE_X_M = (0.15, 0.52)
BLOCK_GAP_M = 0.2  # centre to centre: the open fingers clear the other block
#: The sizes of an episode's first two cycles (quantiles by name), stratified across episodes and
#: within each group (one attribute's sizes in the episode: small, medium and large).
PLANNED_SIZES = [("stroke_0", "stroke_1", "stroke_2"), ("lateral_0",), ("depth_0",), ("tilt_0a", "tilt_0b"),
                 ("descend_0", "lift_0", "retreat_0", "descend_1", "lift_1", "retreat_1")]
SHOULDER_M = np.array([0.0, 0.0, 0.42])
FINGER_SIZE_M = (0.024, 0.018, 0.07)
WRIST_SIZE_M = (0.06, 0.2, 0.06)
PART_TEXELS_PER_M = 900.0  # fine texture detail on the small parts (for optical flow)
TABLE_TONES_RGB = [(170, 130, 90), (200, 200, 195), (110, 80, 60), (140, 150, 160), (190, 160, 120)]
SCENE_COLUMN = "remot/scene_id"
BLOCK_COLOURS_RGB = [(220, 40, 40), (40, 170, 60), (40, 80, 220), (230, 200, 30), (150, 50, 170), (40, 200, 210)]


def _link_pose(a_m: np.ndarray, b_m: np.ndarray) -> np.ndarray:
    """obj2base (4, 4) of a box whose x axis runs from point a to point b (centre at the midpoint)."""
    x = (b_m - a_m) / np.linalg.norm(b_m - a_m)
    y = np.cross([0.0, 0.0, 1.0], x)
    y = y / np.linalg.norm(y) if np.linalg.norm(y) > 1e-6 else np.array([0.0, 1.0, 0.0])
    return make_pose(np.stack([x, y, np.cross(x, y)], axis=-1), (a_m + b_m) / 2)


class _Arm:
    """The visible arm: column, upper link, wrist and two fingers, posed from the EE state."""

    def __init__(self, rng: np.random.Generator):
        metal = texture_for_size(rng, (0.07, 0.42), PART_TEXELS_PER_M, (150, 150, 160))
        wrist = texture_for_size(rng, WRIST_SIZE_M[1:], PART_TEXELS_PER_M, (235, 120, 30))
        self.column = box_solid((0.07, 0.07, SHOULDER_M[2]), metal, make_pose(np.eye(3), SHOULDER_M / 2))
        self.link = box_solid((1.0, 0.05, 0.05), metal)  # unit length, stretched per frame
        self._link_faces_unit = self.link.face_corners_obj_m.copy()
        self.wrist = box_solid(WRIST_SIZE_M, wrist)
        finger = texture_for_size(rng, FINGER_SIZE_M[1:], PART_TEXELS_PER_M, (60, 60, 70))
        self.fingers = [box_solid(FINGER_SIZE_M, finger) for _ in range(2)]

    def pose(self, ee2base: np.ndarray, gripper_width_m: float) -> list[Solid]:
        """Place the parts for one frame and return them (for the painter's sort)."""
        wrist_centre = ee2base @ np.array([0.0, 0.0, FINGER_SIZE_M[2] + WRIST_SIZE_M[2] / 2, 1.0])
        self.wrist.obj2world = make_pose(ee2base[:3, :3], wrist_centre[:3])
        top = wrist_centre[:3] + np.array([0.0, 0.0, WRIST_SIZE_M[2] / 2])
        length = np.linalg.norm(top - SHOULDER_M)
        self.link.face_corners_obj_m = self._link_faces_unit * np.array([length, 1.0, 1.0])
        self.link.obj2world = _link_pose(SHOULDER_M, top)
        for sign, finger in zip((-1.0, 1.0), self.fingers):
            offset = np.array([0.0, sign * (gripper_width_m + FINGER_SIZE_M[1]) / 2, FINGER_SIZE_M[2] / 2])
            finger.obj2world = ee2base @ make_pose(np.eye(3), offset)
        return [self.column, self.link, self.wrist, *self.fingers]


def _ee2base(state: np.ndarray) -> np.ndarray:
    """ee2base (..., 4, 4) from states (..., 6) = x_m, y_m, z_m, wrist_yaw_rad, wrist_tilt_rad, gripper_width_m."""
    tilt = rotvec_to_matrix(np.asarray(state[..., 4])[..., None] * TILT_AXIS)
    return make_pose(tilt @ rot_z(state[..., 3]), state[..., :3])


def _script(rng: np.random.Generator, n_frames: int, fps: float, blocks: list[dict],
            plan: dict[str, float] | None = None):
    """Pick-and-place cycles until n_frames; returns states (n, 6) and block poses (n, n_blocks, 4, 4).

    The sizes of the first two cycles come from ``plan`` (quantiles by name, :data:`PLANNED_SIZES`)
    where it has them, the rest from ``rng``."""
    plan = dict(plan or {})

    def quantile(name: str) -> float:
        return plan.pop(name) if name in plan else float(rng.uniform())

    k = int(rng.integers(len(blocks)))
    width = blocks[k]["size_m"] + log_uniform(*GRIPPER_STROKE_M, quantile("stroke_0"))
    state = np.array([rng.uniform(0.32, 0.4), rng.uniform(-0.1, 0.1), 0.25, 0.0, 0.0, width])
    block2base = np.array([make_pose(rot_z(b["yaw_rad"]), (*b["xy_m"], b["size_m"] / 2)) for b in blocks])
    states, poses = [state[None]], [block2base[None]]
    held, held_in_ee = -1, None

    def go(target: np.ndarray, duration_s: float) -> None:
        nonlocal state
        n = max(2, int(round(duration_s * fps)))
        seg = ramp(state, target, n)
        seg_poses = np.repeat(block2base[None], n, axis=0)
        if held >= 0:
            seg_poses[:, held] = _ee2base(seg) @ held_in_ee
            block2base[held] = seg_poses[-1, held]
        states.append(seg)
        poses.append(seg_poses)
        state = target.copy()

    def move(x, y, z, yaw=None) -> None:
        yaw = state[3] if yaw is None else yaw
        target = np.array([x, y, z, yaw, state[4], state[5]])
        distance = np.linalg.norm(target[:3] - state[:3])
        go(target, max(distance / rng.uniform(*EE_SPEED_M_S), abs(yaw - state[3]) / np.deg2rad(60), MIN_MOVE_S))

    def grip(width_m: float) -> None:
        go(np.array([*state[:5], width_m]), rng.uniform(*GRIP_S))

    def tilt(names: tuple[str, str]) -> None:  # out and back one way, then the other: both ways twice
        depth_m = (state[:3] - CAM2BASE[:3, 3]) @ TILT_AXIS
        lo = max(TILT_RAD[0], TILT_MIN_ARC_PX * depth_m / (REFERENCE_FX_PX * TILT_ARC_RADIUS_M))
        sign = rng.choice([-1.0, 1.0])
        for name in names:
            angle = sign * log_uniform(min(lo, TILT_RAD[1] / 1.5), TILT_RAD[1], quantile(name))
            for target in (angle, 0.0):
                go(np.array([*state[:4], target, state[5]]), max(abs(target - state[4]) / TILT_RATE_RAD_S, MIN_MOVE_S))
            sign = -sign

    def hover(size_m: float, name: str, travel_m: tuple[float, float] = TRAVEL_M) -> float:
        return size_m / 2 + log_uniform(*travel_m, quantile(name))

    cycle, home = 0, None
    while sum(len(s) for s in states) < n_frames:
        away = cycle % 2 == 0
        if away:  # the first block (from k on) with a free place
            for j in [(k + i) % len(blocks) for i in range(len(blocks))]:
                place = _place_away(rng, block2base, j, quantile(f"lateral_{cycle}"), quantile(f"depth_{cycle}"))
                if place is not None:
                    k = j
                    break
        size = blocks[k]["size_m"]
        bx, by = block2base[k][:2, 3]
        if away:
            home = np.array([bx, by])
            px, py = place if place is not None else (bx, by)
        else:
            px, py = _place_back(rng, block2base, k, home)
        block_yaw = np.arctan2(block2base[k][1, 0], block2base[k][0, 0])
        # Fingers close on a pair of faces: the block yaw plus a multiple of 90 deg near the wrist's.
        grasp_yaw = block_yaw + np.pi / 2 * np.round((state[3] - block_yaw) / (np.pi / 2))
        grasp_yaw = float(np.clip(grasp_yaw, -np.pi / 2, np.pi / 2))
        move(bx, by, hover(size, f"descend_{cycle}"), grasp_yaw)  # approach
        move(bx, by, size / 2)  # descend
        grip(size)  # close
        held, held_in_ee = k, invert(_ee2base(state)) @ block2base[k]
        carry_z = hover(size, f"lift_{cycle}", SHOW_TRAVEL_M if away else TRAVEL_M)
        move(bx, by, carry_z)  # lift
        move(bx, py, carry_z)  # sideways
        if away:  # toward the camera, show the wrist turn, back away
            move(max(rng.uniform(*SHOW_X_M), bx + DEPTH_LEG_M[0]), py, carry_z)
            tilt((f"tilt_{cycle}a", f"tilt_{cycle}b"))
        move(px, py, carry_z)
        carry_yaw = float(np.clip(grasp_yaw + np.deg2rad(rng.uniform(-25, 25)), -np.pi / 2, np.pi / 2))
        move(px, py, size / 2, carry_yaw)  # place (turning the block a little)
        held = -1
        other = blocks[(k + 1) % len(blocks)]["size_m"] if not away else size
        grip(other + log_uniform(*GRIPPER_STROKE_M, quantile(f"stroke_{cycle + 1}")))  # open (for the next pick)
        move(px, py, hover(size, f"retreat_{cycle}"))  # retreat
        cycle += 1
        if cycle % 2 == 0:
            k = (k + 1) % len(blocks)
    return np.concatenate(states)[:n_frames], np.concatenate(poses)[:n_frames]


def _free(block2base: np.ndarray, k: int, xy_m: np.ndarray) -> bool:
    """Whether block k may be put down at ``xy_m``: in the workspace and clear of the other blocks."""
    others = np.delete(block2base[:, :2, 3], k, axis=0)
    return _in_workspace(xy_m) and bool(np.all(np.linalg.norm(others - xy_m, axis=1) > BLOCK_GAP_M))


def _place_away(rng: np.random.Generator, block2base: np.ndarray, k: int, q_lateral: float, q_depth: float
                ) -> tuple[float, float] | None:
    """Where the away cycle puts block k down: after a sideways leg of 6-36 cm (to a y from which
    the show spot is in view) and a depth leg of 7-40 cm back from the show spot, first at the
    quantiles given, then at random ones; None when 60 draws find no free spot."""
    bx, by = block2base[k][:2, 3]
    for attempt in range(60):
        if attempt:
            q_lateral, q_depth = rng.uniform(), rng.uniform()
        lateral, depth = log_uniform(*LATERAL_LEG_M, q_lateral), log_uniform(*DEPTH_LEG_M, q_depth)
        py = float(np.clip(by + rng.choice([-1.0, 1.0]) * lateral, -SHOW_HALF_Y_M, SHOW_HALF_Y_M))
        px = float(SHOW_X_M[0] - depth)
        if abs(py - by) >= LATERAL_LEG_M[0] and _free(block2base, k, np.array([px, py])):
            return px, py
    return None


def _place_back(rng: np.random.Generator, block2base: np.ndarray, k: int, home: np.ndarray) -> tuple[float, float]:
    """Where the back cycle puts block k down: towards ``home`` (its spot before the away cycle),
    each leg 80-120 % of the way there if that spot is free, else exactly home."""
    start = block2base[k][:2, 3]
    back = start + (home - start) * rng.uniform(0.8, 1.2, size=2)
    if _free(block2base, k, back):
        return float(back[0]), float(back[1])
    return float(home[0]), float(home[1])


def _in_workspace(xy_m: np.ndarray) -> bool:
    half_y_m = 0.55 * (CAM2BASE[0, 3] - xy_m[0]) - 0.05
    return bool(WORKSPACE_X_M[0] <= xy_m[0] <= WORKSPACE_X_M[1] and abs(xy_m[1]) <= half_y_m)


def _place_blocks(rng: np.random.Generator) -> list[dict]:
    blocks: list[dict] = []
    for colour in rng.permutation(len(BLOCK_COLOURS_RGB))[:2]:
        size = rng.uniform(*BLOCK_SIZE_M)
        for _attempt in range(100):
            xy = rng.uniform([WORKSPACE_X_M[0], -0.4], [WORKSPACE_X_M[1], 0.4])
            if _in_workspace(xy) and all(np.linalg.norm(xy - b["xy_m"]) > BLOCK_GAP_M + 0.02 for b in blocks):
                break
        blocks.append({"size_m": size, "xy_m": xy, "yaw_rad": rng.uniform(-0.6, 0.6), "rgb": BLOCK_COLOURS_RGB[colour]})
    return blocks


def _features(config) -> dict:
    h, w = config.height_px, config.width_px
    scalar = lambda dtype: {"dtype": dtype, "shape": [1], "names": None}  # noqa: E731
    return {
        "observation.state": {"dtype": "float32", "shape": [7], "names": STATE_NAMES},
        VIDEO_KEY: {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.fps": float(config.fps),
                "video.height": h,
                "video.width": w,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.channels": 3,
                "has_audio": False,
            },
        },
        "timestamp": scalar("float32"),
        "frame_index": scalar("int64"),
        "episode_index": scalar("int64"),
        "index": scalar("int64"),
        "task_index": scalar("int64"),
    }


def write_manipulation(root: pathlib.Path, config) -> list[pathlib.Path]:
    """Write the single LeRobot v3.0 dataset under ``root/manipulation``; returns [dataset dir]."""
    dataset = pathlib.Path(root) / "manipulation" / DATASET_NAME
    for sub in ("meta/episodes/chunk-000", "data/chunk-000", f"videos/{VIDEO_KEY}/chunk-000"):
        (dataset / sub).mkdir(parents=True, exist_ok=True)
    width, height, fps = config.width_px, config.height_px, config.fps
    K = intrinsics_matrix(width, height)
    base2cam = invert(CAM2BASE)

    scene_rng = np.random.default_rng([config.seed, 2])
    pedestal_texture = texture_for_size(scene_rng, (0.16, 0.06), PART_TEXELS_PER_M, (90, 90, 100))
    pedestal = box_solid((0.16, 0.16, 0.06), pedestal_texture, make_pose(np.eye(3), (0, 0, 0.03)))
    arm = _Arm(scene_rng)  # one robot, many scenes

    def scene(e: int) -> list[Solid]:
        """Episode ``e``'s own room and table (textures and table tone), so that scenes can be split."""
        rng = np.random.default_rng([config.seed, 2, e, 1])
        room = box_solid((6.0, 6.0, 3.0), [texture_for_size(rng, (6.0, 3.0), 40.0) for _ in range(6)],
                         make_pose(np.eye(3), (0.0, 0.0, 0.75)), inside=True)  # fmt: skip
        tone = TABLE_TONES_RGB[int(rng.integers(len(TABLE_TONES_RGB)))]
        table = box_solid((1.3, 1.5, 0.75), texture_for_size(rng, (1.5, 1.3), 220.0, tone, max_px=384),
                          make_pose(np.eye(3), (0.35, 0.0, -0.375)))  # fmt: skip
        return [room, table]

    states, episode_index, frame_index = [], [], []
    with Mp4Writer(dataset / f"videos/{VIDEO_KEY}/chunk-000/file-000.mp4", fps, width, height) as writer:
        for e in range(config.episodes_per_domain):
            background = scene(e)
            rng = np.random.default_rng([config.seed, 2, e])
            blocks = _place_blocks(rng)
            block_solids = [
                box_solid((b["size_m"],) * 3, texture_for_size(rng, (b["size_m"],) * 2, PART_TEXELS_PER_M, b["rgb"]))
                for b in blocks
            ]
            plan = episode_quantiles((config.seed, 2, 2), e, PLANNED_SIZES, lambda name, q: 0.0, 1.0)
            ee_states, block2base = _script(rng, config.frames_per_episode, fps, blocks, plan)
            for i, (s, poses) in enumerate(zip(ee_states, block2base)):
                for solid, pose in zip(block_solids, poses):
                    solid.obj2world = pose
                parts = arm.pose(_ee2base(s), s[5])
                writer.write(render(base2cam, K, width, height, background, [pedestal, *block_solids, *parts]), keyframe=i == 0)
            n = len(ee_states)
            rotvec = matrix_to_rotvec(_ee2base(ee_states)[:, :3, :3])
            states.append(np.column_stack([ee_states[:, :3], rotvec, ee_states[:, 5]]))
            episode_index.append(np.full(n, e))
            frame_index.append(np.arange(n))

    lengths = [len(s) for s in states]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    total = int(sum(lengths))
    frame_index_all = np.concatenate(frame_index).astype(np.int64)
    data = pa.table(
        {
            "observation.state": pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate(states).astype(np.float32).ravel()), 7),
            "timestamp": pa.array((frame_index_all / fps).astype(np.float32)),
            "frame_index": pa.array(frame_index_all),
            "episode_index": pa.array(np.concatenate(episode_index).astype(np.int64)),
            "index": pa.array(np.arange(total, dtype=np.int64)),
            "task_index": pa.array(np.zeros(total, np.int64)),
        }
    )
    pq.write_table(data, dataset / "data/chunk-000/file-000.parquet")
    pq.write_table(pa.table({"task_index": pa.array([0], pa.int64()), "task": pa.array([TASK])}), dataset / "meta/tasks.parquet")
    n_ep = len(lengths)
    video = f"videos/{VIDEO_KEY}"
    episodes = pa.table(
        {
            "episode_index": pa.array(np.arange(n_ep, dtype=np.int64)),
            "length": pa.array(np.asarray(lengths, np.int64)),
            "tasks": pa.array([[TASK]] * n_ep, pa.list_(pa.string())),
            "data/chunk_index": pa.array(np.zeros(n_ep, np.int64)),
            "data/file_index": pa.array(np.zeros(n_ep, np.int64)),
            "dataset_from_index": pa.array(starts),
            "dataset_to_index": pa.array(starts + np.asarray(lengths, np.int64)),
            f"{video}/chunk_index": pa.array(np.zeros(n_ep, np.int64)),
            f"{video}/file_index": pa.array(np.zeros(n_ep, np.int64)),
            f"{video}/from_timestamp": pa.array(starts / fps),
            f"{video}/to_timestamp": pa.array((starts + np.asarray(lengths)) / fps),
            SCENE_COLUMN: pa.array([f"{DATASET_NAME}_scene_{e:03d}" for e in range(n_ep)]),
        }
    )
    pq.write_table(episodes, dataset / "meta/episodes/chunk-000/file-000.parquet")

    k = intrinsics(width, height)
    info = {
        "codebase_version": "v3.0",
        "robot_type": "remot_synthetic_arm",
        "fps": int(round(fps)),
        "total_episodes": n_ep,
        "total_frames": total,
        "total_tasks": 1,
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 500,
        "splits": {"train": f"0:{n_ep}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": _features(config),
        "remot": {
            "state_frame": "robot_base",
            "cameras": {VIDEO_KEY: {"cam2base": CAM2BASE.tolist(), **k}},
        },
    }
    (dataset / "meta/info.json").write_text(json.dumps(info, indent=2) + "\n")
    return [dataset]
