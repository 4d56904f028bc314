"""Navigation motion kernel throughput against two baselines, side by side in this process.

    python bench/bench_motion_kernel.py [--episodes 10] [--frames 2000]

The workload is the pipeline's: per episode, every pair (a, a+k) and its reverse for offsets
k = 2, 4, ..., 60, on smooth random camera trajectories.

* ours: ``core.motion.camera_motion_offsets`` (relative pose as quaternion product on
  structure-of-arrays slices: rotation vector, yaw/pitch/roll, translation) **plus**
  ``core.labels.label`` (bands + dominance margin) on the result;
* baseline 1: a per-pair Python loop, ``np.linalg.inv(A) @ B`` then scipy's rotation vector
  (motion only; timed on a subset);
* baseline 2: scipy's batched ``RigidTransform`` / ``Rotation`` on the same pairs (motion only).

One thread (set before numpy loads): the figures are per core.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.spatial.transform import RigidTransform, Rotation  # noqa: E402

from remot_pipeline.core.labels import ATTRIBUTES, label  # noqa: E402
from remot_pipeline.core.motion import PairConfig, camera_motion_offsets, enumerate_pairs  # noqa: E402

CFG = PairConfig(min_offset=2, max_offset=60, offset_step=2)


def trajectory(n: int, rng) -> np.ndarray:
    """A smooth camera path: integrated random angular and linear velocities."""
    rotvec_steps = np.cumsum(rng.normal(scale=0.004, size=(n, 3)), axis=0) + rng.normal(scale=0.02, size=3)
    rots = Rotation.from_rotvec(rotvec_steps[0])
    mats = [rots.as_matrix()]
    for step in rotvec_steps[1:]:
        rots = rots * Rotation.from_rotvec(step)
        mats.append(rots.as_matrix())
    out = np.zeros((n, 4, 4))
    out[:, :3, :3] = mats
    out[:, :3, 3] = np.cumsum(rng.normal(scale=0.02, size=(n, 3)), axis=0)
    out[:, 3, 3] = 1
    return out


def ours(episodes):
    kept = 0
    for cams in episodes:
        _, _, offsets = enumerate_pairs(len(cams), CFG)
        m = camera_motion_offsets(cams, offsets)
        t = m["cam_translation_a_m"]
        cols = [m["yaw_left_deg"], m["pitch_up_deg"], m["roll_cw_deg"], t[:, 2], t[:, 0], -t[:, 1]]
        kept += int(label(cols, ATTRIBUTES["navigation"], 1.5)[0].sum())
    return kept


def scipy_batched(episodes):
    for cams in episodes:
        a, b, _ = enumerate_pairs(len(cams), CFG)
        rel = RigidTransform.from_matrix(cams[a]).inv() * RigidTransform.from_matrix(cams[b])
        rel.rotation.as_rotvec(), rel.translation


def loop(cams, a, b):
    out = np.empty((len(a), 6))
    for i, (x, y) in enumerate(zip(a, b)):
        rel = np.linalg.inv(cams[x]) @ cams[y]
        out[i, :3] = Rotation.from_matrix(rel[:3, :3]).as_rotvec()
        out[i, 3:] = rel[:3, 3]
    return out


def best_time(fn, *args, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--frames", type=int, default=2000)
    p.add_argument("--loop-pairs", type=int, default=20_000)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    episodes = [trajectory(args.frames, rng) for _ in range(args.episodes)]
    n_pairs = sum(len(enumerate_pairs(len(c), CFG)[0]) for c in episodes)
    t_ours = best_time(ours, episodes)
    t_scipy = best_time(scipy_batched, episodes)
    a, b, _ = enumerate_pairs(args.frames, CFG)
    sel = rng.choice(len(a), args.loop_pairs, replace=False)
    t_loop = best_time(loop, episodes[0], a[sel], b[sel], repeat=1) * n_pairs / args.loop_pairs
    r = lambda t: n_pairs / t / 1e6  # noqa: E731
    print(f"{n_pairs:,} pairs ({args.episodes} episodes x {args.frames} frames, offsets 2..60 step 2, both directions), one thread")
    print(f"ours: motion + labels                    {r(t_ours):7.2f} M pairs/s")
    print(f"scipy batched RigidTransform, motion only {r(t_scipy):7.2f} M pairs/s   ours is {t_scipy / t_ours:5.1f}x faster")
    print(f"per-pair loop inv(A) @ B, motion only     {r(t_loop):7.3f} M pairs/s   ours is {t_loop / t_ours:5.0f}x faster")


if __name__ == "__main__":
    main()
