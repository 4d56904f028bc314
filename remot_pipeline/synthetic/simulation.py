"""Simulation domain: coloured cubes moving on a textured floor, watched by a panning camera.

Per episode ``root/simulation/sim_XXX/``: ``video.mp4`` and ``log.jsonl`` (a header line, then one
line per frame with ``cam2world`` and every object's ``obj2world``, 4x4 row-major, metres, world
z up, OpenCV camera axes).

The camera stands 0.88-0.98 m above the floor looking down 30-34 deg, so near cubes show below
far ones (little occlusion) and the nearest, 0.85-0.95 m ahead, is close enough that a small spin
is visible. Episodes are shuffled "bags" of segments (:data:`SEGMENTS`), one thing moving at a
time. Most are out-and-back excursions, the return leg 90-100 % of the outbound one, so both
directions of the attribute occur:

- ``pan`` / ``tilt``: the camera yaws 14-53 deg about the vertical (12-45 deg about its own
  axis, as it looks down; within +-60 deg of its initial heading) or pitches 12-46 deg (between
  -72 and +8 deg);
- ``dolly`` / ``truck``: the camera moves along its heading 0.75-2.9 m forward / backward
  (0.64-2.5 m along its optical axis) or 0.65-2.5 m sideways (horizontal; within 0.3 m ahead,
  2.9 m behind and 2.6 m either side of its start);
- ``slide_lateral``: one object slides 0.42-2.0 m left / right relative to the camera heading
  (shorter where the others or the edge of the object area leave no room);
- ``slide_depth``: the near cube (kept in a free lane) slides 0.52-2.1 m away, then back toward
  the camera;
- ``spin``: the nearest cube turns 14.5-49 deg about the vertical in place (no translation), then
  14.5-49 deg the other way;

plus a hold and, from the second bag on, ``both`` (a pan while an object slides, one leg).

Sizes spread log-uniformly over those ranges: most of each labelled band (a spin's lower end is
what the visibility gate can see turn: 6 px of arc 0.15 m from the axis of a cube ~1.2 m away).
A leg lasts ``max(0.5 s, size / speed)`` (x 1-1.15): 40 deg/s for the camera's turns, 50 deg/s for
a spin, 1.5 m/s for the camera, 0.8 m/s for a lateral slide (a small far cube must not jump
further between frames than optical flow can follow) and 1.2 m/s for a depth slide. A bag's
sizes are quantiles of those ranges: an episode's first bag takes them from
:func:`~.geometry.episode_quantiles` (each leg sized once in every eighth of its range over each
block of 8 episodes, the two spins of a bag one small and one large), later bags from
:func:`~.geometry.plan_quantiles`; either way a bag mixes small and large moves and fits
:data:`BAG_BUDGET_S` seconds, so an episode at least that long (the default, 240 frames at 15 fps,
is 16 s) shows every labelled direction of the simulation domain. Objects stay in a wedge in
front of the initial view.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from remot_pipeline.core.se3 import invert

from .geometry import (bag_order, cam2world_from_ypr, episode_quantiles, intrinsics, intrinsics_matrix, log_uniform,
                       make_pose, plan_quantiles, ramp, rot_z)
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
# One bag of segments, shuffled; every excursion covers both directions of its attribute.
SEGMENTS = ("pan", "tilt", "dolly", "truck", "slide_lateral", "slide_depth", "spin", "hold")
LATER_SEGMENTS = SEGMENTS + ("both",)  # bags after the first also mix a pan with a slide
FIRST_SEGMENTS = ("pan", "slide_lateral")  # the first bag shows these early (a short episode shows them)
MIN_LEG_S = 0.5
LEG_STRETCH = (1.0, 1.15)  # a leg's duration: max(MIN_LEG_S, size / speed) times this
HOLD_S = (0.3, 0.6)
RETURN_FRACTION = (0.9, 1.0)
PAN_LIMIT_RAD = np.deg2rad(60.0)
# A pan turns the camera about the vertical; looking down ~32 deg, it turns about its own vertical
# axis by cos(32 deg) = 0.85 of that (12-45 deg, the labelled yaw; the rest is an in-image roll).
PAN_RAD = np.deg2rad((14.0, 53.0))
PITCH_RANGE_RAD = np.deg2rad((-72.0, 8.0))
TILT_RAD = np.deg2rad((12.0, 46.0))
TURN_RATE_RAD_S = np.deg2rad(40.0)  # average over a leg (peak 1.875x: 5 deg a frame at 15 fps)
DOLLY_M = (0.75, 2.9)  # horizontal: 0.85x of it along the optical axis (the labelled part)
TRUCK_M = (0.65, 2.5)
CAMERA_SPEED_M_S = 1.5
# How far the camera may move from its start: ahead, behind, to either side (metres).
CAMERA_REACH_M = (0.3, 2.9, 2.6)
SLIDE_M = (0.42, 2.0)
SLIDE_MIN_M = 0.4  # shortest slide tried: its 90 % return still clears the 0.35 m band minimum
# A depth slide's shortest: the camera looks down ~32 deg, so its 90 % return changes the cube's
# depth along the optical axis by 0.5 x 0.9 x cos(34 deg) = 0.37 m, still over the band minimum.
SLIDE_DEPTH_MIN_M = 0.5
SLIDE_SCALES = (1.0, 0.8, 0.64, 0.51, 0.41, 0.33, 0.26)  # a blocked slide is retried this much shorter
# A depth slide changes the cube's apparent size only by ~1/z: the near cube, ~1.2 m from the
# camera, shows 0.5 m as a change of several pixels.
SLIDE_DEPTH_M = (0.52, 2.1)
# A sliding cube averages at most this speed over a leg (peak 1.875x): faster, a small far cube
# jumps further between frames than an optical-flow check can follow. A depth slide moves it
# mostly along the line of sight: faster.
SLIDE_SPEED_M_S = 0.8
SLIDE_DEPTH_SPEED_M_S = 1.2
# Spins turn the nearest cube 14.5-49 deg one way, then 14.5-49 deg the other way: a point 0.15 m
# from the axis of a cube ~1.2 m away then sweeps 6.5-22 px (a 10 deg turn would sweep 4.5 px).
SPIN_RAD = np.deg2rad((14.5, 49.0))
# ... but at least enough that a point 0.15 m from the axis sweeps 6 px (+10 %) of the default
# 256 px frame (fx 204.8 px) at the cube's depth.
SPIN_MIN_ARC_PX, SPIN_ARC_RADIUS_M, REFERENCE_FX_PX = 6.6, 0.15, 204.8
SPIN_RATE_RAD_S = np.deg2rad(50.0)
#: Each planned leg: (kind of size, speed, legs it sets: 2 for an out-and-back excursion).
PLANNED_LEGS = {
    "pan": (PAN_RAD, TURN_RATE_RAD_S, 2), "tilt": (TILT_RAD, TURN_RATE_RAD_S, 2),
    "dolly": (DOLLY_M, CAMERA_SPEED_M_S, 2), "truck": (TRUCK_M, CAMERA_SPEED_M_S, 2),
    "slide_lateral": (SLIDE_M, SLIDE_SPEED_M_S, 2), "slide_depth": (SLIDE_DEPTH_M, SLIDE_DEPTH_SPEED_M_S, 2),
    "spin_1": (SPIN_RAD, SPIN_RATE_RAD_S, 1), "spin_2": (SPIN_RAD, SPIN_RATE_RAD_S, 1),
}  # fmt: skip
#: Legs of one attribute in a bag: an episode's first bag sizes them one small, one large.
PLAN_GROUPS = [("pan",), ("tilt",), ("dolly",), ("truck",), ("slide_lateral",), ("slide_depth",), ("spin_1", "spin_2")]
#: A bag's planned legs and its hold last at most this long (frame rounding adds < 0.5 s).
BAG_BUDGET_S = 15.2
# Objects stay in a wedge in front of the camera's initial heading (forward, left), metres:
# forward in AREA_FORWARD_M and |left| <= AREA_HALF_WIDTH_PER_M * forward (about +-23 deg).
AREA_FORWARD_M = (0.6, 3.4)
DEPTH_LANE_FORWARD_M = (0.85, 0.95)
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
        "position_m": np.array([rng.uniform(-2.9, -2.6), rng.uniform(-0.4, 0.4), rng.uniform(0.88, 0.98)]),
        "yaw_rad": rng.uniform(-0.15, 0.15),
        "pitch_rad": -np.deg2rad(rng.uniform(30.0, 34.0)),
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
    """2-4 cubes with distinct palette colours, non-overlapping, inside the object area.

    The first cube stands nearest the camera (:data:`DEPTH_LANE_FORWARD_M`, within +-0.2 m of
    the view axis) and the others outside its lane (the strip it sweeps sliding
    away from the camera and back), so a depth slide always has a free path. A cube that finds
    no free spot is left out (there are always at least two).
    """
    names = list(rng.permutation(list(PALETTE_RGB))[: int(rng.integers(2, 5))])
    objects: list[dict] = []
    for name in names:
        size_m = float(np.round(rng.uniform(0.25, 0.45), 3))
        for _attempt in range(200):
            if objects:
                forward = rng.uniform(*AREA_FORWARD_M)
                left = rng.uniform(-1.0, 1.0) * AREA_HALF_WIDTH_PER_M * forward
            else:
                forward, left = rng.uniform(*DEPTH_LANE_FORWARD_M), rng.uniform(-0.2, 0.2)
            xy = _area_to_world(camera, np.array([forward, left]))
            if _inside_area(camera, xy, size_m * 0.71) and all(
                np.linalg.norm(xy - o["xy_m"]) > 0.71 * (size_m + o["size_m"]) + 0.1 for o in objects
            ) and (not objects or abs(left - objects[0]["left_m"]) > 0.71 * (size_m + objects[0]["size_m"]) + 0.1):
                break
        else:
            continue
        objects.append(
            {
                "object_id": f"obj{len(objects)}",
                "color_name": str(name),
                "color_rgb": list(PALETTE_RGB[str(name)]),
                "shape": "cube",
                "size_m": size_m,
                "yaw_rad": float(rng.uniform(-np.pi / 4, np.pi / 4)),
                "xy_m": xy,
                "left_m": float(left),
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


def _object_move(rng, xy_m, sizes_m, yaw_rad: float, directions: list[str], distance_m: float, camera: dict,
                 prefer: int | None = None, min_m: float = SLIDE_MIN_M):
    """(object index, end xy) for a slide in one of ``directions`` relative to the camera heading.

    Tries the given directions (in order), then the others; within them ``prefer`` first, then the
    other objects in random order, those near the view centre first; each at full distance, then
    shorter (:data:`SLIDE_SCALES`) down to ``min_m``, every object at one length before
    any goes shorter. Returns None when nothing can move.
    """
    heading = np.array([np.cos(yaw_rad), np.sin(yaw_rad)])
    left = np.array([-heading[1], heading[0]])
    vectors = {"left": left, "right": -left, "toward": -heading, "away": heading}
    others = [d for d in rng.permutation(list(vectors)) if d not in directions]
    order = _view_order(rng, xy_m, camera)
    groups = [order] if prefer is None else [[prefer], [k for k in order if k != prefer]]
    for names in (directions, others):
        for objects in groups:
            for scale in SLIDE_SCALES:
                if distance_m * scale < min_m:
                    break
                for name in names:
                    for k in objects:
                        target = xy_m[k] + vectors[name] * distance_m * scale
                        if _free_path(xy_m, sizes_m, int(k), target, camera):
                            return int(k), target
    return None


def _view_order(rng, xy_m: np.ndarray, camera: dict) -> list[int]:
    """Object indices in random order, those within 20 deg of the initial view axis first."""
    heading = np.array([np.cos(camera["yaw_rad"]), np.sin(camera["yaw_rad"])])
    left = np.array([-heading[1], heading[0]])
    rel = xy_m - camera["position_m"][:2]
    off_axis_rad = np.abs(np.arctan2(rel @ left, rel @ heading))
    return sorted(rng.permutation(len(xy_m)).tolist(), key=lambda k: bool(off_axis_rad[k] > np.deg2rad(20.0)))


class _State:
    """Flat timeline state: camera x, y, z (m), yaw, pitch (rad); objects' x, y (m) and yaw (rad)."""

    def __init__(self, camera: dict, objects: list[dict]):
        self.k = len(objects)
        xy = np.array([o["xy_m"] for o in objects]).reshape(self.k, 2)
        self.vector = np.concatenate([camera["position_m"], [camera["yaw_rad"], camera["pitch_rad"]], xy.ravel(),
                                      [o["yaw_rad"] for o in objects]])

    @staticmethod
    def camera(v: np.ndarray) -> np.ndarray:
        return v[..., :5]

    def xy(self, v: np.ndarray) -> np.ndarray:
        return v[..., 5 : 5 + 2 * self.k].reshape(v.shape[:-1] + (self.k, 2))

    def object_yaw(self, v: np.ndarray) -> np.ndarray:
        return v[..., 5 + 2 * self.k :]


def _leg_s(size: float, speed: float) -> float:
    """The longest duration of a leg of this size (before the random stretch)."""
    return max(MIN_LEG_S, size / speed) * LEG_STRETCH[1]


def _planned_size(name: str, q: float) -> float:
    return float(log_uniform(*PLANNED_LEGS[name][0], q))


def _planned_duration_s(name: str, q: float) -> float:
    _, speed, legs = PLANNED_LEGS[name]
    return legs * _leg_s(_planned_size(name, q), speed)


def _duration_s(rng, size: float, speed: float) -> float:
    return max(MIN_LEG_S, size / speed) * rng.uniform(*LEG_STRETCH)


def _excursion(rng, start: np.ndarray, out: np.ndarray, size: float, speed: float) -> list[tuple[np.ndarray, float]]:
    """Out to ``out`` (``size`` away, in the unit of ``speed``) and most of the way back."""
    back = start + (out - start) * (1.0 - rng.uniform(*RETURN_FRACTION))
    return [(out, _duration_s(rng, size, speed)), (back, _duration_s(rng, size, speed))]


def _signed(rng, room: dict[float, float], size: float) -> float:
    """``size`` signed along a direction with room for it (drawn), else as far as the roomier one allows."""
    signs = [sign for sign in (1.0, -1.0) if room[sign] >= size]
    if signs:
        return signs[int(rng.integers(len(signs)))] * size
    sign = max(room, key=room.get)
    return sign * max(0.0, min(size, room[sign]))


def _segment(rng, kind: str, v: np.ndarray, st: _State, sizes_m: np.ndarray, camera: dict, plan: dict[str, float]):
    """Legs ``[(end state vector, duration_s), ...]`` of one segment starting at state ``v``."""
    out = v.copy()
    yaw0 = camera["yaw_rad"]
    if kind == "hold":
        return [(out, rng.uniform(*HOLD_S))]
    if kind == "pan":
        room = {1.0: yaw0 + PAN_LIMIT_RAD - v[3], -1.0: v[3] - yaw0 + PAN_LIMIT_RAD}
        step = _signed(rng, room, _planned_size(kind, plan[kind]))
        out[3] += step
        return _excursion(rng, v, out, abs(step), TURN_RATE_RAD_S)
    if kind == "tilt":
        room = {1.0: PITCH_RANGE_RAD[1] - v[4], -1.0: v[4] - PITCH_RANGE_RAD[0]}
        step = _signed(rng, room, _planned_size(kind, plan[kind]))
        out[4] += step
        return _excursion(rng, v, out, abs(step), TURN_RATE_RAD_S)
    if kind in ("dolly", "truck"):
        heading = np.array([np.cos(yaw0), np.sin(yaw0)])
        left = np.array([-heading[1], heading[0]])
        offset = v[:2] - camera["position_m"][:2]
        if kind == "dolly":  # along the current heading: + forward
            axis = np.array([np.cos(v[3]), np.sin(v[3])])
            now = offset @ heading
            room = {1.0: CAMERA_REACH_M[0] - now, -1.0: CAMERA_REACH_M[1] + now}
        else:  # + to the camera's right
            axis = np.array([np.sin(v[3]), -np.cos(v[3])])
            now = -(offset @ left)
            room = {1.0: CAMERA_REACH_M[2] - now, -1.0: CAMERA_REACH_M[2] + now}
        step = _signed(rng, room, _planned_size(kind, plan[kind]))
        out[:2] += step * axis
        return _excursion(rng, v, out, abs(step), CAMERA_SPEED_M_S)
    xy = st.xy(v)
    if kind == "spin":
        k = int(np.argmin(np.linalg.norm(xy - v[:2], axis=1)))  # the nearest cube
        sign = rng.choice([-1.0, 1.0])
        # At least what the visibility gate sees turn at this cube's depth along the optical axis.
        axis = np.array([np.cos(v[4]) * np.cos(v[3]), np.cos(v[4]) * np.sin(v[3]), np.sin(v[4])])
        depth_m = float((np.array([*xy[k], sizes_m[k] / 2]) - v[:3]) @ axis)
        lo = min(max(SPIN_RAD[0], SPIN_MIN_ARC_PX * depth_m / (REFERENCE_FX_PX * SPIN_ARC_RADIUS_M)), SPIN_RAD[1] / 2)
        first, second = (float(log_uniform(lo, SPIN_RAD[1], plan[name])) for name in ("spin_1", "spin_2"))
        st.object_yaw(out)[k] += sign * first
        back = out.copy()
        st.object_yaw(back)[k] -= sign * second
        return [(out, _duration_s(rng, first, SPIN_RATE_RAD_S)), (back, _duration_s(rng, second, SPIN_RATE_RAD_S))]
    if kind == "slide_depth":  # the near cube in its free lane: away first, then back toward
        move = _object_move(rng, xy, sizes_m, v[3], ["away", "toward"], _planned_size(kind, plan[kind]), camera,
                            prefer=0, min_m=SLIDE_DEPTH_MIN_M)
        speed = SLIDE_DEPTH_SPEED_M_S
    elif kind == "slide_lateral":
        directions = [str(d) for d in rng.permutation(["left", "right"])]
        move = _object_move(rng, xy, sizes_m, v[3], directions, _planned_size(kind, plan[kind]), camera)
        speed = SLIDE_SPEED_M_S
    if kind in ("slide_lateral", "slide_depth"):
        if move is None:
            return [(out, rng.uniform(*HOLD_S))]
        st.xy(out)[move[0]] = move[1]
        return _excursion(rng, v, out, float(np.linalg.norm(move[1] - xy[move[0]])), speed)
    # both: a pan leg while an object slides
    pan = _signed(rng, {1.0: yaw0 + PAN_LIMIT_RAD - v[3], -1.0: v[3] - yaw0 + PAN_LIMIT_RAD},
                  _planned_size("pan", rng.uniform()))
    out[3] += pan
    duration_s = _duration_s(rng, abs(pan), TURN_RATE_RAD_S)
    move = _object_move(rng, xy, sizes_m, v[3], [str(rng.choice(["left", "right", "toward", "away"]))],
                        _planned_size("slide_lateral", rng.uniform()), camera)
    if move is not None:
        st.xy(out)[move[0]] = move[1]
        duration_s = max(duration_s, _duration_s(rng, float(np.linalg.norm(move[1] - xy[move[0]])), SLIDE_SPEED_M_S))
    return [(out, duration_s)]


def _timeline(rng: np.random.Generator, n_frames: int, fps: float, camera: dict, objects: list[dict],
              first_plan: dict[str, float] | None = None):
    """Per-frame camera states (n, 5: x, y, z, yaw, pitch), object xy_m (n, k, 2) and yaw_rad (n, k).
    The first bag's leg sizes come from ``first_plan`` (quantiles, :func:`_plan`) when given."""
    st = _State(camera, objects)
    sizes_m = np.array([o["size_m"] for o in objects])
    v = st.vector
    states, total, bag, first = [v[None]], 1, [], True
    while total < n_frames:
        if not bag:
            bag = bag_order(rng, SEGMENTS, FIRST_SEGMENTS)[::-1] if first else bag_order(rng, LATER_SEGMENTS)[::-1]
            first = False
            plan = first_plan or plan_quantiles(rng, list(PLANNED_LEGS), _planned_duration_s, BAG_BUDGET_S - HOLD_S[1])
            first_plan = None
        for end, duration_s in _segment(rng, bag.pop(), v, st, sizes_m, camera, plan):
            n = max(2, int(round(duration_s * fps)))
            states.append(ramp(v, end, n))
            v = end
            total += n
    states = np.concatenate(states)[:n_frames]
    return st.camera(states), st.xy(states), st.object_yaw(states)


def _plan(seed: int, episode_index: int) -> dict[str, float]:
    """The first bag's leg-size quantiles, stratified across the legs and across episodes."""
    return episode_quantiles((seed, 3, 1), episode_index, PLAN_GROUPS, _planned_duration_s, BAG_BUDGET_S - HOLD_S[1])


def write_simulation_episode(episode_dir: pathlib.Path, rng: np.random.Generator, config,
                             episode_index: int | None = None) -> int:
    """Render and write one episode; returns the number of frames. With ``episode_index`` its first
    bag's sizes follow the world's plan (:func:`_plan`), else they are drawn from ``rng``."""
    episode_dir.mkdir(parents=True, exist_ok=True)
    width, height, fps = config.width_px, config.height_px, config.fps
    background, camera = _scene(rng)
    objects = _place_objects(rng, camera)
    solids = [
        box_solid((o["size_m"],) * 3, texture_for_size(rng, (o["size_m"],) * 2, CUBE_TEXELS_PER_M, o["color_rgb"]))
        for o in objects
    ]
    first_plan = None if episode_index is None else _plan(config.seed, episode_index)
    cam, xy_m, object_yaw_rad = _timeline(rng, config.frames_per_episode, fps, camera, objects, first_plan)
    n = len(cam)
    cam2world = cam2world_from_ypr(cam[:, :3], cam[:, 3], cam[:, 4], np.zeros(n))
    sizes_m = np.array([o["size_m"] for o in objects])
    positions_m = np.concatenate([xy_m, np.broadcast_to(sizes_m[None, :, None] / 2, (n, len(objects), 1))], axis=-1)
    obj2world = make_pose(rot_z(object_yaw_rad), positions_m)  # (n, k, 4, 4)
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
        write_simulation_episode(episode_dir, rng, config, e)
        dirs.append(episode_dir)
    return dirs
