"""remot's simulation log: ``log.jsonl`` (a header line, then one line per frame with the
camera's ``cam2world`` and every object's ``obj2world``, row-major 4x4, world z-up, camera in
OpenCV axes) next to the episode's video. The format is documented in the README.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from remot_pipeline.core.ledger import QuarantineLog
from remot_pipeline.sources.base import (
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    check_video,
    drop_if_unusable,
    resolve_inside,
)
from remot_pipeline.sources.robot_table import (
    check_frame_indices,
    check_timestamps_robust,
    correction_field,
    one_line_errors,
    se3_problems,
    validate_se3,
)


@one_line_errors
def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = Path(spec.path)
    if not root.is_dir():
        raise SourceError(f"{root}: source {spec.name!r} folder does not exist; create it or fix `path` in the sources file")
    refs = []
    for log in sorted(root.rglob("log.jsonl")):
        d = log.parent
        rel = str(d.relative_to(root)) if d != root else "."
        key = rel.replace("/", "__") if rel != "." else root.name
        files = [log, *sorted(p for p in d.iterdir() if p.suffix.lower() in {".mp4", ".mkv", ".webm"})]
        refs.append(EpisodeRef(spec, key, rel, tuple(files), scene_id=spec.options.get("scene_id", key)))
    return refs


@one_line_errors
def read(ref: EpisodeRef) -> EpisodeRead:
    """One episode's log; every frame line is kept or quarantined once (first failing check wins).

    A line that is not a JSON object with a ``type``: ``malformed_line``. Per frame record: a missing
    key ``malformed_line``; a bool or text where a number is expected ``value_type_invalid``; a
    frame index that is not an integer >= 0 ``frame_index_invalid``; a ``cam2world`` or ``obj2world``
    that is not 16 numbers ``pose_malformed``, non-finite ``nan_pose``, with a bottom row other than
    ``[0, 0, 0, 1]`` ``pose_not_se3``, with a rotation that is not orthonormal with det +1
    (:data:`.robot_table.ROTATION_TOL`) ``rotation_not_orthonormal`` (accepted rotations are
    re-projected onto SO(3)); then the timestamps and the video.
    """
    spec = ref.spec
    d = Path(spec.path) / ref.episode_path
    log = d / "log.jsonl"
    q = QuarantineLog("episode_frames", spec.domain, spec.name)
    eid = ref.episode_id
    header, frames, lines = None, [], []
    with open(log, encoding="utf-8-sig", errors="replace") as fh:  # a byte-order mark is not a malformed line
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                kind = rec["type"]
            except (json.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
                q.add("malformed_line", f"not a log record: {type(exc).__name__}: {str(exc)[:80]}", file=str(log),
                      line=line_no, episode_id=eid)
                continue
            if kind == "header" and header is None and isinstance(rec, dict):
                header = rec
            elif kind == "frame" and isinstance(rec, dict):
                frames.append(rec)
                lines.append(line_no)
            else:
                q.add("malformed_line", f"record type {kind!r} is not 'frame'" + (" (a second header)" if kind == "header" else ""),
                      file=str(log), line=line_no, episode_id=eid)
    if header is None:
        raise SourceError(f"{log}: no header line ({{\"type\": \"header\", ...}}); regenerate the log with its header")
    fps, width, height, intr = _header_values(header, log)
    rows_in = len(frames) + len(q)
    if rows_in == 0:  # a header alone would ingest nothing without a word
        raise SourceError(f"{log}: no frame lines after the header; regenerate the log or remove the episode folder")
    lines = np.asarray(lines, dtype=np.int64)
    n = len(frames)
    ts = np.full(n, np.nan)
    frame_raw = np.zeros(n)
    cam2world = np.tile(np.eye(4), (n, 1, 1))
    keep = np.ones(n, dtype=bool)
    objects: list[list[dict]] = [[] for _ in range(n)]
    obj_mats: list[np.ndarray] = []  # every object pose, with its frame row, checked in one batch
    obj_rows: list[int] = []
    for i, rec in enumerate(frames):  # JSON records are parsed one by one; the checks below are batched
        problem = None
        for key in ("timestamp_s", "frame_index", "cam2world"):
            if key not in rec:
                problem = ("malformed_line", f"frame record has no {key!r}")
                break
        if problem is None:
            if not _is_number(rec["timestamp_s"]):
                problem = ("value_type_invalid", f"timestamp_s {rec['timestamp_s']!r} is not a number")
            elif not _is_number(rec["frame_index"]):
                problem = ("value_type_invalid", f"frame_index {rec['frame_index']!r} is not a number")
            else:
                ts[i], frame_raw[i] = float(rec["timestamp_s"]), float(rec["frame_index"])
                m, problem = _pose16(rec["cam2world"], "cam2world")
                if m is not None:
                    cam2world[i] = m
        if problem is None:
            objs = rec.get("objects", [])
            if not isinstance(objs, list):
                problem = ("malformed_line", "objects is not a list")
            for o in objs if problem is None else ():
                if not isinstance(o, dict) or "object_id" not in o or "obj2world" not in o:
                    problem = ("malformed_line", "an object has no object_id or obj2world")
                    break
                m, problem = _pose16(o["obj2world"], f"object {o.get('object_id')!r} obj2world")
                if problem is not None:
                    break
                objects[i].append({"object_id": str(o["object_id"]), "color_name": str(o.get("color_name", "unknown"))})
                obj_mats.append(m)
                obj_rows.append(i)
        if problem is not None:
            keep[i] = False
            objects[i] = []
            q.add(problem[0], problem[1], file=str(log), line=int(lines[i]), episode_id=eid)
    # Object poses, checked in one batch; the first bad object of a kept frame quarantines the frame.
    obj_problems, obj_fixed, obj_correction = se3_problems(np.asarray(obj_mats).reshape(-1, 4, 4), "object obj2world")
    for j, i in enumerate(obj_rows):
        if keep[i] and obj_problems[j] is not None:
            keep[i] = False
            q.add(obj_problems[j][0], obj_problems[j][1], file=str(log), line=int(lines[i]), episode_id=eid)
    keep, cam2world, correction = validate_se3(cam2world, keep, lines, log, q, eid, "cam2world")
    keep, media_index = check_frame_indices(frame_raw, keep, lines, log, q, eid)
    keep = check_timestamps_robust(ts, keep, lines, log, q, eid)

    video_rel = str(header.get("video", "video.mp4"))
    video = resolve_inside(Path(spec.path), str(Path(ref.episode_path) / video_rel))
    keep = check_video(video, video_rel, media_index, keep, lines, log, q, eid)

    idx = drop_if_unusable(keep, lines, log, q, eid)
    fixed_of = {}
    for j, i in enumerate(obj_rows):
        fixed_of.setdefault(i, []).append(obj_fixed[j])
    out_objects = [
        [{**o, "obj2world": m.ravel().tolist()} for o, m in zip(objects[i], fixed_of.get(i, []))]
        for i in idx
    ]
    media_rel = str(Path(ref.episode_path) / video_rel) if ref.episode_path != "." else video_rel
    columns = {
        "frame_index": np.arange(idx.size),
        "timestamp_s": ts[idx] - (ts[idx[0]] if idx.size else 0.0),
        "cam2world": cam2world[idx],
        "objects": out_objects,
        "media_path": [media_rel] * idx.size,
        "media_frame_index": media_index[idx],
    }
    kept_obj = [j for j, i in enumerate(obj_rows) if keep[i]]
    correction = max([correction] + [float(obj_correction[j]) for j in kept_obj])
    return EpisodeRead(ref, columns, q, rows_in, fps=fps, width_px=width, height_px=height, intrinsics_px=intr,
                       **correction_field(correction))


def _is_number(v) -> bool:
    """A JSON number (NaN included: the checks downstream name it); a bool or text is not."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _pose16(value, what: str) -> tuple[np.ndarray | None, tuple[str, str] | None]:
    """A 4x4 from 16 numbers (flat or nested, row-major), or ``(None, (reason, detail))``."""
    flat = value
    if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        flat = [x for r in value for x in r]
    if not isinstance(flat, list) or len(flat) != 16:
        size = len(flat) if isinstance(flat, list) else type(value).__name__
        return None, ("pose_malformed", f"{what} holds {size} values, not 16 (row-major 4x4)")
    if not all(_is_number(x) for x in flat):
        bad = next(x for x in flat if not _is_number(x))
        return None, ("value_type_invalid", f"{what} holds {bad!r}, not a number")
    m = np.asarray(flat, dtype=np.float64).reshape(4, 4)
    if not np.isfinite(m).all():
        return None, ("nan_pose", f"{what} holds NaN/inf")
    return m, None


def _header_values(header: dict, log: Path):
    """``(fps, width, height, intrinsics or None)`` from the header, or a one-line SourceError."""
    def number(key, default):
        v = header.get(key, default)
        if not _is_number(v) or not np.isfinite(v) or v < 0:
            raise SourceError(f"{log}: header {key} {v!r} is not a number >= 0; fix the header line")
        return v

    fps, width, height = float(number("fps", 0.0)), int(number("width", 0)), int(number("height", 0))
    intr = header.get("intrinsics") or {}
    if not isinstance(intr, dict):
        raise SourceError(f"{log}: header intrinsics is not an object {{fx, fy, cx, cy}}; fix the header line")
    if not {"fx", "fy", "cx", "cy"} <= set(intr):
        return fps, width, height, None
    if not all(_is_number(intr[k]) and np.isfinite(intr[k]) for k in ("fx", "fy", "cx", "cy")):
        raise SourceError(f"{log}: header intrinsics fx, fy, cx, cy must be numbers; fix the header line")
    return fps, width, height, tuple(float(intr[k]) for k in ("fx", "fy", "cx", "cy"))
