"""Scale-out benchmark: ReMoT-16K in process vs the multiprocess executor, then 1x / 2x / 4x its episodes.

    python bench/scale_out.py [--root data-scale] [--cores 2] [--scales 1,2,4] [--only NAME ...]

Each measurement is one `dagster job execute -j build_release` run through
``bench/build_release_scale.py`` (its own process, so ``ru_maxrss`` of its children is that run's
largest single process), in a fresh data root (no stage outputs to reuse), pinned to ``--cores``
CPUs. The synthetic worlds are generated first, once per size, outside the timed runs (each data
root links to its world); the job's ``synthetic_world`` step then finds it.

Runs (ReMoT-16K = configs/remot-16k.yaml: 32 episodes x 240 frames per domain, caps 5,300 train +
200 remot-bench per domain; k x = k x the episodes and k x both caps):

* ``x1-in-process``: the baseline, every step in one process (``execution: in_process``,
  ``domain_workers: 1``);
* ``x1-multiprocess``, ``x2-multiprocess``, ``x4-multiprocess``: Dagster's multiprocess executor
  (``max_concurrent`` = the cores: the source shards' steps in parallel) and ``domain_workers: 0``
  (negatives and triplets: one process per domain, up to the cores).

Reported in ``bench/results/scale_out.json`` and as Markdown (``scale_out.md``): wall time, CPU
time, CPU use (CPU time / wall / cores), the largest process's peak RSS, the sampled peak of the
whole process tree, seconds per 1,000 triplets and its ratio to 1x (linear cost: within +-20%),
per-step seconds, and the machine's own bounds measured in this process: PyAV decode and OpenCV
JPEG encode rates of the world's 320 px frames, with each run's keyframe count turned into the
seconds those two would take on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BASE = {"episodes_per_domain": 32, "frames_per_episode": 240, "train": 5300, "test": 200}


def world_config(scale: int):
    from remot_pipeline.synthetic import WorldConfig

    return WorldConfig(seed=0, episodes_per_domain=BASE["episodes_per_domain"] * scale,
                       frames_per_episode=BASE["frames_per_episode"])


def make_world(worlds: Path, scale: int) -> Path:
    """The world for ``scale`` under ``worlds/raw/synthetic`` (generated once, then reused)."""
    from remot_pipeline.defs.assets import CODE_VERSIONS
    from remot_pipeline.synthetic.world import cached_world

    path, _, reused = cached_world(worlds / "raw" / "synthetic", world_config(scale), CODE_VERSIONS["synthetic_world"])
    print(f"[scale_out] world x{scale}: {'reused' if reused else 'generated'} {path}", flush=True)
    return path


def run_config(scale: int, executor: str, cores: int, start_method: str = "spawn") -> dict:
    method = {"forkserver": {"preload_modules": ["remot_pipeline.definitions", "remot_pipeline.preload"]}} \
        if start_method == "forkserver" else {start_method: {}}
    execution = {"in_process": {}} if executor == "in-process" else {"multiprocess": {
        "max_concurrent": cores, "start_method": method}}
    w = world_config(scale)
    return {"execution": {"config": execution}, "resources": {"config": {"config": {
        # the baseline is one process throughout; the multiprocess runs also give the cross-episode
        # stages one process per domain (up to the cores)
        "domain_workers": 1 if executor == "in-process" else 0,
        "synthetic": {"enabled": True, "seed": w.seed, "episodes_per_domain": w.episodes_per_domain,
                      "frames_per_episode": w.frames_per_episode},
        "max_triplets_per_domain": BASE["train"] * scale, "bench_triplets_per_domain": BASE["test"] * scale}}}}


def bounds(world: Path) -> dict:
    """Decode (PyAV) and JPEG encode (OpenCV, the pipeline's size and quality) rates on one core."""
    import av
    import cv2

    from remot_pipeline.core.features import encode_jpeg

    cv2.setNumThreads(1)
    video = next((world / "navigation").glob("*/rgb.mp4"))
    frames, t0 = [], time.perf_counter()
    with av.open(str(video)) as c:
        c.streams.video[0].thread_type = "NONE"
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="bgr24"))
    decode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in frames:
        encode_jpeg(f, 320, 90)
    encode_s = time.perf_counter() - t0
    return {"video": str(video.relative_to(world)), "frames": len(frames),
            "decode_fps": round(len(frames) / decode_s, 1), "jpeg_encode_fps": round(len(frames) / encode_s, 1)}


def stage_rows(root: Path) -> dict:
    """Rows out per stage from the release's lineage (the stage store entries it names)."""
    from remot_pipeline.core.release import latest_release

    rel = latest_release(root / "releases")
    if rel is None:
        return {}
    stages = json.loads((rel / "manifest.json").read_text()).get("stages", {})
    out: dict[str, int] = {}
    for name, key in stages.items():
        asset, _, part = name.partition("/")
        if "/" in part:  # per-shard or per-chunk entries are summed by their domain-level set
            continue
        entry = json.loads((root / "stages" / asset / part / key / "entry.json").read_text())
        if "ledger" in entry:
            out[asset] = out.get(asset, 0) + entry["ledger"]["rows_out"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=REPO / "data-scale")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--scales", default="1,2,4")
    ap.add_argument("--only", nargs="*", help="run only these names (default: all)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--start-method", default="spawn", choices=("spawn", "forkserver"),
                    help="the multiprocess executor's: spawn (Dagster's default, the one measured in the README) "
                         "starts each step from scratch (~3 s of imports); forkserver forks each step from a "
                         "process that imported the code location once (not measured yet)")
    ap.add_argument("--suffix", default="", help="appended to the multiprocess runs' names")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    scales = [int(s) for s in args.scales.split(",")]
    runs = [("x1-in-process", 1, "in-process")] + [(f"x{s}-multiprocess{args.suffix}", s, "multiprocess")
                                                   for s in scales]
    runs = [r for r in runs if not args.only or r[0] in args.only]

    worlds = root / "worlds"
    world_paths = {s: make_world(worlds, s) for s in sorted({s for _, s, _ in runs})}
    machine = bounds(world_paths[min(world_paths)])
    print(f"[scale_out] bounds: {machine}", flush=True)
    results_path = REPO / "bench" / "results" / "scale_out.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results["bounds"] = machine
    results.setdefault("runs", {})
    for name, scale, executor in runs:
        data = root / name
        if data.exists():
            subprocess.run(["rm", "-rf", str(data)], check=True)
        link = data / "raw" / "synthetic" / world_paths[scale].name
        link.parent.mkdir(parents=True)
        link.symlink_to(world_paths[scale], target_is_directory=True)
        cfg = root / f"{name}.yaml"
        cfg.write_text(yaml.safe_dump(run_config(scale, executor, args.cores, args.start_method)))
        cmd = [sys.executable, str(REPO / "bench" / "build_release_scale.py"), "--config", str(cfg), "--data-root",
               str(data), "--cores", str(args.cores), "--name", f"scale_out-{name}", "--timeout", str(args.timeout),
               "--out-dir", str(root / "results")]
        print(f"[scale_out] {name}: {' '.join(cmd)}", flush=True)
        rc = subprocess.run(cmd, cwd=REPO).returncode
        r = json.loads((root / "results" / f"release_scale_scale_out-{name}.json").read_text())
        triplets = ((r.get("release") or {}).get("totals") or {}).get("triplets", {}).get("all", 0)
        rows = stage_rows(data)
        keyframes = rows.get("frame_features", 0)
        results["runs"][name] = {
            "scale": scale, "executor": executor, "rc": rc, "cores": args.cores,
            "start_method": args.start_method if executor == "multiprocess" else None,
            "episodes_per_domain": world_config(scale).episodes_per_domain,
            "triplets": triplets, "questions": ((r.get("release") or {}).get("totals") or {}).get("questions", {}).get("all"),
            # a forkserver's children are not ours to wait for: take the sampler's view where it sees more
            "wall_s": r["wall_s"], "cpu_s": (cpu := round(max(r["cpu_user_s"] + r["cpu_sys_s"], r.get("cpu_sampled_s", 0)), 1)),
            "cpu_use": round(cpu / r["wall_s"] / args.cores, 2),
            "peak_rss_largest_process_mib": max(r["peak_rss_mib"], r.get("peak_rss_largest_process_sampled_mib", 0)),
            "peak_rss_tree_sampled_mib": r["peak_rss_tree_sampled_mib"],
            "s_per_1k_triplets": round(1000 * r["wall_s"] / triplets, 2) if triplets else None,
            "step_seconds": r.get("step_seconds"), "step_peak_rss_mib": r.get("step_peak_rss_mib"), "stage_rows": rows,
            "keyframes": keyframes,
            "keyframe_bound_s": round(keyframes / machine["jpeg_encode_fps"], 1) if keyframes else None,
            "release_id": (r.get("release") or {}).get("release_id"), "size_bytes": (r.get("release") or {}).get("size_bytes"),
            "failed_checks": r.get("failed_checks"), "error": r.get("error"), "started_utc": r.get("started_utc"),
            "git": r.get("git"),
        }
        results_path.write_text(json.dumps(results, indent=1, sort_keys=True))
        print(f"[scale_out] {name}: {json.dumps(results['runs'][name])[:400]}", flush=True)
    (REPO / "bench" / "results" / "scale_out.md").write_text(markdown(results))
    print(markdown(results))
    return 0


def markdown(results: dict) -> str:
    """The README's table: one row per run, then the speed-ups and the bounds."""
    runs = results.get("runs", {})
    multi = {n: r for n, r in runs.items() if r["executor"] == "multiprocess"}
    base = next((r for r in multi.values() if r["scale"] == 1), None)
    lines = ["| run | start method | episodes/domain | triplets | wall | CPU use (of the cores) | "
             "peak RSS, largest process | peak RSS, process tree (1 s samples) | s per 1K triplets | vs 1x |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        same = [m for m in multi.values() if m["scale"] == 1 and m.get("start_method") == r.get("start_method")]
        ratio = f"{r['s_per_1k_triplets'] / same[0]['s_per_1k_triplets']:.2f}" if same and r in multi.values() \
            and r.get("s_per_1k_triplets") else "-"
        lines.append(f"| {name} | {r.get('start_method') or '-'} | {r['episodes_per_domain']} | {r['triplets']:,} | "
                     f"{r['wall_s']:.0f} s | {100 * r['cpu_use']:.0f}% | {r['peak_rss_largest_process_mib'] / 1024:.2f} GiB | "
                     f"{r['peak_rss_tree_sampled_mib'] / 1024:.2f} GiB | {r['s_per_1k_triplets']} | {ratio} |")
    inproc = runs.get("x1-in-process")
    if inproc and base:
        lines.append("")
        for name, r in multi.items():
            if r["scale"] == 1:
                lines.append(f"- {name} against x1-in-process on {r['cores']} cores: "
                             f"**{inproc['wall_s'] / r['wall_s']:.2f}x** ({inproc['wall_s']:.0f} s -> {r['wall_s']:.0f} s).")
    b = results.get("bounds")
    if b:
        lines.append("")
        lines.append(f"Bounds on this machine, one core: PyAV decode {b['decode_fps']} frames/s, OpenCV JPEG encode "
                     f"{b['jpeg_encode_fps']} frames/s (the world's frames, quality 90).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
