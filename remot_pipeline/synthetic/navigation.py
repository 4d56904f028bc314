"""Navigation domain: a camera moving and turning inside a textured room (TUM RGB-D layout).

Per episode ``root/navigation/nav_XXX/``: ``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw``,
camera-to-world, metres, quat_xyzw), ``rgb.txt`` (``timestamp rgb.mp4``, i-th line = i-th decoded
frame), ``rgb.mp4`` and ``camera.json`` (pinhole intrinsics in pixels).

Motion is a shuffled "bag" of smooth segments (:data:`SEGMENTS`), one thing at a time: a yaw left
and a yaw right (one leg each); out-and-back excursions of pitch and roll (the return leg 85-100 %
of the outbound one, |pitch|, |roll| <= 50 deg); and two-leg moves of dolly (along the heading),
strafe (sideways) and vertical (camera height 0.35-2.8 m), whose second leg goes the other way
with its own length; plus a hold. So every bag shows both directions of every attribute.

Sizes spread log-uniformly over most of each labelled band: turns of 14-48 deg, dolly and strafe
legs of 0.7-2.8 m, vertical legs of 0.7-2.4 m (shorter where the camera region ends; the rooms
are 8.4-11.2 x 6.8-9.2 m, so that it rarely does). A leg lasts ``max(0.6 s, size / speed)``
(x 1-1.15), at 36 deg/s for a turn (peak 1.875x: 4.5 deg a frame) and 1.2 m/s for a translation,
so a pair of frames up to 2 s apart spans (almost) a whole leg. A bag's sizes are quantiles of
those ranges: an episode's first bag takes them from :func:`~.geometry.episode_quantiles` (each
leg sized once in every eighth of its range over each block of 8 episodes; the two yaws, and the
two legs of a translation, one small and one large), later bags from
:func:`~.geometry.plan_quantiles`; either way a bag mixes small and large moves and fits
:data:`BAG_BUDGET_S` seconds, so an episode at least that long (the default, 240 frames at 15 fps,
is 16 s) shows every labelled direction of the navigation domain; longer episodes start new bags.
The camera stays in a central region at least 1.5 m from every wall; boxes and panels stand in a
band along the walls, giving parallax.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from remot_pipeline.core.se3 import invert, matrix_to_quat_xyzw

from .geometry import (bag_order, cam2world_from_ypr, episode_quantiles, intrinsics, intrinsics_matrix, log_uniform,
                       make_pose, plan_quantiles, ramp, rot_z)
from .render import Solid, box_solid, render, texture_for_size
from .video import Mp4Writer

TIMESTAMP_BASE_S = 1_700_000_000.0
TIMESTAMP_EPISODE_STRIDE_S = 1000.0
WALL_CLEARANCE_M = 1.5  # camera region is the room shrunk by this on every side
ROOM_HALF_M = ((4.2, 5.6), (3.4, 4.6))  # the room's half extents (x, y) are drawn from these
ROOM_HEIGHT_M = (3.3, 3.7)
CAMERA_Z_RANGE_M = (0.35, 2.8)
PITCH_LIMIT_RAD = np.deg2rad(50.0)
ROLL_LIMIT_RAD = np.deg2rad(50.0)
TEXELS_PER_M = 56.0
MIN_LEG_S = 0.6
LEG_STRETCH = (1.0, 1.15)  # a leg's duration: max(MIN_LEG_S, size / speed) times this
HOLD_S = (0.4, 0.8)
RETURN_FRACTION = (0.85, 1.0)  # a pitch / roll excursion's return leg, relative to its outbound leg
TURN_RAD = np.deg2rad((14.0, 48.0))  # a yaw, or a pitch / roll excursion's outbound leg
TURN_RATE_RAD_S = np.deg2rad(36.0)
MOVE_M = (0.7, 2.8)  # one leg of a dolly or a strafe
VERTICAL_M = (0.7, 2.4)  # one leg of a vertical move
SPEED_M_S = 1.2
# Excursions: (state index, lower limit, upper limit) of the angle.
EXCURSIONS = {"pitch": (4, -PITCH_LIMIT_RAD, PITCH_LIMIT_RAD), "roll": (5, -ROLL_LIMIT_RAD, ROLL_LIMIT_RAD)}

# state vector: x_m, y_m, z_m, yaw_rad, pitch_rad, roll_rad
# One bag of segments, shuffled; each covers both directions of its attribute (the yaws together).
SEGMENTS = ("yaw_left", "yaw_right", "pitch", "roll", "dolly", "strafe", "vertical", "hold")
FIRST_SEGMENTS = ("yaw_left", "yaw_right")  # the first bag shows these early (a short episode shows them)
#: The legs whose sizes a bag plans (a pitch or roll's return follows its outbound leg).
PLANNED_LEGS = ("yaw_left", "yaw_right", "pitch", "roll", "dolly_1", "dolly_2", "strafe_1", "strafe_2",
                "vertical_1", "vertical_2")
#: Legs of one attribute in a bag: an episode's first bag sizes them one small, one large.
PLAN_GROUPS = [("yaw_left", "yaw_right"), ("pitch",), ("roll",), ("dolly_1", "dolly_2"), ("strafe_1", "strafe_2"),
               ("vertical_1", "vertical_2")]
#: A bag's planned legs and its hold last at most this long (frame rounding adds < 0.5 s).
BAG_BUDGET_S = 15.2


def _leg_s(size: float, speed: float) -> float:
    """The longest duration of a leg of this size (before the random stretch)."""
    return max(MIN_LEG_S, size / speed) * LEG_STRETCH[1]


def _planned_size(name: str, q: float) -> float:
    kind = name.split("_")[0]
    if kind in ("yaw", "pitch", "roll"):
        return float(log_uniform(*TURN_RAD, q))
    return float(log_uniform(*(VERTICAL_M if kind == "vertical" else MOVE_M), q))


def _planned_duration_s(name: str, q: float) -> float:
    size = _planned_size(name, q)
    kind = name.split("_")[0]
    if kind in ("pitch", "roll"):  # out and back
        return 2 * _leg_s(size, TURN_RATE_RAD_S)
    return _leg_s(size, TURN_RATE_RAD_S if kind == "yaw" else SPEED_M_S)


def _build_room(rng: np.random.Generator) -> tuple[list[Solid], list[Solid], np.ndarray]:
    """Room shell, interior boxes/panels, and the camera region half extents (2,) in metres."""
    half = np.array([rng.uniform(*ROOM_HALF_M[0]), rng.uniform(*ROOM_HALF_M[1])])
    height = rng.uniform(*ROOM_HEIGHT_M)
    size = (2 * half[0], 2 * half[1], height)
    face_sizes = [(size[1], size[2])] * 2 + [(size[0], size[2])] * 2 + [(size[0], size[1])] * 2
    shell_textures = [texture_for_size(rng, fs, TEXELS_PER_M) for fs in face_sizes]  # one per wall
    shell = box_solid(size, shell_textures, make_pose(np.eye(3), (0.0, 0.0, height / 2)), inside=True)

    objects: list[Solid] = []
    placed: list[tuple[np.ndarray, float]] = []
    for _ in range(int(rng.integers(5, 9))):
        kind = rng.choice(["crate", "pillar", "panel"])
        if kind == "crate":
            size_m = rng.uniform([0.4, 0.4, 0.4], [1.0, 1.0, 1.1])
        elif kind == "pillar":
            size_m = np.array([rng.uniform(0.25, 0.4), rng.uniform(0.25, 0.4), height])
        else:
            size_m = np.array([0.06, rng.uniform(0.8, 1.6), rng.uniform(0.6, 1.4)])
        for _attempt in range(30):
            # A band along a random wall: centre 0.2..1.0 m (plus half the box) from the wall.
            wall = int(rng.integers(4))
            axis, sign = wall // 2, (-1.0, 1.0)[wall % 2]
            yaw = (0.0 if axis == 0 else np.pi / 2) + rng.uniform(-0.3, 0.3)
            radius = 0.5 * np.hypot(size_m[0], size_m[1])
            centre = np.zeros(2)
            centre[axis] = sign * (half[axis] - rng.uniform(0.2, 0.9) - radius)
            centre[1 - axis] = rng.uniform(-half[1 - axis] + radius + 0.1, half[1 - axis] - radius - 0.1)
            inner = half - WALL_CLEARANCE_M
            clear_of_camera = np.any(np.abs(centre) - radius > inner + 0.4)
            if clear_of_camera and all(np.linalg.norm(centre - c) > radius + r for c, r in placed):
                break
        else:
            continue
        placed.append((centre, radius))
        z = height - size_m[2] / 2 if (kind == "panel" and rng.random() < 0.3) else size_m[2] / 2
        tex = texture_for_size(rng, (max(size_m[0], size_m[1]), size_m[2]), TEXELS_PER_M)
        objects.append(box_solid(size_m, tex, make_pose(rot_z(yaw), (centre[0], centre[1], z))))
    return [shell], objects, half - WALL_CLEARANCE_M


def _camera_states(rng: np.random.Generator, n_frames: int, fps: float, region_half_m: np.ndarray,
                   first_plan: dict[str, float] | None = None) -> np.ndarray:
    """Per-frame camera states (n_frames, 6): x_m, y_m, z_m, yaw_rad, pitch_rad, roll_rad. The
    first bag's leg sizes come from ``first_plan`` (quantiles, :func:`_plan`) when given."""
    state = np.array(
        [
            rng.uniform(-region_half_m[0], region_half_m[0]) * 0.4,
            rng.uniform(-region_half_m[1], region_half_m[1]) * 0.4,
            rng.uniform(1.2, 1.7),
            rng.uniform(-np.pi, np.pi),
            np.deg2rad(rng.uniform(-5, 5)),
            0.0,
        ]
    )
    frames = [state[None]]
    total = 1
    bag: list[str] = []
    while total < n_frames:
        if not bag:
            bag = bag_order(rng, SEGMENTS, FIRST_SEGMENTS if total == 1 else ())[::-1]
            plan = first_plan or plan_quantiles(rng, list(PLANNED_LEGS), _planned_duration_s, BAG_BUDGET_S - HOLD_S[1])
            first_plan = None
        for end, duration_s in _segment(rng, bag.pop(), state, region_half_m, plan):
            n = max(2, int(round(duration_s * fps)))
            frames.append(ramp(state, end, n))
            state = end
            total += n
    return np.concatenate(frames)[:n_frames]


def _plan(seed: int, episode_index: int) -> dict[str, float]:
    """The first bag's leg-size quantiles, stratified across the legs and across episodes."""
    return episode_quantiles((seed, 1, 1), episode_index, PLAN_GROUPS, _planned_duration_s, BAG_BUDGET_S - HOLD_S[1])


def _duration_s(rng, size: float, speed: float) -> float:
    return max(MIN_LEG_S, size / speed) * rng.uniform(*LEG_STRETCH)


def _segment(rng, kind: str, state: np.ndarray, region_half_m: np.ndarray, plan: dict[str, float]
             ) -> list[tuple[np.ndarray, float]]:
    """The legs ``[(end state, duration_s), ...]`` of one segment starting at ``state``."""
    if kind == "hold":
        return [(state.copy(), rng.uniform(*HOLD_S))]
    if kind.startswith("yaw"):
        size = _planned_size(kind, plan[kind])
        end = state.copy()
        end[3] += (1.0 if kind == "yaw_left" else -1.0) * size
        return [(end, _duration_s(rng, size, TURN_RATE_RAD_S))]
    if kind in EXCURSIONS:
        index, lower, upper = EXCURSIONS[kind]
        size = _planned_size(kind, plan[kind])
        room = {1.0: upper - state[index], -1.0: state[index] - lower}
        signs = [sign for sign in (1.0, -1.0) if room[sign] >= size]
        sign = signs[int(rng.integers(len(signs)))] if signs else max(room, key=room.get)
        size = min(size, room[sign])
        out = state.copy()
        out[index] += sign * size
        back = state + (out - state) * (1.0 - rng.uniform(*RETURN_FRACTION))
        return [(out, _duration_s(rng, size, TURN_RATE_RAD_S)),
                (back, _duration_s(rng, size * RETURN_FRACTION[1], TURN_RATE_RAD_S))]
    # dolly (along the heading), strafe (to its left) or vertical: two legs, the second the other way
    if kind == "vertical":
        direction = np.array([0.0, 0.0, 1.0])
    else:
        heading = state[3] + (np.pi / 2 if kind == "strafe" else 0.0)
        direction = np.array([np.cos(heading), np.sin(heading), 0.0])
    first, second = _planned_size(f"{kind}_1", plan[f"{kind}_1"]), _planned_size(f"{kind}_2", plan[f"{kind}_2"])
    room = {sign: _room(state[:3], sign * direction, region_half_m) for sign in (1.0, -1.0)}
    signs = [sign for sign in (1.0, -1.0) if room[sign] >= first and room[-sign] + first >= second]
    if signs:
        sign = signs[int(rng.integers(len(signs)))]
    else:  # the roomier way, as far as there is room
        sign = max((1.0, -1.0), key=lambda g: min(first, room[g]) + min(second, room[-g] + min(first, room[g])))
        first = min(first, room[sign])
        second = min(second, room[-sign] + first)
    out = state.copy()
    out[:3] += sign * first * direction
    back = out.copy()
    back[:3] -= sign * second * direction
    return [(out, _duration_s(rng, first, SPEED_M_S)), (back, _duration_s(rng, second, SPEED_M_S))]


def _room(start_m: np.ndarray, direction: np.ndarray, region_half_m: np.ndarray) -> float:
    """How far (metres) the camera can go from ``start_m`` along the unit ``direction`` inside the
    camera region (|x|, |y| within ``region_half_m``, z within :data:`CAMERA_Z_RANGE_M`)."""
    lower = np.array([-region_half_m[0], -region_half_m[1], CAMERA_Z_RANGE_M[0]])
    upper = np.array([region_half_m[0], region_half_m[1], CAMERA_Z_RANGE_M[1]])
    t = np.inf
    for p, d, lo, hi in zip(start_m, direction, lower, upper):
        if d > 1e-12:
            t = min(t, (hi - p) / d)
        elif d < -1e-12:
            t = min(t, (lo - p) / d)
    return max(0.0, float(t))


def write_navigation_episode(episode_dir: pathlib.Path, rng: np.random.Generator, episode_index: int, config) -> int:
    """Render and write one episode; returns the number of frames."""
    episode_dir.mkdir(parents=True, exist_ok=True)
    width, height, fps = config.width_px, config.height_px, config.fps
    background, objects, region = _build_room(rng)
    states = _camera_states(rng, config.frames_per_episode, fps, region, _plan(config.seed, episode_index))
    cam2world = cam2world_from_ypr(states[:, :3], states[:, 3], states[:, 4], states[:, 5])
    world2cam = invert(cam2world)
    K = intrinsics_matrix(width, height)
    with Mp4Writer(episode_dir / "rgb.mp4", fps, width, height) as writer:
        for pose in world2cam:
            writer.write(render(pose, K, width, height, background, objects))

    timestamps_s = TIMESTAMP_BASE_S + episode_index * TIMESTAMP_EPISODE_STRIDE_S + np.arange(len(states)) / fps
    quat_xyzw = matrix_to_quat_xyzw(cam2world[:, :3, :3])
    gt = [
        "# ground truth trajectory (remot synthetic world)",
        "# camera-to-world pose: world frame z-up (metres), camera axes OpenCV (x right, y down, z forward)",
        "# timestamp tx ty tz qx qy qz qw",
    ]
    gt += [
        f"{t:.6f} {p[0]:.9f} {p[1]:.9f} {p[2]:.9f} {q[0]:.9f} {q[1]:.9f} {q[2]:.9f} {q[3]:.9f}"
        for t, p, q in zip(timestamps_s, cam2world[:, :3, 3], quat_xyzw)
    ]
    (episode_dir / "groundtruth.txt").write_text("\n".join(gt) + "\n")
    rgb = ["# color images", "# file: 'rgb.mp4' (the i-th line below is the i-th decoded frame)", "# timestamp filename"]
    rgb += [f"{t:.6f} rgb.mp4" for t in timestamps_s]
    (episode_dir / "rgb.txt").write_text("\n".join(rgb) + "\n")
    camera = {**intrinsics(width, height), "width": width, "height": height}
    (episode_dir / "camera.json").write_text(json.dumps(camera, indent=2) + "\n")
    return len(states)


def write_navigation(root: pathlib.Path, config) -> list[pathlib.Path]:
    """Write ``config.episodes_per_domain`` episodes under ``root/navigation``; returns their dirs."""
    dirs = []
    for e in range(config.episodes_per_domain):
        rng = np.random.default_rng([config.seed, 1, e])
        episode_dir = pathlib.Path(root) / "navigation" / f"nav_{e:03d}"
        write_navigation_episode(episode_dir, rng, e, config)
        dirs.append(episode_dir)
    return dirs
