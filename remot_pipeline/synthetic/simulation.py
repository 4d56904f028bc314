"""Simulation domain: coloured cubes moving on a textured floor, watched by a panning camera.

Per episode ``root/simulation/sim_XXX/``: ``video.mp4`` and ``log.jsonl`` (a header line, then one
line per frame with ``cam2world`` and every object's ``obj2world``, 4x4 row-major, metres, world
z up, OpenCV camera axes).

Episodes are a shuffled sequence of 0.8-2 s segments of three kinds: ``object`` (camera static,
one object slides left / right / toward / away relative to the camera heading at 0.2-0.8 m/s),
``pan`` (the camera yaws at 15-40 deg/s, staying within +-30 deg of its initial heading, objects
static) and ``both``; plus short holds. Objects stay in a wedge in front of the initial view.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from remot_pipeline.core.se3 import invert

from .geometry import cam2world_from_ypr, intrinsics, intrinsics_matrix, make_pose, ramp, rot_z
from .render import Solid, box_solid, render, texture_for_size
from .video import Mp4Writer

PALETTE_RGB = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "purple": (128, 0, 128),
    "orange": (255, 165, 0),
    "cyan": (0, 255, 255),
}
# One "bag" of segments, shuffled; directions are relative to the camera's current heading.
SEGMENTS = (
    ("object", "left"), ("object", "right"), ("object", "toward"), ("object", "away"),
    ("object", "left"), ("object", "right"), ("pan", "left"), ("pan", "right"),
    ("both", None), ("both", None), ("hold", None),
)  # fmt: skip
PAN_LIMIT_RAD = np.deg2rad(30.0)
# Objects stay in a wedge in front of the camera's initial heading (forward, left), metres:
# forward in AREA_FORWARD_M and |left| <= AREA_HALF_WIDTH_PER_M * forward (about +-23 deg).
AREA_FORWARD_M = (1.9, 4.0)
AREA_HALF_WIDTH_PER_M = 0.42
TEXELS_PER_M = 48.0
CUBE_TEXELS_PER_M = 220.0


def _scene(rng: np.random.Generator) -> tuple[list[Solid], dict]:
    """Room shell (floor, backdrop walls, ceiling) and the camera's initial pose parameters."""
    size = (12.0, 12.0, 3.5)
    face_sizes = [(size[1], size[2])] * 2 + [(size[0], size[2])] * 2 + [(size[0], size[1])] * 2
    textures = [texture_for_size(rng, fs, TEXELS_PER_M, max_px=576) for fs in face_sizes]
    shell = box_solid(size, textures, make_pose(np.eye(3), (0.0, 0.0, size[2] / 2)), inside=True)
    camera = {
        "position_m": np.array([rng.uniform(-3.8, -3.2), rng.uniform(-0.4, 0.4), rng.uniform(1.3, 1.7)]),
        "yaw_rad": rng.uniform(-0.15, 0.15),
        "pitch_rad": -np.deg2rad(rng.uniform(20.0, 26.0)),
    }
    return [shell], camera


def _area_to_world(camera: dict, forward_left_m: np.ndarray) -> np.ndarray:
    """Points in the camera's initial horizontal heading frame (forward, left) -> world xy."""
    c, s = np.cos(camera["yaw_rad"]), np.sin(camera["yaw_rad"])
    f, l = forward_left_m[..., 0], forward_left_m[..., 1]
    return camera["position_m"][:2] + np.stack([c * f - s * l, s * f + c * l], axis=-1)


def _inside_area(camera: dict, xy_m: np.ndarray, half_size_m: float) -> bool:
    rel = xy_m - camera["position_m"][:2]
    c, s = np.cos(camera["yaw_rad"]), np.sin(camera["yaw_rad"])
    forward, left = c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1]
    return (
        AREA_FORWARD_M[0] + half_size_m <= forward <= AREA_FORWARD_M[1] - half_size_m
        and abs(left) <= AREA_HALF_WIDTH_PER_M * forward - half_size_m
    )


def _place_objects(rng: np.random.Generator, camera: dict) -> list[dict]:
    """2-4 cubes with distinct palette colours, non-overlapping, inside the object area."""
    names = list(rng.permutation(list(PALETTE_RGB))[: int(rng.integers(2, 5))])
    objects = []
    for i, name in enumerate(names):
        size_m = float(np.round(rng.uniform(0.25, 0.45), 3))
        for _attempt in range(100):
            forward = rng.uniform(*AREA_FORWARD_M)
            left = rng.uniform(-1.0, 1.0) * AREA_HALF_WIDTH_PER_M * forward
            xy = _area_to_world(camera, np.array([forward, left]))
            if _inside_area(camera, xy, size_m * 0.71) and all(
                np.linalg.norm(xy - o["xy_m"]) > 0.71 * (size_m + o["size_m"]) + 0.1 for o in objects
            ):
                break
        objects.append(
            {
                "object_id": f"obj{i}",
                "color_name": str(name),
                "color_rgb": list(PALETTE_RGB[str(name)]),
                "shape": "cube",
                "size_m": size_m,
                "yaw_rad": float(rng.uniform(-np.pi / 4, np.pi / 4)),
                "xy_m": xy,
            }
        )
    return objects


def _free_path(xy_m: np.ndarray, sizes_m: np.ndarray, k: int, end_m: np.ndarray, camera: dict) -> bool:
    """Whether object k can slide from ``xy_m[k]`` to ``end_m`` inside the area without touching others."""
    if not _inside_area(camera, end_m, sizes_m[k] * 0.71):
        return False
    path = xy_m[k] + np.linspace(0.0, 1.0, 9)[:, None] * (end_m - xy_m[k])  # (9, 2)
    gaps = np.linalg.norm(path[:, None, :] - xy_m[None], axis=-1) - 0.71 * (sizes_m[k] + sizes_m) - 0.05
    return bool(np.all(np.delete(gaps, k, axis=1) > 0.0))


def _object_move(rng, xy_m, sizes_m, yaw_rad: float, direction: str, distance_m: float, camera: dict):
    """(object index, end xy) for a slide in ``direction`` relative to the camera heading.

    Tries every object (random order, those near the view centre first) in the requested direction,
    then the other directions, at full and half distance; returns None when nothing can move.
    """
    heading = np.array([np.cos(yaw_rad), np.sin(yaw_rad)])
    left = np.array([-heading[1], heading[0]])
    vectors = {"left": left, "right": -left, "toward": -heading, "away": heading}
    others = [d for d in rng.permutation(list(vectors)) if d != direction]
    rel = xy_m - camera["position_m"][:2]
    off_axis_rad = np.abs(np.arctan2(rel @ left, rel @ heading))
    order = sorted(rng.permutation(len(xy_m)), key=lambda k: off_axis_rad[k] > np.deg2rad(20.0))
    for name in [direction, *others]:
        for k in order:
            for scale in (1.0, 0.5):
                target = xy_m[k] + vectors[name] * distance_m * scale
                if _free_path(xy_m, sizes_m, int(k), target, camera):
                    return int(k), target
    return None


def _timeline(rng: np.random.Generator, n_frames: int, fps: float, camera: dict, objects: list[dict]):
    """Per-frame camera yaw_rad (n,) and object xy_m (n, n_objects, 2)."""
    yaw = camera["yaw_rad"]
    xy = np.array([o["xy_m"] for o in objects])
    sizes_m = np.array([o["size_m"] for o in objects])
    yaws, xys = [np.array([yaw])], [xy[None]]
    total, bag = 1, []
    while total < n_frames:
        if not bag:
            bag = [SEGMENTS[i] for i in rng.permutation(len(SEGMENTS))]
        kind, direction = bag.pop()
        n = max(2, int(round(rng.uniform(0.8, 2.0) * fps)))
        duration_s = n / fps
        end_yaw, end_xy = yaw, xy.copy()
        if kind in ("pan", "both"):
            sign = {"left": 1.0, "right": -1.0}.get(direction, rng.choice([-1.0, 1.0]))  # left = +yaw
            delta = sign * np.deg2rad(rng.uniform(15.0, 40.0)) * duration_s
            if abs(yaw + delta - camera["yaw_rad"]) > PAN_LIMIT_RAD:
                delta = -delta
            end_yaw = camera["yaw_rad"] + np.clip(yaw + delta - camera["yaw_rad"], -PAN_LIMIT_RAD, PAN_LIMIT_RAD)
        if kind in ("object", "both"):
            direction = direction if kind == "object" else str(rng.choice(["left", "right", "toward", "away"]))
            move = _object_move(rng, xy, sizes_m, yaw, direction, rng.uniform(0.2, 0.8) * duration_s, camera)
            if move is not None:
                end_xy[move[0]] = move[1]
        yaws.append(ramp(np.array(yaw), np.array(end_yaw), n))
        xys.append(ramp(xy, end_xy, n))
        yaw, xy = end_yaw, end_xy
        total += n
    return np.concatenate(yaws)[:n_frames], np.concatenate(xys)[:n_frames]


def write_simulation_episode(episode_dir: pathlib.Path, rng: np.random.Generator, config) -> int:
    """Render and write one episode; returns the number of frames."""
    episode_dir.mkdir(parents=True, exist_ok=True)
    width, height, fps = config.width_px, config.height_px, config.fps
    background, camera = _scene(rng)
    objects = _place_objects(rng, camera)
    solids = [
        box_solid((o["size_m"],) * 3, texture_for_size(rng, (o["size_m"],) * 2, CUBE_TEXELS_PER_M, o["color_rgb"]))
        for o in objects
    ]
    yaw_rad, xy_m = _timeline(rng, config.frames_per_episode, fps, camera, objects)
    n = len(yaw_rad)
    cam2world = cam2world_from_ypr(
        np.broadcast_to(camera["position_m"], (n, 3)), yaw_rad, np.full(n, camera["pitch_rad"]), np.zeros(n)
    )
    sizes_m = np.array([o["size_m"] for o in objects])
    positions_m = np.concatenate([xy_m, np.broadcast_to(sizes_m[None, :, None] / 2, (n, len(objects), 1))], axis=-1)
    obj2world = make_pose(rot_z(np.array([o["yaw_rad"] for o in objects]))[None], positions_m)  # (n, k, 4, 4)
    K = intrinsics_matrix(width, height)
    header = {
        "type": "header",
        "format": "remot-sim-log",
        "version": 1,
        "fps": fps,
        "width": width,
        "height": height,
        "intrinsics": intrinsics(width, height),
        "video": "video.mp4",
        "world_frame": "z_up",
        "camera_axes": "opencv",
    }
    lines = [json.dumps(header)]
    world2cam = invert(cam2world)
    with Mp4Writer(episode_dir / "video.mp4", fps, width, height) as writer:
        for i in range(n):
            for solid, pose in zip(solids, obj2world[i]):
                solid.obj2world = pose
            writer.write(render(world2cam[i], K, width, height, background, solids))
            frame = {
                "type": "frame",
                "frame_index": i,
                "timestamp_s": i / fps,
                "cam2world": cam2world[i].reshape(-1).tolist(),
                "objects": [
                    {
                        "object_id": o["object_id"],
                        "color_name": o["color_name"],
                        "color_rgb": o["color_rgb"],
                        "shape": o["shape"],
                        "size_m": o["size_m"],
                        "obj2world": obj2world[i, k].reshape(-1).tolist(),
                    }
                    for k, o in enumerate(objects)
                ],
            }
            lines.append(json.dumps(frame))
    (episode_dir / "log.jsonl").write_text("\n".join(lines) + "\n")
    return n


def write_simulation(root: pathlib.Path, config) -> list[pathlib.Path]:
    """Write ``config.episodes_per_domain`` episodes under ``root/simulation``; returns their dirs."""
    dirs = []
    for e in range(config.episodes_per_domain):
        rng = np.random.default_rng([config.seed, 3, e])
        episode_dir = pathlib.Path(root) / "simulation" / f"sim_{e:03d}"
        write_simulation_episode(episode_dir, rng, config)
        dirs.append(episode_dir)
    return dirs
