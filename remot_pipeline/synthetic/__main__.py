"""Generate the synthetic world and print per-domain timing: ``python -m remot_pipeline.synthetic OUT_DIR``."""

from __future__ import annotations

import argparse
import pathlib
import time

import cv2

from .world import DOMAIN_WRITERS, WorldConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--seed", type=int, default=WorldConfig.seed)
    parser.add_argument("--episodes", type=int, default=WorldConfig.episodes_per_domain)
    parser.add_argument("--frames", type=int, default=WorldConfig.frames_per_episode)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # time it as one core would (x264 is single-threaded already)
    config = WorldConfig(seed=args.seed, episodes_per_domain=args.episodes, frames_per_episode=args.frames)
    total_s = 0.0
    for domain, writer in DOMAIN_WRITERS.items():
        start = time.perf_counter()
        paths = writer(args.out_dir, config)
        seconds = time.perf_counter() - start
        total_s += seconds
        frames = config.episodes_per_domain * config.frames_per_episode
        print(f"{domain:13s} {seconds:6.2f} s  {frames:6d} frames  {frames / seconds:7.1f} fps  ({len(paths)} path(s))")
    print(f"{'total':13s} {total_s:6.2f} s")


if __name__ == "__main__":
    main()
