"""LeRobot v2.x datasets (``codebase_version`` v2.0 / v2.1): ``meta/info.json``,
``meta/episodes.jsonl`` (one JSON object per episode: ``episode_index``, ``tasks``, ``length``),
one parquet per episode at ``info.data_path`` and one mp4 per episode and camera at
``info.video_path``. Both are ``str.format`` templates filled with ``episode_chunk =
episode_index // chunks_size``, ``episode_index`` and ``video_key``, relative to the dataset.

``observation.state`` is mapped to end-effector position, rotation vector and gripper width
through the feature ``names`` (the known names of the v3.0 reader, :mod:`.lerobot`) or through
``options.state_mapping`` (``{ee_pos_base_m: [0, 1, 2], ee_rotvec_base_rad: [3, 4, 5],
gripper_width_m: 6}``). ``names`` written as a nested list ``[[...]]`` (Unitree exports) are
flattened first. A robot whose state has neither an end-effector position nor a gripper is
*joint-space only*: its frames are kept with ``joint_state`` and no EE/gripper, and the episode's
``note`` says so (:func:`.lerobot.joint_space_note`).

A frame's index in its video is ``round(timestamp * fps)``: LeRobot itself locates video frames
by timestamp. Camera extrinsics are optional (``info.remot.cameras.<key>.cam2base`` or
``options.cam2base``, 4x4): with them ``cam2world`` is that fixed pose (world = robot base),
without them it is null.

Options: ``state_mapping``, ``video_key`` (default: the first video feature), ``cam2base``,
``gripper_max_m``, ``scene_id``.

Decided outcomes for broken datasets:

* ``meta/info.json`` missing or invalid, a version other than v2.x, ``meta/episodes.jsonl``
  missing or holding a malformed line, an episode listed twice, a path template with unknown
  fields, or a ``data_path`` template that leads outside the dataset: one-line
  :class:`SourceError` (these concern every episode).
* An episode listed in ``episodes.jsonl`` whose parquet is missing: each of the ``length`` rows
  the metadata declares is quarantined as ``data_file_missing`` (locator: the expected file,
  rows 1..length); an unreadable parquet likewise as ``data_file_unreadable``. The other
  episodes carry on.
* An episode whose parquet holds no row: its declared rows, each ``episode_unusable``.
* ``fps`` missing or not a positive number while a video feature needs it, a ``cam2base`` that is
  not a rigid 4x4: one-line :class:`SourceError`.
* A data file without ``observation.state``, or a state narrower than the mapping: one-line
  :class:`SourceError` naming the file.
* Per row: an ``observation.state`` that is null or holds another number of values than the
  other rows ``pose_malformed``; a bool or text where a number is declared ``value_type_invalid``;
  a ``frame_index`` that is not an integer >= 0 ``frame_index_invalid``; NaN in the mapped end-effector columns
  ``nan_pose``, in the gripper or the joint state ``nan_value``; a gripper width outside
  ``[0, options.gripper_max_m]`` (default 0.5 m) ``gripper_out_of_range``; NaN timestamps
  ``timestamp_nonfinite``, one isolated jump ahead ``timestamp_outlier`` (alone), unsorted /
  repeated timestamps; and the video checks of
  :func:`.robot_table.check_media` (a ``video_path`` leading outside the source root is
  ``path_escapes_root`` for each row). Locators are 1-based rows of the episode's parquet.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from remot_pipeline.core.ledger import QuarantineLog
from remot_pipeline.sources.base import EpisodeRead, EpisodeRef, SourceError, SourceSpec, resolve_inside
from remot_pipeline.sources.lerobot import _dataset_roots, _fill, _info, _state_mapping, joint_space_note
from remot_pipeline.sources.robot_table import Layout, checked_se3, gripper_max_m, one_line_errors, read_rows, rows_from_arrow

FORMAT = "lerobot_v21"
STATE = "observation.state"


@one_line_errors
def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = Path(spec.path)
    if not root.is_dir():
        raise SourceError(f"{root}: source {spec.name!r} folder does not exist; create it or fix `path` in the sources file")
    roots = _dataset_roots(root)
    if not roots:
        raise SourceError(f"{root / 'meta/info.json'}: missing; a LeRobot v2.1 dataset needs meta/info.json")
    refs = []
    for ds in roots:
        info = _checked_info(ds)
        video_key = _video_key(info, spec.options, ds)
        for ep in _episodes(ds):
            index = ep["episode_index"]
            data = _data_file(ds, info, index)
            files = [ds / "meta" / "info.json", ds / "meta" / "episodes.jsonl"]
            if data.is_file():
                files.append(data)
            if video_key is not None:
                rel_ds = os.path.relpath(ds, root)
                video = resolve_inside(root, os.path.normpath(os.path.join(rel_ds, _video_rel(ds, info, index, video_key))))
                if video is not None and video.is_file():
                    files.append(video)
            rel = str(ds.relative_to(root)) if ds != root else "."
            key = f"{ds.name}__episode_{index:06d}"
            refs.append(EpisodeRef(spec, key, rel, tuple(files), scene_id=spec.options.get("scene_id", ds.name)))
    return refs


@one_line_errors
def read(ref: EpisodeRef) -> EpisodeRead:
    spec = ref.spec
    ds = Path(spec.path) / ref.episode_path
    info = _checked_info(ds)
    index = int(ref.episode_key.rsplit("_", 1)[-1])
    meta = next((e for e in _episodes(ds) if e["episode_index"] == index), None)
    if meta is None:
        raise SourceError(f"{ds / 'meta/episodes.jsonl'}: episode {index} is no longer listed; re-run discovery")
    data = _data_file(ds, info, index)
    declared = _declared_length(meta, ds)
    if not data.is_file():
        return _declared_rows(ref, declared, "data_file_missing", data, f"{data.name} does not exist")
    try:
        table = pq.read_table(data)
    except (pa.ArrowException, OSError) as exc:
        return _declared_rows(ref, declared, "data_file_unreadable", data, f"cannot read parquet ({str(exc).splitlines()[0][:120]})")
    if table.num_rows == 0 and declared > 0:
        return _declared_rows(ref, declared, "episode_unusable", data,
                              f"episodes.jsonl lists {declared} frames but {data.name} holds no row")
    rows = rows_from_arrow(table, data)

    flat_info = _flat_names(info)
    mapping = _checked_mapping(flat_info, spec.options, ds)
    state_width, lengths = _state_width(table, data)
    for k, v in mapping.items():
        top = max([v] if isinstance(v, int) else v)
        if state_width is not None and top >= state_width:
            raise SourceError(f"{data}: {STATE} holds {state_width} values but {k} maps index {top}; "
                              "fix options.state_mapping or the feature names in meta/info.json")
    # A state row that is null or holds another number of values than the others is pose_malformed;
    # the table engine reads the other rows.
    bad = [] if lengths is None else [i for i, n in enumerate(lengths) if n != state_width]
    note = None
    if "ee_pos_base_m" not in mapping and "gripper_width_m" not in mapping:
        note = joint_space_note(flat_info)
    video_key = _video_key(info, spec.options, ds)
    where = ds / "meta" / "info.json"
    fps = _fps(info, where, required=video_key is not None)
    cam = (((info.get("remot") or {}).get("cameras") or {}).get(video_key) or {}) if video_key else {}
    if not isinstance(cam, dict):
        raise SourceError(f"{where}: remot.cameras.{video_key} is not an object; fix info.json")
    cam2base = spec.options.get("cam2base", cam.get("cam2base"))
    if cam2base is not None:
        origin = f"source {spec.name!r} options.cam2base" if "cam2base" in spec.options else f"{where}: remot.cameras.{video_key}.cam2base"
        cam2base = checked_se3(cam2base, origin)
    try:
        width, height = _frame_size(info["features"].get(video_key, {})) if video_key else (0, 0)
    except (TypeError, ValueError, AttributeError):
        raise SourceError(f"{where}: features.{video_key} has no readable frame size (shape or video.width/height); "
                          "fix info.json") from None
    layout = Layout(
        timestamp="timestamp",
        ee_pos=_element_names(mapping.get("ee_pos_base_m")),
        ee_rotvec=_element_names(mapping.get("ee_rotvec_base_rad")),
        gripper=(_element_names(mapping["gripper_width_m"]) or (None,))[0] if "gripper_width_m" in mapping else None,
        gripper_max_m=gripper_max_m(spec.options, f"source {spec.name!r}"),
        joint_state=STATE if note is not None else None,
        cam2base=cam2base,
        video=_video_rel(ds, info, index, video_key) if video_key else None,
        video_time_column="timestamp" if video_key else None,
        video_fps=fps if video_key else None,
        fps=fps or None,
        width_px=width,
        height_px=height,
        intrinsics=_intrinsics(cam, where, video_key),
        index_column="frame_index" if rows.has("frame_index") else None,
    )
    rows.require(layout.required_columns())
    sel = np.setdiff1d(np.arange(len(rows)), np.asarray(bad, dtype=np.int64))
    out = read_rows(ref, rows, sel, layout, media_dir=ds, note=note)
    for i in bad:
        got = "is null" if lengths[i] < 0 else f"holds {lengths[i]} values"
        out.quarantine.add("pose_malformed", f"{STATE} {got} where the other rows hold {state_width}", file=str(data),
                           line=i + 1, episode_id=ref.episode_id)
    out.rows_in += len(bad)
    return out


def _state_width(table: pa.Table, data: Path) -> tuple[int | None, list[int] | None]:
    """``(values per state row, per-row lengths (-1: null))`` of a list ``observation.state`` column
    (a fixed-size list's size, else the most common length); ``(None, None)`` for another type. A
    file without the column (or without ``timestamp``) is a one-line SourceError."""
    for name in (STATE, "timestamp"):
        if name not in table.column_names:
            shown = ", ".join(table.column_names[:12])
            raise SourceError(f"{data}: no {name!r} column (columns: {shown}); a LeRobot v2.1 data file needs "
                              "timestamp and observation.state")
    t = table.schema.field(STATE).type
    if not (pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t)):
        return None, None
    lengths = [len(c) if c is not None else -1 for c in table.column(STATE).to_pylist()]
    if pa.types.is_fixed_size_list(t):
        return t.list_size, lengths
    present = [n for n in lengths if n >= 0]
    return (max(set(present), key=present.count) if present else 0), lengths


def _fps(info: dict, where: Path, required: bool) -> float:
    """``info.fps`` as a positive number; a one-line SourceError when a video needs it and it is absent or bad."""
    v = info.get("fps")
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v > 0
    if not ok and (required or v is not None):
        raise SourceError(f"{where}: fps {v!r} is {'missing' if v is None else 'not a positive number'}; "
                          "a LeRobot info.json states the frame rate that locates video frames (e.g. \"fps\": 30)")
    return float(v) if ok else 0.0


def _intrinsics(cam: dict, where: Path, key) -> tuple[float, float, float, float] | None:
    if not {"fx", "fy", "cx", "cy"} <= set(cam):
        return None
    try:
        out = tuple(float(cam[k]) for k in ("fx", "fy", "cx", "cy"))
    except (TypeError, ValueError):
        raise SourceError(f"{where}: remot.cameras.{key} fx, fy, cx, cy must be numbers; fix info.json") from None
    return out


def _declared_length(meta: dict, ds: Path) -> int:
    v = meta.get("length", 1)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0 or v != int(v):
        raise SourceError(f"{ds / 'meta/episodes.jsonl'}: episode {meta.get('episode_index')} has length {v!r}, "
                          "not a count of frames; fix episodes.jsonl")
    return int(v)


def _checked_info(ds: Path) -> dict:
    info = _info(ds)
    if not isinstance(info, dict):
        raise SourceError(f"{ds / 'meta/info.json'}: holds a JSON {type(info).__name__}, not an object; re-export the file")
    version = str(info.get("codebase_version", ""))
    where = ds / "meta" / "info.json"
    if not version.startswith("v2"):
        hint = "declare format lerobot_v3 for it" if version.startswith("v3") else "declare the matching format"
        raise SourceError(f"{where}: codebase_version {version!r} is not v2.x; {hint}")
    for key in ("data_path", "features"):
        if key not in info:
            raise SourceError(f"{where}: no {key!r}; a LeRobot v2.1 info.json names its data_path template and features")
    if not isinstance(info["features"], dict):
        raise SourceError(f"{where}: features is a {type(info['features']).__name__}, not an object; fix info.json")
    chunks = info.get("chunks_size")
    if chunks is not None and (not isinstance(chunks, int) or isinstance(chunks, bool) or chunks <= 0):
        raise SourceError(f"{where}: chunks_size {info.get('chunks_size')!r} is not a positive integer; fix info.json")
    return info


def _episodes(ds: Path) -> list[dict]:
    path = ds / "meta" / "episodes.jsonl"
    out, seen = [], set()
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")  # a byte-order mark is not an error
    except FileNotFoundError:
        raise SourceError(f"{path}: missing; a LeRobot v2.1 dataset lists its episodes there") from None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            rec["episode_index"] = int(rec["episode_index"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"{path}: line {line_no} is not an episode record ({type(exc).__name__}: {str(exc)[:60]}); "
                              "fix or regenerate episodes.jsonl") from None
        if rec["episode_index"] in seen:
            raise SourceError(f"{path}: line {line_no} lists episode {rec['episode_index']} a second time; remove the duplicate")
        seen.add(rec["episode_index"])
        out.append(rec)
    return out


def _chunk(info: dict, index: int) -> int:
    return index // int(info.get("chunks_size") or 1000)


def _data_file(ds: Path, info: dict, index: int) -> Path:
    rel = _fill(info, "data_path", ds / "meta/info.json", episode_chunk=_chunk(info, index), episode_index=index)
    path = resolve_inside(ds, rel)
    if path is None:
        raise SourceError(f"{ds / 'meta/info.json'}: data_path {info['data_path']!r} leads outside the dataset; fix the template")
    return path


def _video_rel(ds: Path, info: dict, index: int, video_key: str) -> str:
    return _fill(info, "video_path", ds / "meta/info.json", episode_chunk=_chunk(info, index), episode_index=index,
                 video_key=video_key)


def _video_key(info: dict, options: dict, ds: Path) -> str | None:
    videos = [k for k, f in info.get("features", {}).items() if isinstance(f, dict) and f.get("dtype") == "video"]
    key = options.get("video_key") or (videos[0] if videos else None)
    if key is not None and key not in videos:
        raise SourceError(f"{ds / 'meta/info.json'}: video_key {key!r} is not a video feature (have {videos}); fix options.video_key")
    if key is not None and not info.get("video_path"):
        raise SourceError(f"{ds / 'meta/info.json'}: video feature {key!r} but no video_path template; fix info.json")
    return key


def _flat_names(info: dict) -> dict:
    """A copy of ``info`` whose observation.state names are a flat list (``[[a, b]]`` -> ``[a, b]``)."""
    feature = dict((info.get("features", {}).get(STATE) or {}))
    names = feature.get("names")
    if isinstance(names, list) and names and all(isinstance(n, list) for n in names):
        feature["names"] = [x for n in names for x in n]
    return {**info, "features": {**info.get("features", {}), STATE: feature}}


def _checked_mapping(info: dict, options: dict, ds: Path) -> dict:
    mapping = _state_mapping(info, options)
    width = {"ee_pos_base_m": 3, "ee_rotvec_base_rad": 3, "gripper_width_m": 1}
    for k, v in mapping.items():
        idx = [v] if isinstance(v, int) else list(v) if isinstance(v, (list, tuple)) else None
        if k not in width or idx is None or len(idx) != width[k] or not all(isinstance(i, int) and i >= 0 for i in idx):
            raise SourceError(f"{ds}: state_mapping {k}: {v!r} is not {width.get(k, '?')} state indices "
                              f"(keys: {sorted(width)}); fix options.state_mapping")
    return mapping


def _element_names(v) -> tuple[str, ...] | None:
    if v is None:
        return None
    idx = [v] if isinstance(v, int) else list(v)
    return tuple(f"{STATE}[{i}]" for i in idx)


def _frame_size(feature: dict) -> tuple[int, int]:
    vinfo = feature.get("info") or feature.get("video_info") or {}
    if "video.width" in vinfo and "video.height" in vinfo:
        return int(vinfo["video.width"]), int(vinfo["video.height"])
    shape, names = feature.get("shape") or [], feature.get("names") or []
    if len(shape) == 3 and isinstance(names, list) and "height" in names and "width" in names:
        return int(shape[names.index("width")]), int(shape[names.index("height")])
    return (int(shape[1]), int(shape[0])) if len(shape) >= 2 else (0, 0)


def _declared_rows(ref: EpisodeRef, n: int, code: str, file: Path, detail: str) -> EpisodeRead:
    """An episode whose data file is absent or unreadable: its declared rows, all quarantined."""
    spec = ref.spec
    q = QuarantineLog("episode_frames", spec.domain, spec.name)
    for i in range(n):
        q.add(code, detail, file=str(file), line=i + 1, episode_id=ref.episode_id, frame_index=i)
    columns = {"frame_index": np.arange(0), "timestamp_s": np.zeros(0)}
    return EpisodeRead(ref, columns, q, n, fps=0.0, width_px=0, height_px=0)
