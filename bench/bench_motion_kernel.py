"""Navigation motion kernel throughput, against two baselines run side by side in this process.

    python bench/bench_motion_kernel.py [--pairs N]

* ours: ``core.motion.camera_motion`` (batched numpy: relative pose, rotation vector,
  yaw/pitch/roll, translation) plus ``core.labels.label`` on the result;
* baseline 1: a per-pair Python loop, ``inv(A) @ B`` with numpy per pair (+ scipy rotvec);
* baseline 2: scipy's batched ``RigidTransform`` / ``Rotation``.

Single thread: set before numpy loads, so the figure is per core.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.spatial.transform import RigidTransform, Rotation  # noqa: E402

from remot_pipeline.core.labels import ATTRIBUTES, label  # noqa: E402
from remot_pipeline.core.motion import camera_motion  # noqa: E402


def poses(n: int, rng) -> np.ndarray:
    out = np.zeros((n, 4, 4))
    out[:, :3, :3] = Rotation.random(n, random_state=rng).as_matrix()
    out[:, :3, 3] = rng.normal(size=(n, 3))
    out[:, 3, 3] = 1
    return out


def ours(cams, a, b):
    m = camera_motion(cams, a, b)
    t = m["cam_translation_a_m"]
    mags = np.stack([m["yaw_left_deg"], m["pitch_up_deg"], m["roll_cw_deg"], t[:, 2], t[:, 0], -t[:, 1]], axis=1)
    return label(mags, ATTRIBUTES["navigation"], 1.5)


def loop(cams, a, b):
    out = np.empty((len(a), 6))
    for i, (x, y) in enumerate(zip(a, b)):
        rel = np.linalg.inv(cams[x]) @ cams[y]
        out[i, :3] = Rotation.from_matrix(rel[:3, :3]).as_rotvec()
        out[i, 3:] = rel[:3, 3]
    return out


def scipy_batched(cams, a, b):
    rel = RigidTransform.from_matrix(cams[a]).inv() * RigidTransform.from_matrix(cams[b])
    return rel.rotation.as_rotvec(), rel.translation


def rate(fn, n, *args, repeat=3):
    best = min(_time(fn, *args) for _ in range(repeat))
    return n / best


def _time(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pairs", type=int, default=1_000_000)
    p.add_argument("--loop-pairs", type=int, default=20_000)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    cams = poses(10_000, rng)
    a = rng.integers(0, len(cams), args.pairs)
    b = rng.integers(0, len(cams), args.pairs)
    r_ours = rate(ours, args.pairs, cams, a, b)
    r_scipy = rate(scipy_batched, args.pairs, cams, a, b)
    r_loop = rate(loop, args.loop_pairs, cams, a[: args.loop_pairs], b[: args.loop_pairs], repeat=1)
    print(f"pairs: {args.pairs:,} (loop: {args.loop_pairs:,}), one thread")
    print(f"ours (motion + labels)     {r_ours / 1e6:8.3f} M pairs/s")
    print(f"scipy batched (motion only){r_scipy / 1e6:8.3f} M pairs/s   ours / scipy = {r_ours / r_scipy:6.1f}x")
    print(f"per-pair loop (motion only){r_loop / 1e6:8.3f} M pairs/s   ours / loop  = {r_ours / r_loop:6.1f}x")


if __name__ == "__main__":
    main()
