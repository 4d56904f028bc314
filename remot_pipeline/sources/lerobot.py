"""LeRobot v3.0 datasets: ``meta/info.json``, ``meta/episodes/chunk-XXX/file-XXX.parquet``,
``data/chunk-XXX/file-XXX.parquet`` (many episodes per file) and
``videos/<key>/chunk-XXX/file-XXX.mp4`` (many episodes per file, located by timestamps).

``observation.state`` is mapped to end-effector position, rotation vector and gripper width
through the feature ``names`` in ``info.json`` or through ``options.state_mapping``::

    state_mapping: {ee_pos_base_m: [0, 1, 2], ee_rotvec_base_rad: [3, 4, 5], gripper_width_m: 6}

Camera extrinsics are optional: ``info.json``'s ``remot.cameras.<key>.cam2base`` (4x4); with
them ``cam2world`` is the fixed camera in the base frame, without them it is null.

Gripper widths must lie in ``[0, options.gripper_max_m]`` (default 0.5 m, :data:`.robot_table.GRIPPER_MAX_M_DEFAULT`).
What each broken input becomes is listed in :func:`read`.

Scenes: ``options.scene_id``, else the episodes table's extension column ``remot/scene_id``
(one scene per episode), else the dataset's folder name. Train and test are split by scene.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from remot_pipeline.core.ledger import QuarantineLog
from remot_pipeline.sources.robot_table import (
    check_frame_indices,
    check_gripper,
    check_timestamps_robust,
    checked_se3,
    gripper_max_m,
    one_line_errors,
)
from remot_pipeline.sources.base import (
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    check_video,
    drop_if_unusable,
    resolve_inside,
)

SCENE_COLUMN = "remot/scene_id"
STATE = "observation.state"


#: Feature names that identify end-effector state without configuration.
_KNOWN_NAMES = {
    "ee_pos_base_m": (["ee_x_m", "ee_y_m", "ee_z_m"], ["x", "y", "z"], ["eef_x", "eef_y", "eef_z"]),
    "ee_rotvec_base_rad": (["ee_rx_rad", "ee_ry_rad", "ee_rz_rad"], ["rx", "ry", "rz"], ["eef_rx", "eef_ry", "eef_rz"]),
    "gripper_width_m": (["gripper_width_m"], ["gripper"], ["gripper_width"]),
}


def _info(root: Path) -> dict:
    info_path = root / "meta" / "info.json"
    try:
        return json.loads(info_path.read_text(encoding="utf-8-sig"))  # a byte-order mark is not an error
    except FileNotFoundError:
        raise SourceError(f"{info_path}: missing; a LeRobot dataset needs meta/info.json") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"{info_path}: not UTF-8 text (byte {exc.start}); re-save the file as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{info_path}: invalid JSON ({exc.msg} at line {exc.lineno}); fix or re-export the file") from None


def _dataset_roots(root: Path) -> list[Path]:
    if (root / "meta" / "info.json").exists():
        return [root]
    return sorted(p.parent.parent for p in root.glob("*/meta/info.json"))


@one_line_errors
def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = Path(spec.path)
    if not root.is_dir():
        raise SourceError(f"{root}: source {spec.name!r} folder does not exist; create it or fix `path` in the sources file")
    refs = []
    for ds in _dataset_roots(root):
        info = _info(ds)
        if not isinstance(info, dict):
            raise SourceError(f"{ds / 'meta/info.json'}: holds a JSON {type(info).__name__}, not an object; re-export the file")
        version = str(info.get("codebase_version", ""))
        if not version.startswith("v3"):
            raise SourceError(f"{ds / 'meta/info.json'}: codebase_version {version!r} is not v3.x; declare format lerobot_v21 for it")
        _video_key(_checked_info(ds), spec.options, ds / "meta" / "info.json")  # a missing key fails the source here
        ep_files = sorted((ds / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not ep_files:
            raise SourceError(f"{ds / 'meta/episodes'}: no episode metadata parquet; the dataset is incomplete")
        files = [ds / "meta" / "info.json", *ep_files]
        files += sorted((ds / "data").glob("chunk-*/file-*.parquet"))
        files += sorted((ds / "videos").glob("*/chunk-*/file-*.mp4"))
        for f in ep_files:
            try:
                names = pq.read_schema(f).names
                has_scene = SCENE_COLUMN in names
                meta = pq.read_table(f, columns=["episode_index"] + ([SCENE_COLUMN] if has_scene else [])).to_pylist()
            except (pa.ArrowException, OSError, KeyError) as exc:
                raise SourceError(f"{f}: cannot read the episodes metadata ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0][:120]}); it needs an episode_index column; re-export the dataset") from None
            for line, row in enumerate(meta, start=1):
                if isinstance(row["episode_index"], bool) or not isinstance(row["episode_index"], int) or row["episode_index"] < 0:
                    raise SourceError(f"{f}: row {line} has episode_index {row['episode_index']!r}, not an index >= 0; "
                                      "re-export the episodes metadata")
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


@one_line_errors
def read(ref: EpisodeRef) -> EpisodeRead:
    """One episode; every row of it in the data file is kept or quarantined once.

    Decided outcomes: ``info.json`` without ``data_path``, ``video_path`` or a positive ``fps``, an
    episodes table without the episode's chunk/file/timestamp keys, a data file without
    ``episode_index``, ``frame_index``, ``timestamp`` or ``observation.state``, a state narrower
    than the mapping, a ``cam2base`` that is not a rigid 4x4: one-line :class:`SourceError`. A
    missing or unreadable data Parquet: the ``length`` rows the episodes table declares, each
    ``data_file_missing`` / ``data_file_unreadable``; an episode listed without rows in its data
    file: its declared rows ``episode_unusable``. Per row, first failing check wins: a non-numeric
    column (bool, text) ``value_type_invalid``; an ``observation.state`` that is null or holds another
    number of values than the other rows ``pose_malformed``; a frame index that is not an integer >= 0,
    repeats an earlier one or lies beyond the episode's video segment ``frame_index_invalid``; NaN in
    the end-effector ``nan_pose``, in the gripper or joints ``nan_value``; a gripper width outside
    ``[0, gripper_max_m]`` ``gripper_out_of_range``; timestamps (:func:`.robot_table.check_timestamps_robust`);
    then the video checks.
    """
    spec = ref.spec
    ds = Path(spec.path) / ref.episode_path
    info = _checked_info(ds)
    where = ds / "meta" / "info.json"
    episode_index = int(ref.episode_key.rsplit("_", 1)[-1])
    q = QuarantineLog("episode_frames", spec.domain, spec.name)
    eid = ref.episode_id

    meta, meta_file = _episode_meta(ds, episode_index)
    declared = _declared_length(meta)
    data_rel = _fill(info, "data_path", where, chunk_index=_meta_key(meta, "data/chunk_index", meta_file),
                     file_index=_meta_key(meta, "data/file_index", meta_file))
    data_file = resolve_inside(ds, data_rel)
    if data_file is None:
        raise SourceError(f"{where}: data_path {info['data_path']!r} leads outside the dataset; fix the template")
    if not data_file.is_file():
        return _declared_rows(ref, declared, "data_file_missing", data_file, f"{data_file.name} does not exist")
    try:
        table = pq.read_table(data_file)
    except (pa.ArrowException, OSError) as exc:
        return _declared_rows(ref, declared, "data_file_unreadable", data_file,
                              f"cannot read parquet ({str(exc).splitlines()[0][:120]})")
    for column in ("episode_index", "frame_index", "timestamp", STATE):
        if column not in table.column_names:
            raise SourceError(f"{data_file}: no {column!r} column (columns: {', '.join(table.column_names[:12])}); "
                              "a LeRobot v3 data file needs episode_index, frame_index, timestamp and observation.state")
    ep_col = table.column("episode_index")
    if not pa.types.is_integer(ep_col.type):
        raise SourceError(f"{data_file}: episode_index is {ep_col.type}, not an integer column; re-export the dataset")
    mask = pc.fill_null(pc.equal(ep_col, episode_index), False)
    file_rows = np.asarray(pc.indices_nonzero(mask).to_numpy(), dtype=np.int64)  # rows of this episode in the file
    table = table.filter(mask)
    rows_in = table.num_rows
    if rows_in == 0:
        detail = f"{meta_file.name} lists episode {episode_index} ({declared} frames) but {data_file.name} holds no row of it"
        return _declared_rows(ref, max(declared, 0), "episode_unusable", data_file, detail)
    lines = file_rows + 1  # 1-based row in the data file
    keep = np.ones(rows_in, dtype=bool)

    def reject(bad: np.ndarray, code: str, detail) -> None:
        for i in np.flatnonzero(keep & bad):
            q.add(code, detail(i) if callable(detail) else detail, file=str(data_file), line=int(lines[i]), episode_id=eid)
        keep[bad] = False

    frame_raw, frame_type_ok = _numeric(table.column("frame_index"))
    ts, ts_type_ok = _numeric(table.column("timestamp"))
    state, state_bad, state_type_ok = _state_matrix(table.column(STATE))
    for ok, name, col in ((frame_type_ok, "frame_index", "frame_index"), (ts_type_ok, "timestamp", "timestamp"),
                          (state_type_ok, STATE, STATE)):
        if not ok:
            reject(np.ones(rows_in, bool), "value_type_invalid", f"column {name!r} is {table.column(col).type}, not numeric")
    state_len = _state_lengths(table.column(STATE)) if state_type_ok else None
    reject(state_bad, "pose_malformed", lambda i: f"{STATE} {'is null' if state_len[i] < 0 else f'holds {state_len[i]} values'} "
           f"where the other rows hold {state.shape[1]}")

    # Frame indices: integers >= 0, unique, inside the episode's video segment.
    video_key = _video_key(info, spec.options, where)
    fps = float(info["fps"])
    from_ts = _meta_number(meta, f"videos/{video_key}/from_timestamp", meta_file)
    to_ts = meta.get(f"videos/{video_key}/to_timestamp")
    limit = int(round((float(to_ts) - from_ts) * fps)) if isinstance(to_ts, (int, float)) and np.isfinite(to_ts) else None
    keep[:], frame_index = check_frame_indices(frame_raw, keep, lines, data_file, q, eid, limit=limit,
                                               what="frame_index")
    order = np.lexsort((np.arange(rows_in), frame_index, ~keep))  # kept rows by frame index, file order otherwise
    frame_index, ts, state, lines, keep = frame_index[order], ts[order], state[order], lines[order], keep[order]
    kept = np.flatnonzero(keep)
    repeats = kept[1:][np.diff(frame_index[kept]) == 0]
    for i in repeats:
        q.add("frame_index_invalid", f"frame_index {int(frame_index[i])} repeats an earlier row", file=str(data_file),
              line=int(lines[i]), episode_id=eid)
    keep[repeats] = False

    mapping = _validated_mapping(info, spec.options, where, state.shape[1], data_file)
    note = None
    if "ee_pos_base_m" not in mapping and "gripper_width_m" not in mapping:
        note = joint_space_note(info)
    cols = {k: state[:, v] for k, v in mapping.items()}
    # Only the mapped signals (or, joint-space only, the whole state) must be finite.
    pose_cols = [c for k, c in cols.items() if k != "gripper_width_m"]
    if pose_cols:
        reject(~np.isfinite(np.column_stack(pose_cols)).all(axis=1), "nan_pose", "end-effector pose holds NaN/inf")
    if "gripper_width_m" in cols:
        keep[:] = check_gripper(cols["gripper_width_m"], keep, lines, data_file, q, eid,
                                gripper_max_m(spec.options, f"source {spec.name!r}"))
    elif not pose_cols:
        reject(~np.isfinite(state).all(axis=1), "nan_value", "joint state holds NaN/inf")
    keep[:] = check_timestamps_robust(ts, keep, lines, data_file, q, eid)

    rel_video = _fill(info, "video_path", where, video_key=video_key,
                      chunk_index=_meta_key(meta, f"videos/{video_key}/chunk_index", meta_file),
                      file_index=_meta_key(meta, f"videos/{video_key}/file_index", meta_file))
    video = resolve_inside(ds, rel_video)
    first = int(round(from_ts * fps))
    media_index = first + frame_index
    keep = check_video(video, rel_video, media_index, keep, lines, video or ds / rel_video, q, eid, frame_index)

    idx = drop_if_unusable(keep, lines, data_file, q, eid)
    cam = ((info.get("remot") or {}).get("cameras") or {}).get(video_key) or {}
    if not isinstance(cam, dict):
        raise SourceError(f"{where}: remot.cameras.{video_key} is not an object; fix info.json")
    cam2base = checked_se3(cam["cam2base"], f"{where}: remot.cameras.{video_key}.cam2base") if "cam2base" in cam else None
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
    width, height = _frame_size(info, video_key, where)
    try:
        intr = tuple(float(cam[k]) for k in ("fx", "fy", "cx", "cy")) if {"fx", "fy", "cx", "cy"} <= set(cam) else None
    except (TypeError, ValueError):
        raise SourceError(f"{where}: remot.cameras.{video_key} fx, fy, cx, cy must be numbers; fix info.json") from None
    if note is not None:
        columns["joint_state"] = state[idx]
    return EpisodeRead(ref, columns, q, rows_in, fps=fps, width_px=width, height_px=height,
                       intrinsics_px=intr, note=note)


def _checked_info(ds: Path) -> dict:
    """``meta/info.json`` with the keys a read needs, or a one-line SourceError naming the key."""
    info = _info(ds)
    where = ds / "meta" / "info.json"
    if not isinstance(info, dict):
        raise SourceError(f"{where}: holds a JSON {type(info).__name__}, not an object; re-export the file")
    for key, example in (("data_path", "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"),
                         ("video_path", "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4")):
        if not isinstance(info.get(key), str) or not info[key]:
            raise SourceError(f"{where}: no {key!r} template (got {info.get(key)!r}); add e.g. \"{key}\": \"{example}\"")
    fps = info.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0:
        raise SourceError(f"{where}: fps {fps!r} is {'missing' if fps is None else 'not a positive number'}; "
                          "add the dataset's frame rate, e.g. \"fps\": 30")
    if not isinstance(info.get("features"), dict):
        raise SourceError(f"{where}: no 'features' object; a LeRobot info.json describes its features there")
    return info


def _fill(info: dict, key: str, where: Path, **fields) -> str:
    """``info[key]`` (a path template) filled with ``fields``; one line naming the fields it may use."""
    try:
        return str(info[key]).format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        names = ", ".join("{" + f + "}" for f in fields)
        raise SourceError(f"{where}: {key} template {info.get(key)!r} cannot be filled ({type(exc).__name__}: {exc}); "
                          f"use {names}") from None


def _meta_key(meta: dict, key: str, meta_file: Path) -> int:
    v = meta.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise SourceError(f"{meta_file}: episode {meta.get('episode_index')} has {key} = {v!r}, not an index >= 0; "
                          "re-export the episodes metadata")
    return int(v)


def _meta_number(meta: dict, key: str, meta_file: Path) -> float:
    v = meta.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
        raise SourceError(f"{meta_file}: episode {meta.get('episode_index')} has {key} = {v!r}, not a time >= 0; "
                          "re-export the episodes metadata")
    return float(v)


def _declared_length(meta: dict) -> int:
    for a, b in (("length", None), ("dataset_to_index", "dataset_from_index")):
        v = meta.get(a)
        w = 0 if b is None else meta.get(b)
        if isinstance(v, (int, np.integer)) and isinstance(w, (int, np.integer)) and v - w >= 0:
            return int(v - w)
    return 0


def _video_key(info: dict, options: dict, where: Path) -> str:
    videos = [k for k, f in info["features"].items() if isinstance(f, dict) and f.get("dtype") == "video"]
    key = options.get("video_key") or (videos[0] if videos else None)
    if key is None:
        raise SourceError(f"{where}: no video feature; declare options.video_key")
    if key not in videos:
        raise SourceError(f"{where}: video_key {key!r} is not a video feature (have {videos}); fix options.video_key")
    return key


def _frame_size(info: dict, video_key: str, where: Path) -> tuple[int, int]:
    shape = info["features"][video_key].get("shape", [0, 0, 3])
    try:
        return int(shape[1]), int(shape[0])
    except (TypeError, ValueError, IndexError, KeyError):
        raise SourceError(f"{where}: features.{video_key}.shape {shape!r} is not [height, width, channels]; fix info.json") from None


def _numeric(col: pa.ChunkedArray) -> tuple[np.ndarray, bool]:
    """``(float64 values, numeric?)``; nulls are NaN; a bool or text column is not numeric (never 1.0)."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64), True
    return np.full(len(col), np.nan), False


def _state_lengths(col: pa.ChunkedArray) -> list[int]:
    """Per row, the number of values of a list column (-1 for a null row)."""
    return [len(c) if c is not None else -1 for c in col.to_pylist()]


def _state_matrix(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(values (n, k), bad (n,), numeric?)`` of a list column; a null row or one of another length
    than the most common is bad (NaN-filled). A list of bools or text is not numeric: all NaN, of
    the common length (the caller rejects every row as ``value_type_invalid``, never reads 1.0)."""
    t = col.type
    n = len(col)
    is_list = pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t)
    if not is_list:
        return np.full((n, 0), np.nan), np.zeros(n, bool), False
    cells = col.to_pylist()
    lengths = [len(c) if c is not None else -1 for c in cells]
    present = [m for m in lengths if m >= 0]
    k = max(set(present), key=present.count) if present else 0
    out = np.full((n, k), np.nan)
    vt = t.value_type
    if not (pa.types.is_integer(vt) or pa.types.is_floating(vt)):
        return out, np.zeros(n, bool), False
    bad = np.zeros(n, bool)
    for i, c in enumerate(cells):
        if c is None or len(c) != k:
            bad[i] = True
        else:
            out[i] = [np.nan if x is None else x for x in c]
    return out, bad, True


def _validated_mapping(info: dict, options: dict, where: Path, width: int, data_file: Path) -> dict:
    """The state mapping, each entry 3 (ee) or 1 (gripper) indices inside the state's ``width``."""
    mapping = _state_mapping(info, options)
    sizes = {"ee_pos_base_m": 3, "ee_rotvec_base_rad": 3, "gripper_width_m": 1}
    for k, v in mapping.items():
        idx = [v] if isinstance(v, int) else list(v) if isinstance(v, (list, tuple)) else None
        if k not in sizes or idx is None or len(idx) != sizes[k] or not all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in idx):
            raise SourceError(f"{where}: state_mapping {k}: {v!r} is not {sizes.get(k, '?')} state indices "
                              f"(keys: {sorted(sizes)}); fix options.state_mapping")
        if max(idx) >= width:
            raise SourceError(f"{data_file}: {STATE} holds {width} values but {k} maps index {max(idx)}; "
                              "fix options.state_mapping or the feature names in meta/info.json")
    return mapping


def _declared_rows(ref: EpisodeRef, n: int, code: str, file: Path, detail: str) -> EpisodeRead:
    """An episode whose rows cannot be had: the rows the episodes table declares, all quarantined."""
    spec = ref.spec
    q = QuarantineLog("episode_frames", spec.domain, spec.name)
    for i in range(n):
        q.add(code, detail, file=str(file), line=i + 1, episode_id=ref.episode_id, frame_index=i)
    return EpisodeRead(ref, {"frame_index": np.arange(0), "timestamp_s": np.zeros(0)}, q, n, fps=0.0, width_px=0, height_px=0)


def _episode_meta(ds: Path, episode_index: int) -> tuple[dict, Path]:
    for f in sorted((ds / "meta" / "episodes").glob("chunk-*/file-*.parquet")):
        try:
            t = pq.read_table(f)
            t = t.filter(pc.fill_null(pc.equal(t.column("episode_index"), episode_index), False))
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise SourceError(f"{f}: cannot read the episodes metadata ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:120]}); re-export the dataset") from None
        if t.num_rows:
            return {k: v[0] for k, v in t.to_pydict().items()}, f
    raise SourceError(f"{ds / 'meta/episodes'}: episode {episode_index} not listed; the dataset is incomplete")
