"""Source readers behind one registry. Adding a dataset is configuration (a sources YAML
entry naming one of these formats), not code.

Each format maps to ``(discover, read)``: ``discover(SourceSpec) -> list[EpisodeRef]`` lists
the episodes and their input files; ``read(EpisodeRef) -> EpisodeRead`` normalises one episode
into the canonical frame columns and quarantines what it rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from remot_pipeline.sources import (
    euroc,
    kitti,
    lerobot,
    lerobot_v21,
    nerf,
    pose_table,
    realestate10k,
    robot_table,
    scannet,
    sevenscenes,
    sim_conventions,
    simlog,
    tum,
    umi_v1,
)
from remot_pipeline.sources.base import DOMAINS, EpisodeRead, EpisodeRef, SourceError, SourceSpec


@dataclass(frozen=True)
class Reader:
    discover: Callable[[SourceSpec], list[EpisodeRef]]
    read: Callable[[EpisodeRef], EpisodeRead]
    domain: str
    description: str
    #: Whether the format's poses are in metres. Monocular SfM/SLAM poses (RealEstate10K) and NeRF
    #: scenes are up to an unknown scale: no metric distance is asked of them. A source may
    #: declare otherwise with ``options: {metric_scale: true|false}``.
    metric_scale: bool = True


READERS: dict[str, Reader] = {
    "tum": Reader(tum.discover, tum.read, "navigation", "TUM RGB-D groundtruth.txt + rgb.txt (images or video)"),
    "kitti": Reader(kitti.discover, kitti.read, "navigation", "KITTI odometry poses (3x4 camera-to-world) + times.txt"),
    "euroc": Reader(euroc.discover, euroc.read, "navigation", "EuRoC MAV ground truth (ns, quaternion w-first)"),
    "realestate10k": Reader(realestate10k.discover, realestate10k.read, "navigation",
                            "RealEstate10K camera txt (world-to-camera, normalised intrinsics)", metric_scale=False),
    "nerf": Reader(nerf.discover, nerf.read, "navigation", "NeRF / instant-ngp / nerfstudio transforms.json (OpenGL axes)",
                   metric_scale=False),
    "scannet": Reader(scannet.discover, scannet.read, "navigation", "ScanNet exported pose/<i>.txt + color/<i>.jpg"),
    "sevenscenes": Reader(sevenscenes.discover, sevenscenes.read, "navigation", "7-Scenes frame-XXXXXX.pose.txt"),
    "pose_table": Reader(pose_table.discover, pose_table.read, "navigation", "generic camera-pose CSV/Parquet"),
    "lerobot_v3": Reader(lerobot.discover, lerobot.read, "manipulation", "LeRobot v3.0 dataset"),
    "remot_sim_jsonl": Reader(simlog.discover, simlog.read, "simulation", "remot simulation log.jsonl + video"),
    "lerobot_v21": Reader(lerobot_v21.discover, lerobot_v21.read, "manipulation",
                          "LeRobot v2.x: meta/episodes.jsonl, one parquet + mp4 per episode"),
    "umi_v1": Reader(umi_v1.discover, umi_v1.read, "manipulation", "UMI / early LeRobot: HF arrow or flat CSV + mp4"),
    "robot_table": Reader(robot_table.discover, robot_table.read, "manipulation", "generic robot telemetry CSV/Parquet"),
    "sim_pose_table": Reader(sim_conventions.discover, sim_conventions.read, "simulation",
                             "simulator camera/object poses in opencv, habitat or carla conventions"),
}


def metric_scale(spec: SourceSpec) -> bool:
    """Whether ``spec``'s poses are metric: its ``options.metric_scale``, else its format's default."""
    declared = (spec.options or {}).get("metric_scale")
    if declared is None:
        return reader(spec.format).metric_scale
    if not isinstance(declared, bool):
        raise SourceError(f"source {spec.name!r}: options.metric_scale must be true or false, got {declared!r}")
    return declared


def reader(fmt: str) -> Reader:
    try:
        return READERS[fmt]
    except KeyError:
        raise SourceError(f"unknown source format {fmt!r}; known formats: {sorted(READERS)}") from None


def load_sources_yaml(path: Path) -> list[SourceSpec]:
    """Parse a sources file: ``sources: [{name, domain, format, path, options}]``.

    Relative paths resolve against the file's folder.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise SourceError(f"{path}: sources file not found; create it or unset REMOT_SOURCES") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: invalid YAML ({str(exc).splitlines()[0]}); fix the sources file") from None
    specs = []
    for i, entry in enumerate(doc.get("sources") or []):
        missing = [k for k in ("name", "domain", "format", "path") if k not in entry]
        if missing:
            raise SourceError(f"{path}: source #{i} lacks {missing}; every source needs name, domain, format, path")
        reader(entry["format"])
        p = Path(entry["path"]).expanduser()
        specs.append(
            SourceSpec(entry["name"], entry["domain"], entry["format"], p if p.is_absolute() else (path.parent / p).resolve(),
                       dict(entry.get("options") or {}))
        )
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"{path}: duplicate source name(s) {dupes}; names must be unique")
    return specs


__all__ = ["DOMAINS", "READERS", "EpisodeRead", "EpisodeRef", "Reader", "SourceError", "SourceSpec", "load_sources_yaml", "reader"]
