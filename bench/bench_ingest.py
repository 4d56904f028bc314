"""Ingestion throughput on real files, each against its bound measured in the same process.

    python bench/bench_ingest.py

* TUM fr2/desk ground truth (20,957 poses): our reader (parse, quarantine checks, quaternion ->
  cam2world, timestamp checks) vs ``numpy.loadtxt`` of the same file (parsing alone: the bound).
* UMI episode video (H.264 224x224, 400 frames): our PyAV keyframe reader decoding every frame
  to RGB vs OpenCV's ``VideoCapture`` raw decode of the same file (the bound the issue names),
  and our reader fetching every 10th frame (what the pipeline does for sparse keyframes).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from remot_pipeline.core.ledger import QuarantineLog  # noqa: E402
from remot_pipeline.sources.tum import read_groundtruth  # noqa: E402
from remot_pipeline.sources.video import count_frames, read_frames_rgb  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    cv2.setNumThreads(1)
    tum = REAL / "tum_rgbd_evo" / "fr2_desk_groundtruth.txt"
    t_ours, (ts, *_rest) = best(lambda: read_groundtruth(tum, QuarantineLog("bench", "navigation"), "fr2_desk"))
    t_np, raw = best(lambda: np.loadtxt(tum, comments="#"))
    n = len(raw)
    print(f"TUM fr2/desk, {n:,} poses")
    print(f"  ours (parse + checks + cam2world)  {n / t_ours:12,.0f} poses/s")
    print(f"  numpy.loadtxt (parse only, bound)  {n / t_np:12,.0f} poses/s   ours / bound = {t_np / t_ours:.2f}")

    video = REAL / "umi_cup_in_the_wild_lerobot_v1" / "videos" / "observation.image_episode_000000.mp4"
    frames = count_frames(video)

    def opencv_all():
        cap = cv2.VideoCapture(str(video))
        k = 0
        while cap.read()[0]:
            k += 1
        cap.release()
        return k

    t_cv, k_cv = best(opencv_all)
    t_all, got = best(lambda: sum(1 for _ in read_frames_rgb(video, range(frames))))
    t_sparse, got_sparse = best(lambda: sum(1 for _ in read_frames_rgb(video, range(0, frames, 10))))
    print(f"UMI video, {frames} frames ({k_cv} via OpenCV)")
    print(f"  ours, every frame (PyAV -> RGB)    {got / t_all:12,.0f} frames/s   ours / OpenCV = {t_cv / t_all:.2f}")
    print(f"  OpenCV VideoCapture (bound)        {k_cv / t_cv:12,.0f} frames/s")
    print(f"  ours, every 10th frame (seeking)   {got_sparse / t_sparse:12,.0f} requested frames/s "
          f"({frames / t_sparse:,.0f} video frames/s covered)")


if __name__ == "__main__":
    main()
