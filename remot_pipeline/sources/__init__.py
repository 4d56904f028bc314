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


#: Options every format accepts.
COMMON_OPTIONS = frozenset({"scene_id", "metric_scale"})
#: The media options of the table readers (``robot_table.media_options``).
_MEDIA = frozenset({"episode_column", "fps", "frame_column", "intrinsics", "video", "video_column", "video_fps",
                    "video_time_column"})
#: The keys of a source entry in a sources file.
ENTRY_KEYS = ("name", "domain", "format", "path", "options")


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
    #: The ``options`` keys the format reads (besides :data:`COMMON_OPTIONS`); any other key is a
    #: typo and fails the sources file (tests/test_sources_config.py keeps this in step with the code).
    options: frozenset[str] = frozenset()
    #: Domains the format can feed (default: ``domain`` alone).
    domains: tuple[str, ...] = ()

    def serves(self, domain: str) -> bool:
        return domain in (self.domains or (self.domain,))


READERS: dict[str, Reader] = {
    "tum": Reader(tum.discover, tum.read, "navigation", "TUM RGB-D groundtruth.txt + rgb.txt (images or video)",
                  options=frozenset({"max_time_diff_s", "quat_norm_tol", "trajectory_glob"})),
    "kitti": Reader(kitti.discover, kitti.read, "navigation", "KITTI odometry poses (3x4 camera-to-world) + times.txt",
                    options=frozenset({"fps", "image_dir", "rotation_tol"})),
    "euroc": Reader(euroc.discover, euroc.read, "navigation", "EuRoC MAV ground truth (ns, quaternion w-first)",
                    options=frozenset({"camera", "max_time_diff_s", "quat_norm_tol"})),
    "realestate10k": Reader(realestate10k.discover, realestate10k.read, "navigation",
                            "RealEstate10K camera txt (world-to-camera, normalised intrinsics)", metric_scale=False,
                            options=frozenset({"glob", "height", "rotation_tol", "video_dir", "video_frames", "width"})),
    "nerf": Reader(nerf.discover, nerf.read, "navigation", "NeRF / instant-ngp / nerfstudio transforms.json (OpenGL axes)",
                   metric_scale=False, options=frozenset({"fps", "glob", "rotation_tol", "time_scale_s"})),
    "scannet": Reader(scannet.discover, scannet.read, "navigation", "ScanNet exported pose/<i>.txt + color/<i>.jpg",
                      options=frozenset({"color_dir", "fps", "rotation_tol"})),
    "sevenscenes": Reader(sevenscenes.discover, sevenscenes.read, "navigation", "7-Scenes frame-XXXXXX.pose.txt",
                          options=frozenset({"fps", "intrinsics", "rotation_tol"})),
    "pose_table": Reader(pose_table.discover, pose_table.read, "navigation", "generic camera-pose CSV/Parquet",
                         options=frozenset({"axes", "columns", "convention", "delimiter", "episode_column", "frame_column",
                                            "glob", "image_column", "intrinsics", "quat_norm_tol", "quat_order",
                                            "rotation_tol", "timestamp_unit"}),
                         domains=("navigation", "simulation")),
    "lerobot_v3": Reader(lerobot.discover, lerobot.read, "manipulation", "LeRobot v3.0 dataset",
                         options=frozenset({"cam2base", "gripper_max_m", "state_mapping", "video_key"})),
    "remot_sim_jsonl": Reader(simlog.discover, simlog.read, "simulation", "remot simulation log.jsonl + video"),
    "lerobot_v21": Reader(lerobot_v21.discover, lerobot_v21.read, "manipulation",
                          "LeRobot v2.x: meta/episodes.jsonl, one parquet + mp4 per episode",
                          options=frozenset({"cam2base", "gripper_max_m", "state_mapping", "video_key"})),
    "umi_v1": Reader(umi_v1.discover, umi_v1.read, "manipulation", "UMI / early LeRobot: HF arrow or flat CSV + mp4",
                     options=frozenset({"csv_glob", "fps", "gripper_max_m", "table"})),
    "robot_table": Reader(robot_table.discover, robot_table.read, "manipulation", "generic robot telemetry CSV/Parquet",
                          options=_MEDIA | {"cam2base", "columns", "glob", "gripper_max_m", "gripper_unit", "position_unit",
                                            "quat_norm_tol",
                                            "quat_order", "timestamp_unit"}),
    "sim_pose_table": Reader(sim_conventions.discover, sim_conventions.read, "simulation",
                             "simulator camera/object poses in opencv, habitat or carla conventions",
                             options=_MEDIA | {"columns", "convention", "fov_deg", "glob", "objects", "quat_norm_tol",
                                               "quat_order", "timestamp_unit"}),
}


def nearest(word: str, choices) -> str:
    """`` (did you mean `x`?)`` for the closest of ``choices``, or ``""``.

    >>> nearest("max_time_dif_s", ["max_time_diff_s", "scene_id"])
    ' (did you mean `max_time_diff_s`?)'
    """
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def check_spec(spec: SourceSpec, where: str) -> None:
    """One line naming ``where`` when ``spec`` declares an option its format does not read, or a
    domain its format cannot feed."""
    r = reader(spec.format)
    if not r.serves(spec.domain):
        serves = r.domains or (r.domain,)
        raise SourceError(f"{where}: format {spec.format!r} feeds {' or '.join(serves)}, not {spec.domain!r}; fix "
                          "`domain` or `format`")
    allowed = r.options | COMMON_OPTIONS
    for key in spec.options or {}:
        if key not in allowed:
            raise SourceError(f"{where}: unknown option {key!r} for format {spec.format!r}{nearest(key, allowed)}; "
                              f"known: {sorted(allowed)}")


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

    Relative paths resolve against the file's folder. Strict: an unknown key in an entry or in its
    ``options``, a value of the wrong type, or a format declared for a domain it cannot feed is a
    one-line :class:`SourceError` naming the file, the entry and the fix (with the nearest valid
    key for a typo).
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise SourceError(f"{path}: sources file not found; create it or unset REMOT_SOURCES") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: invalid YAML ({str(exc).splitlines()[0]}); fix the sources file") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise SourceError(f"{path}: the top level is a {type(doc).__name__}; expected a mapping `sources: [...]`")
    if set(doc) - {"sources"}:
        key = sorted(set(doc) - {"sources"}, key=str)[0]
        raise SourceError(f"{path}: unknown top-level key {key!r}{nearest(key, ['sources'])}; the file holds `sources:` only")
    entries = doc.get("sources") or []
    if not isinstance(entries, list):
        raise SourceError(f"{path}: `sources` is a {type(entries).__name__}; expected a list of entries")
    specs = []
    for i, entry in enumerate(entries):
        label = entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else f"#{i}"
        where = f"{path}: source {label}"
        if not isinstance(entry, dict):
            raise SourceError(f"{where}: is a {type(entry).__name__}; expected a mapping with name, domain, format, path")
        for key in entry:
            if key not in ENTRY_KEYS:
                raise SourceError(f"{where}: unknown key {key!r}{nearest(key, ENTRY_KEYS)}; an entry holds {list(ENTRY_KEYS)}")
        missing = [k for k in ENTRY_KEYS[:4] if k not in entry]
        if missing:
            raise SourceError(f"{where}: lacks {missing}; every source needs name, domain, format, path")
        for key in ENTRY_KEYS[:4]:
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise SourceError(f"{where}: `{key}` is {entry[key]!r}; expected a non-empty string")
        options = entry.get("options")
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise SourceError(f"{where}: `options` is a {type(options).__name__}; expected a mapping (key: value)")
        if entry["domain"] not in DOMAINS:
            raise SourceError(f"{where}: domain {entry['domain']!r} is not one of {list(DOMAINS)}"
                              f"{nearest(entry['domain'], DOMAINS)}")
        if entry["format"] not in READERS:
            raise SourceError(f"{where}: unknown format {entry['format']!r}{nearest(entry['format'], READERS)}; "
                              f"known formats: {sorted(READERS)}")
        p = Path(entry["path"]).expanduser()
        spec = SourceSpec(entry["name"], entry["domain"], entry["format"],
                          p if p.is_absolute() else (path.parent / p).resolve(), dict(options))
        check_spec(spec, where)
        specs.append(spec)
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"{path}: duplicate source name(s) {dupes}; names must be unique")
    return specs


__all__ = ["COMMON_OPTIONS", "DOMAINS", "READERS", "EpisodeRead", "check_spec", "nearest", "EpisodeRef", "Reader", "SourceError", "SourceSpec", "load_sources_yaml", "reader"]
