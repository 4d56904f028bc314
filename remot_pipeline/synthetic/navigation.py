"""Navigation domain: a camera moving and turning inside a textured room (TUM RGB-D layout).

Per episode ``root/navigation/nav_XXX/``: ``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw``,
camera-to-world, metres, quat_xyzw), ``rgb.txt`` (``timestamp rgb.mp4``, i-th line = i-th decoded
frame), ``rgb.mp4`` and ``camera.json`` (pinhole intrinsics in pixels).

Motion is a shuffled "bag" of smooth primitives, each 0.8-2 s: yaw left / right (15-40 deg/s),
pitch up / down (|pitch| <= 25 deg), roll (|roll| <= 10 deg), forward / backward, strafe
left / right (0.3-0.8 m/s), up / down, and holds. The camera stays in a central region at least
1.5 m from every wall; boxes and panels stand in a band along the walls, giving parallax.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from remot_pipeline.core.se3 import invert, matrix_to_quat_xyzw

from .geometry import cam2world_from_ypr, intrinsics, intrinsics_matrix, make_pose, ramp, rot_z
from .render import Solid, box_solid, render, texture_for_size
from .video import Mp4Writer

TIMESTAMP_BASE_S = 1_700_000_000.0
TIMESTAMP_EPISODE_STRIDE_S = 1000.0
WALL_CLEARANCE_M = 1.5  # camera region is the room shrunk by this on every side
CAMERA_Z_RANGE_M = (1.0, 1.9)
PITCH_LIMIT_RAD = np.deg2rad(25.0)
ROLL_LIMIT_RAD = np.deg2rad(10.0)
TEXELS_PER_M = 56.0

# state vector: x_m, y_m, z_m, yaw_rad, pitch_rad, roll_rad
PRIMITIVES = (
    "yaw_left", "yaw_right", "yaw_left", "yaw_right", "pitch_up", "pitch_down", "roll_left",
    "roll_right", "forward", "backward", "strafe_left", "strafe_right", "up", "down", "hold",
)  # fmt: skip


def _build_room(rng: np.random.Generator) -> tuple[list[Solid], list[Solid], np.ndarray]:
    """Room shell, interior boxes/panels, and the camera region half extents (2,) in metres."""
    half = np.array([rng.uniform(3.6, 5.0), rng.uniform(2.8, 4.0)])
    height = rng.uniform(2.6, 3.2)
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


def _camera_states(rng: np.random.Generator, n_frames: int, fps: float, region_half_m: np.ndarray) -> np.ndarray:
    """Per-frame camera states (n_frames, 6): x_m, y_m, z_m, yaw_rad, pitch_rad, roll_rad."""
    state = np.array(
        [
            rng.uniform(-region_half_m[0], region_half_m[0]) * 0.5,
            rng.uniform(-region_half_m[1], region_half_m[1]) * 0.5,
            rng.uniform(1.2, 1.6),
            rng.uniform(-np.pi, np.pi),
            np.deg2rad(rng.uniform(-5, 5)),
            0.0,
        ]
    )
    frames = [state]
    total = 1
    bag: list[str] = []
    while total < n_frames:
        if not bag:
            bag = list(rng.permutation(PRIMITIVES))
        kind = bag.pop()
        duration_s = rng.uniform(0.8, 2.0)
        end = _primitive_end(rng, kind, state, duration_s, region_half_m)
        n = max(2, int(round(duration_s * fps)))
        frames.extend(ramp(state, end, n))
        state = end
        total += n
    return np.asarray(frames[:n_frames])


def _primitive_end(rng, kind: str, state: np.ndarray, duration_s: float, region_half_m: np.ndarray) -> np.ndarray:
    """End state of one motion primitive starting at ``state``; reversed if it would leave bounds."""
    end = state.copy()
    if kind == "hold":
        return end
    sign = -1.0 if kind in ("yaw_right", "pitch_down", "roll_right", "backward", "strafe_right", "down") else 1.0
    if kind.startswith("yaw"):
        end[3] += sign * np.deg2rad(rng.uniform(15, 40)) * duration_s
        return end
    if kind.startswith(("pitch", "roll")):
        index, limit, rate = (4, PITCH_LIMIT_RAD, (10, 25)) if kind.startswith("pitch") else (5, ROLL_LIMIT_RAD, (5, 15))
        delta = min(np.deg2rad(rng.uniform(*rate)) * duration_s, limit)
        value = state[index] + sign * delta
        if abs(value) > limit:
            value = state[index] - sign * delta  # turn the other way instead
        end[index] = np.clip(value, -limit, limit)
        return end
    if kind in ("up", "down"):
        delta = sign * rng.uniform(0.15, 0.3) * duration_s
        z = state[2] + delta if CAMERA_Z_RANGE_M[0] <= state[2] + delta <= CAMERA_Z_RANGE_M[1] else state[2] - delta
        end[2] = np.clip(z, *CAMERA_Z_RANGE_M)
        return end
    # Horizontal translation along the camera heading (forward/backward) or its left (strafe).
    heading = state[3] + (np.pi / 2 if kind.startswith("strafe") else 0.0)
    step = sign * rng.uniform(0.3, 0.8) * duration_s * np.array([np.cos(heading), np.sin(heading)])
    for candidate in (step, -step):
        if np.all(np.abs(state[:2] + candidate) <= region_half_m):
            end[:2] = state[:2] + candidate
            return end
    # Neither direction fits whole: go as far as possible the better way (the region is convex).
    best = max((step, -step), key=lambda s: _fraction_inside(state[:2], s, region_half_m))
    end[:2] = state[:2] + _fraction_inside(state[:2], best, region_half_m) * best
    return end


def _fraction_inside(start: np.ndarray, step: np.ndarray, region_half_m: np.ndarray) -> float:
    """Largest f in [0, 1] with start + f * step inside the box |p| <= region_half_m."""
    f = 1.0
    for p, d, h in zip(start, step, region_half_m):
        if d > 1e-12:
            f = min(f, (h - p) / d)
        elif d < -1e-12:
            f = min(f, (-h - p) / d)
    return max(0.0, f)


def write_navigation_episode(episode_dir: pathlib.Path, rng: np.random.Generator, episode_index: int, config) -> int:
    """Render and write one episode; returns the number of frames."""
    episode_dir.mkdir(parents=True, exist_ok=True)
    width, height, fps = config.width_px, config.height_px, config.fps
    background, objects, region = _build_room(rng)
    states = _camera_states(rng, config.frames_per_episode, fps, region)
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
