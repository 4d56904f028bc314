"""NeRF / instant-ngp / nerfstudio ``transforms.json``: one file = one episode.

``frames[i].transform_matrix`` is a 4x4 camera-to-world in **OpenGL camera axes** (x right,
y up, z backward); it is converted to OpenCV axes (x right, y down, z forward) by
right-multiplying ``diag(1, -1, -1, 1)`` (:func:`opengl_to_opencv`). World axes and scale
are the file's own (scale often arbitrary). ``frames[i].file_path`` is relative to the JSON's
folder, possibly without extension (``./train/r_0`` -> ``r_0.png``); it must resolve inside
the source root.

Intrinsics (pixels): ``fl_x, fl_y, cx, cy, w, h`` at the top level (or on the first frame,
nerfstudio), else ``camera_angle_x`` (and ``camera_angle_y``) with the image size.

Time: a frame's ``time`` field (times ``options.time_scale_s``, default 1: D-NeRF's ``time``
is normalised to [0, 1], so set it to the clip length) orders the frames; without it, frames
are ordered by file name (natural sort) at ``options.fps`` (default 30). A NeRF capture is a
set of views: consecutive frames are a real camera motion only for video-derived captures.

Options: ``glob`` (default ``transforms*.json``), ``fps``, ``time_scale_s``, ``rotation_tol``
(default 1e-6), ``scene_id``. The locator of a frame is the line where its object starts.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from remot_pipeline.sources.base import EpisodeRead, EpisodeRef, SourceError, SourceSpec, check_timestamps, resolve_inside
from remot_pipeline.sources.pose_table import (
    Rows,
    check_matrices,
    check_media,
    episode_key,
    find_image,
    finish,
    media_size,
    new_log,
    source_root,
)

FORMAT = "nerf"

_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


def opengl_to_opencv(cam2world: np.ndarray) -> np.ndarray:
    """``(..., 4, 4)`` camera-to-world with OpenGL camera axes -> the same camera with OpenCV axes."""
    return np.asarray(cam2world, dtype=np.float64) @ _GL_TO_CV


def opencv_to_opengl(cam2world: np.ndarray) -> np.ndarray:
    """``(..., 4, 4)`` camera-to-world with OpenCV camera axes -> OpenGL axes (the inverse map)."""
    return np.asarray(cam2world, dtype=np.float64) @ _GL_TO_CV


def discover(spec: SourceSpec) -> list[EpisodeRef]:
    path = Path(spec.path)
    root = source_root(spec)
    files = [path] if path.is_file() else sorted(path.rglob(spec.options.get("glob", "transforms*.json")))
    if not files:
        raise SourceError(f"{path}: source {spec.name!r} holds no transforms*.json; add one or set options.glob")
    refs = []
    for f in files:
        rel = str(f.relative_to(root))
        scene = spec.options.get("scene_id", f.resolve().parent.name)
        refs.append(EpisodeRef(spec, episode_key(rel.removesuffix(".json"), f.stem), rel, (f, *_named_images(root, f)),
                               scene_id=scene))
    return refs


def _named_images(root: Path, f: Path) -> list[Path]:
    """The existing image files a transforms.json names inside the root (for input hashing)."""
    try:
        frames = json.loads(f.read_text(encoding="utf-8", errors="replace"))["frames"]
        names = [str(fr["file_path"]) for fr in frames if isinstance(fr, dict) and "file_path" in fr]
    except (json.JSONDecodeError, KeyError, TypeError):
        return []
    json_dir = f.parent.relative_to(root)
    found = {resolve_inside(root, find_image(root, str(json_dir / nm))) for nm in names}
    return sorted(p for p in found if p is not None and p.is_file())


def _frame_lines(text: str, n: int) -> list[int]:
    """1-based line on which each element of the top-level ``frames`` array starts."""
    m = re.search(r'"frames"\s*:\s*\[', text)
    if m is None:
        return [1] * n
    out, decoder, pos = [], json.JSONDecoder(), m.end()
    try:
        while len(out) < n:
            while text[pos] in " \t\r\n,":
                pos += 1
            out.append(text.count("\n", 0, pos) + 1)
            _, pos = decoder.raw_decode(text, pos)
    except (ValueError, IndexError):
        pass
    return out if len(out) == n else [text.count("\n", 0, m.start()) + 1] * n


def _natural(name: str) -> list:
    return [int(t) if k % 2 else t for k, t in enumerate(re.split(r"(\d+)", name))]


def read(ref: EpisodeRef) -> EpisodeRead:
    spec, o = ref.spec, ref.spec.options
    root = source_root(spec)
    path = root / ref.episode_path
    q = new_log(ref)
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        doc = json.loads(text)
        frames = doc["frames"]
        if not isinstance(frames, list):
            raise TypeError("`frames` is not a list")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:  # the whole file is one bad row
        line = getattr(exc, "lineno", 1)
        q.add("malformed_line", f"not a transforms.json: {exc}", file=str(path), line=line, episode_id=ref.episode_id)
        rows = Rows(q, ref.episode_id, path, np.asarray([line]))
        return finish(ref, rows, 1, np.zeros(1), np.full((1, 4, 4), np.nan), np.zeros(1, bool), root=root)

    n = len(frames)
    lines = np.asarray(_frame_lines(text, n), dtype=np.int64)
    rows = Rows(q, ref.episode_id, path, lines)
    keep = np.ones(n, dtype=bool)
    has_time = any(isinstance(fr, dict) and "time" in fr for fr in frames)
    pose = np.full((n, 4, 4), np.nan)
    names: list = [None] * n
    times = np.full(n, np.nan)
    for i, fr in enumerate(frames):  # per-record parsing; the pose math is batched below
        try:
            m = np.asarray(fr["transform_matrix"], dtype=np.float64)
            if m.shape not in ((4, 4), (3, 4)):
                raise ValueError(f"transform_matrix has shape {m.shape}, not 4x4")
            pose[i] = np.vstack([m, [0.0, 0.0, 0.0, 1.0]]) if m.shape == (3, 4) else m
            names[i] = str(fr["file_path"])
            if has_time:
                times[i] = float(fr["time"])
        except (KeyError, TypeError, ValueError) as exc:
            rows.add("malformed_line", f"frame {i}: {exc!r}", i)
            keep[i] = False
    if has_time:
        order = np.argsort(np.where(np.isnan(times), np.inf, times), kind="stable")
        ts = times * float(o.get("time_scale_s", 1.0))
    else:
        order = np.asarray(sorted(range(n), key=lambda i: _natural(names[i] or "")), dtype=np.int64)
        ts = np.empty(n)
        ts[order] = np.arange(n) / float(o.get("fps", 30.0))
    pose, keep, names, ts = pose[order], keep[order], [names[i] for i in order], ts[order]
    rows.lines = lines[order]  # from here on, row i is the i-th frame in time order

    keep, pose = check_matrices(pose, keep, rows, float(o.get("rotation_tol", 1e-6)))
    pose = opengl_to_opencv(pose)
    keep = rows.check(check_timestamps, ts, keep)
    json_dir = Path(ref.episode_path).parent
    media_rel = [None if nm is None else find_image(root, str(json_dir / nm)) for nm in names]
    keep, media = check_media(root, media_rel, np.zeros(n, dtype=np.int64), keep, rows)

    width, height, intr = _intrinsics(doc, frames, root, media, keep)
    note = None if has_time else f"no `time` field: frames ordered by file name at {float(o.get('fps', 30.0))} fps"
    return finish(ref, rows, n, ts, pose, keep, root=root, media=media, media_index=np.zeros(n, dtype=np.int64),
                  fps=None if has_time else float(o.get("fps", 30.0)), width=width, height=height, intrinsics=intr, note=note)


def _intrinsics(doc: dict, frames: list, root: Path, media: list, keep: np.ndarray):
    """``(width, height, (fx, fy, cx, cy) or None)`` from the file, else from the first kept image."""
    src = dict(frames[0]) if frames and isinstance(frames[0], dict) else {}
    src.update({k: v for k, v in doc.items() if k != "frames"})
    try:
        w, h = int(src.get("w", 0)), int(src.get("h", 0))
        if not (w and h):
            first = np.flatnonzero(keep)
            w, h = media_size(root / media[first[0]]) if first.size else (0, 0)
        if "fl_x" in src:
            fx = float(src["fl_x"])
            fy = float(src.get("fl_y", fx))
        elif "camera_angle_x" in src and w:
            fx = 0.5 * w / math.tan(0.5 * float(src["camera_angle_x"]))
            fy = 0.5 * h / math.tan(0.5 * float(src["camera_angle_y"])) if "camera_angle_y" in src else fx
        else:
            return w, h, None
        return w, h, (fx, fy, float(src.get("cx", w / 2.0)), float(src.get("cy", h / 2.0)))
    except (TypeError, ValueError):
        return 0, 0, None
