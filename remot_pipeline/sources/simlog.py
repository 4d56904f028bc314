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
    check_timestamps,
    check_video,
    drop_if_unusable,
    resolve_inside,
    validate_poses,
)


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


def read(ref: EpisodeRef) -> EpisodeRead:
    spec = ref.spec
    d = Path(spec.path) / ref.episode_path
    log = d / "log.jsonl"
    q = QuarantineLog("episode_frames", spec.domain, spec.name)
    eid = ref.episode_id
    header, frames, lines = None, [], []
    with open(log, encoding="utf-8", errors="replace") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                kind = rec["type"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                q.add("malformed_line", f"not a log record: {exc}", file=str(log), line=line_no, episode_id=eid)
                continue
            if kind == "header":
                header = rec
            elif kind == "frame":
                frames.append(rec)
                lines.append(line_no)
    if header is None:
        raise SourceError(f"{log}: no header line ({{\"type\": \"header\", ...}}); regenerate the log with its header")
    rows_in = len(frames) + len(q)
    lines = np.asarray(lines, dtype=np.int64)
    n = len(frames)
    ts = np.full(n, np.nan)
    cam2world = np.full((n, 4, 4), np.nan)
    media_index = np.zeros(n, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    for i, rec in enumerate(frames):  # JSON records are parsed one by one; the checks below are batched
        try:
            ts[i] = float(rec["timestamp_s"])
            cam2world[i] = np.asarray(rec["cam2world"], dtype=np.float64).reshape(4, 4)
            media_index[i] = int(rec["frame_index"])
            for o in rec.get("objects", []):
                if len(o["obj2world"]) != 16 or not np.isfinite(o["obj2world"]).all():
                    raise ValueError(f"object {o.get('object_id')!r} has a bad obj2world")
        except (KeyError, ValueError, TypeError) as exc:
            keep[i] = False
            code = "nan_pose" if "bad obj2world" in str(exc) else "malformed_line"
            q.add(code, f"frame record: {exc}", file=str(log), line=int(lines[i]), episode_id=eid)
    keep = validate_poses(cam2world, keep, lines, log, q, eid)
    keep = check_timestamps(ts, keep, lines, log, q, eid)

    video_rel = str(header.get("video", "video.mp4"))
    video = resolve_inside(Path(spec.path), str(Path(ref.episode_path) / video_rel))
    keep = check_video(video, video_rel, media_index, keep, lines, log, q, eid)

    idx = drop_if_unusable(keep, lines, log, q, eid)
    objects = [
        [{"object_id": o["object_id"], "color_name": o.get("color_name", "unknown"), "obj2world": list(map(float, o["obj2world"]))}
         for o in frames[i].get("objects", [])]
        for i in idx
    ]
    media_rel = str(Path(ref.episode_path) / video_rel) if ref.episode_path != "." else video_rel
    columns = {
        "frame_index": np.arange(idx.size),
        "timestamp_s": ts[idx] - (ts[idx[0]] if idx.size else 0.0),
        "cam2world": cam2world[idx],
        "objects": objects,
        "media_path": [media_rel] * idx.size,
        "media_frame_index": media_index[idx],
    }
    intr = header.get("intrinsics") or {}
    return EpisodeRead(
        ref, columns, q, rows_in, fps=float(header.get("fps", 0.0)), width_px=int(header.get("width", 0)),
        height_px=int(header.get("height", 0)),
        intrinsics_px=(intr["fx"], intr["fy"], intr["cx"], intr["cy"]) if {"fx", "fy", "cx", "cy"} <= set(intr) else None,
    )
