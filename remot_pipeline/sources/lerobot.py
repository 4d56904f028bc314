"""LeRobot v3.0 datasets: ``meta/info.json``, ``meta/episodes/chunk-XXX/file-XXX.parquet``,
``data/chunk-XXX/file-XXX.parquet`` (many episodes per file) and
``videos/<key>/chunk-XXX/file-XXX.mp4`` (many episodes per file, located by timestamps).

``observation.state`` is mapped to end-effector position, rotation vector and gripper width
through the feature ``names`` in ``info.json`` or through ``options.state_mapping``::

    state_mapping: {ee_pos_base_m: [0, 1, 2], ee_rotvec_base_rad: [3, 4, 5], gripper_width_m: 6}

Camera extrinsics are optional: ``info.json``'s ``remot.cameras.<key>.cam2base`` (4x4); with
them ``cam2world`` is the fixed camera in the base frame, without them it is null.

Scenes: ``options.scene_id``, else the episodes table's extension column ``remot/scene_id``
(one scene per episode), else the dataset's folder name. Train and test are split by scene.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from remot_pipeline.core.ledger import QuarantineLog
from remot_pipeline.sources.base import (
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    check_timestamps,
    check_video,
    drop_if_unusable,
    resolve_inside,
)

SCENE_COLUMN = "remot/scene_id"

#: Feature names that identify end-effector state without configuration.
_KNOWN_NAMES = {
    "ee_pos_base_m": (["ee_x_m", "ee_y_m", "ee_z_m"], ["x", "y", "z"], ["eef_x", "eef_y", "eef_z"]),
    "ee_rotvec_base_rad": (["ee_rx_rad", "ee_ry_rad", "ee_rz_rad"], ["rx", "ry", "rz"], ["eef_rx", "eef_ry", "eef_rz"]),
    "gripper_width_m": (["gripper_width_m"], ["gripper"], ["gripper_width"]),
}


def _info(root: Path) -> dict:
    info_path = root / "meta" / "info.json"
    try:
        return json.loads(info_path.read_text())
    except FileNotFoundError:
        raise SourceError(f"{info_path}: missing; a LeRobot dataset needs meta/info.json") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{info_path}: invalid JSON ({exc.msg} at line {exc.lineno}); fix or re-export the file") from None


def _dataset_roots(root: Path) -> list[Path]:
    if (root / "meta" / "info.json").exists():
        return [root]
    return sorted(p.parent.parent for p in root.glob("*/meta/info.json"))


def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = Path(spec.path)
    if not root.is_dir():
        raise SourceError(f"{root}: source {spec.name!r} folder does not exist; create it or fix `path` in the sources file")
    refs = []
    for ds in _dataset_roots(root):
        info = _info(ds)
        version = str(info.get("codebase_version", ""))
        if not version.startswith("v3"):
            raise SourceError(f"{ds / 'meta/info.json'}: codebase_version {version!r} is not v3.x; declare format lerobot_v21 for it")
        ep_files = sorted((ds / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not ep_files:
            raise SourceError(f"{ds / 'meta/episodes'}: no episode metadata parquet; the dataset is incomplete")
        files = [ds / "meta" / "info.json", *ep_files]
        files += sorted((ds / "data").glob("chunk-*/file-*.parquet"))
        files += sorted((ds / "videos").glob("*/chunk-*/file-*.mp4"))
        for f in ep_files:
            has_scene = SCENE_COLUMN in pq.read_schema(f).names
            meta = pq.read_table(f, columns=["episode_index"] + ([SCENE_COLUMN] if has_scene else [])).to_pylist()
            for row in meta:
                rel = str(ds.relative_to(root)) if ds != root else "."
                key = f"{ds.name}__episode_{int(row['episode_index']):06d}"
                scene = spec.options.get("scene_id") or row.get(SCENE_COLUMN) or ds.name
                refs.append(EpisodeRef(spec, key, rel, tuple(files), scene_id=str(scene)))
    return refs


def joint_space_note(info: dict) -> str:
    """The plain statement recorded for robots whose state has no end-effector or gripper signal."""
    names = (info.get("features", {}).get("observation.state", {}) or {}).get("names")
    return (
        "joint-space only: observation.state carries no end-effector pose or gripper width "
        f"(names: {str(names)[:120]}); no manipulation attribute can be labelled. Declare "
        "options.state_mapping if some of these columns are an end effector or a gripper."
    )


def _state_mapping(info: dict, options: dict) -> dict:
    if "state_mapping" in options:
        return dict(options["state_mapping"])
    names = (info.get("features", {}).get("observation.state", {}) or {}).get("names") or []
    if isinstance(names, dict):  # some exports nest names under a key
        names = next(iter(names.values()), [])
    if names and all(isinstance(n, list) for n in names):  # Unitree-style nested [[...]]
        names = [x for n in names for x in n]
    mapping = {}
    for column, candidates in _KNOWN_NAMES.items():
        for cand in candidates:
            if all(c in names for c in cand):
                idx = [names.index(c) for c in cand]
                mapping[column] = idx if len(idx) > 1 else idx[0]
                break
    return mapping


def read(ref: EpisodeRef) -> EpisodeRead:
    spec = ref.spec
    ds = Path(spec.path) / ref.episode_path
    info = _info(ds)
    episode_index = int(ref.episode_key.rsplit("_", 1)[-1])
    q = QuarantineLog("episode_frames", spec.domain, spec.name)
    eid = ref.episode_id

    meta = _episode_meta(ds, episode_index)
    data_file = ds / info["data_path"].format(chunk_index=meta["data/chunk_index"], file_index=meta["data/file_index"])
    table = pq.read_table(data_file)
    mask = pc.equal(table.column("episode_index"), episode_index)
    file_rows = np.asarray(pc.indices_nonzero(mask).to_numpy(), dtype=np.int64)  # rows of this episode in the file
    table = table.filter(mask)
    rows_in = table.num_rows
    frame_index = np.asarray(table.column("frame_index").to_numpy(), dtype=np.int64)
    order = np.argsort(frame_index, kind="stable")
    table = table.take(order)
    lines = file_rows[order] + 1  # 1-based row in the data file
    ts = np.asarray(table.column("timestamp").to_numpy(), dtype=np.float64)
    state = np.asarray(table.column("observation.state").to_pylist(), dtype=np.float64)
    frame_index = np.asarray(table.column("frame_index").to_numpy(), dtype=np.int64)

    mapping = _state_mapping(info, spec.options)
    note = None
    if "ee_pos_base_m" not in mapping and "gripper_width_m" not in mapping:
        note = joint_space_note(info)
    cols = {k: state[:, v] for k, v in mapping.items()}
    keep = np.ones(rows_in, dtype=bool)
    # Only the mapped signals (or, joint-space only, the whole state) must be finite.
    pose_cols = [c for k, c in cols.items() if k != "gripper_width_m"]
    pose_ok = np.isfinite(np.column_stack(pose_cols)).all(axis=1) if pose_cols else np.ones(rows_in, bool)
    other = [cols["gripper_width_m"]] if "gripper_width_m" in cols else ([] if pose_cols else [state])
    other_ok = np.isfinite(np.column_stack(other)).all(axis=1) if other else np.ones(rows_in, bool)
    for i in np.flatnonzero(~pose_ok):
        q.add("nan_pose", "end-effector pose holds NaN/inf", file=str(data_file), line=int(lines[i]), episode_id=eid)
    for i in np.flatnonzero(pose_ok & ~other_ok):
        q.add("nan_value", "gripper width or joint state holds NaN/inf", file=str(data_file), line=int(lines[i]),
              episode_id=eid)
    keep &= pose_ok & other_ok
    keep = check_timestamps(ts, keep, lines, data_file, q, eid)

    video_key = spec.options.get("video_key") or next(
        (k for k, f in info.get("features", {}).items() if f.get("dtype") == "video"), None
    )
    if video_key is None:
        raise SourceError(f"{ds / 'meta/info.json'}: no video feature; declare options.video_key")
    fps = float(info["fps"])
    rel_video = info["video_path"].format(
        video_key=video_key,
        chunk_index=meta[f"videos/{video_key}/chunk_index"],
        file_index=meta[f"videos/{video_key}/file_index"],
    )
    video = resolve_inside(ds, rel_video)
    first = int(round(float(meta[f"videos/{video_key}/from_timestamp"]) * fps))
    media_index = first + frame_index
    keep = check_video(video, rel_video, media_index, keep, lines, video or ds / rel_video, q, eid, frame_index)

    idx = drop_if_unusable(keep, lines, data_file, q, eid)
    cam = ((info.get("remot") or {}).get("cameras") or {}).get(video_key) or {}
    cam2base = np.asarray(cam["cam2base"], dtype=np.float64) if "cam2base" in cam else None
    media_rel = str(Path(ref.episode_path) / rel_video) if ref.episode_path != "." else rel_video
    columns = {
        "frame_index": np.arange(idx.size),
        "timestamp_s": ts[idx] - (ts[idx[0]] if idx.size else 0.0),
        "cam2world": None if cam2base is None else np.broadcast_to(cam2base, (idx.size, 4, 4)).copy(),
        "ee_pos_base_m": cols["ee_pos_base_m"][idx] if "ee_pos_base_m" in cols else None,
        "ee_rotvec_base_rad": cols["ee_rotvec_base_rad"][idx] if "ee_rotvec_base_rad" in cols else None,
        "gripper_width_m": cols["gripper_width_m"][idx].tolist() if "gripper_width_m" in cols else None,
        "media_path": [media_rel] * idx.size,
        "media_frame_index": media_index[idx],
    }
    shape = info["features"][video_key].get("shape", [0, 0, 3])
    intr = (cam["fx"], cam["fy"], cam["cx"], cam["cy"]) if {"fx", "fy", "cx", "cy"} <= set(cam) else None
    if note is not None:
        columns["joint_state"] = state[idx]
    return EpisodeRead(ref, columns, q, rows_in, fps=fps, width_px=int(shape[1]), height_px=int(shape[0]),
                       intrinsics_px=intr, note=note)


def _episode_meta(ds: Path, episode_index: int) -> dict:
    for f in sorted((ds / "meta" / "episodes").glob("chunk-*/file-*.parquet")):
        t = pq.read_table(f)
        t = t.filter(pc.equal(t.column("episode_index"), episode_index))
        if t.num_rows:
            return {k: v[0] for k, v in t.to_pydict().items()}
    raise SourceError(f"{ds / 'meta/episodes'}: episode {episode_index} not listed; the dataset is incomplete")
