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


def log_uniform(lo: float, hi: float, q) -> np.ndarray | float:
    """The ``q``-quantile (``q`` in [0, 1]) of a log-uniform amplitude on ``[lo, hi]``."""
    return lo * (hi / lo) ** np.asarray(q, dtype=float)


def stratified_quantiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` quantiles, one in each of the strata ``[i/n, (i+1)/n)``, in random order.

    Each one is uniform on [0, 1] (so the amplitude drawn from it has the full spread), while
    their sum stays near ``n / 2``: a bag of segments is never all long moves.
    """
    return (rng.permutation(n) + rng.uniform(size=n)) / n


def plan_quantiles(rng: np.random.Generator, names: list[str], duration_s, budget_s: float, tries: int = 64
                   ) -> dict[str, float]:
    """Stratified amplitude quantiles for the legs ``names`` of one bag, redrawn (at most ``tries``
    times) until ``duration_s(name, q)`` summed over the legs fits ``budget_s``; the last draw is
    then scaled down until it fits. Returns ``{name: q}``."""
    for _ in range(tries):
        q = stratified_quantiles(rng, len(names))
        if sum(duration_s(k, v) for k, v in zip(names, q)) <= budget_s:
            return dict(zip(names, q.tolist()))
    while sum(duration_s(k, v) for k, v in zip(names, q)) > budget_s and q.max() > 0.01:
        q = q * 0.9
    return dict(zip(names, q.tolist()))


def bag_order(rng: np.random.Generator, kinds: tuple[str, ...], early: tuple[str, ...] = ()) -> list[str]:
    """A bag's segments in random order, those in ``early`` among the first ``len(early) + 1``, so
    that even an episode too short for its whole first bag shows them."""
    rest = [kinds[i] for i in rng.permutation(len(kinds)) if kinds[i] not in early]
    head = [*early, *rest[:1]]
    return [head[i] for i in rng.permutation(len(head))] + rest[1:]


#: Episodes whose first bags share one plan (:func:`episode_quantiles`).
PLAN_PERIOD = 8


def episode_quantiles(seed: tuple[int, ...], episode: int, groups: list[tuple[str, ...]], duration_s, budget_s: float,
                      tries: int = 64) -> dict[str, float]:
    """Amplitude quantiles for the legs named in ``groups`` in the first bag of ``episode``.

    They are stratified within each group (a group of ``m`` legs of one attribute gets one
    quantile in each 1/m of the range, so that even a single episode shows it small and large)
    and across episodes: within each block of :data:`PLAN_PERIOD` consecutive episodes, leg
    ``name`` gets ``frac(base[name] + shift[episode] / PLAN_PERIOD)``, with ``shift`` a permutation
    of the block's episodes, so the block sizes each leg once in every 1/8 of its range (a small
    world is never all small or all large moves). ``base`` is redrawn (at most ``tries`` times)
    until every episode's bag fits ``budget_s`` (``duration_s(name, q)`` summed over the legs),
    else the episode's quantiles are scaled down until it fits. Depends only on ``seed`` and the
    block, so an episode's plan does not depend on how many episodes the world has.
    """
    rng = np.random.default_rng([*seed, episode // PLAN_PERIOD])
    names = [name for group in groups for name in group]
    shifts = np.arange(PLAN_PERIOD) / PLAN_PERIOD

    def draw() -> np.ndarray:
        return np.concatenate([stratified_quantiles(rng, len(group)) for group in groups])

    def longest(base: np.ndarray) -> float:
        return max(sum(duration_s(k, v) for k, v in zip(names, (base + c) % 1.0)) for c in shifts)

    for _ in range(tries):
        base = draw()
        if longest(base) <= budget_s:
            break
    shift = rng.permutation(PLAN_PERIOD)[episode % PLAN_PERIOD] / PLAN_PERIOD
    q = (base + shift) % 1.0
    while sum(duration_s(k, v) for k, v in zip(names, q)) > budget_s and q.max() > 0.01:
        q = q * 0.9
    return dict(zip(names, q.tolist()))


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
