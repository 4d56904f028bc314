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
(default ``base.ROTATION_TOL`` = 1e-5: instant-ngp stores float32 matrices; each accepted rotation
is re-projected onto SO(3)), ``scene_id``. The locator of a frame is the line where its object starts.

The JSON is read as UTF-8 with a byte-order mark removed. An empty file, or one whose ``frames``
list is empty, is a one-line SourceError; a file that is not JSON is one ``malformed_line`` row. Per
frame: no ``transform_matrix``/``file_path`` -> ``malformed_line``; a matrix that is not 4x4 or 3x4
numbers -> ``pose_malformed``; booleans or text in it, or a non-numeric ``time`` ->
``value_type_invalid``; a bottom row other than ``0 0 0 1`` -> ``pose_not_se3``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from remot_pipeline.sources.base import (
    ROTATION_TOL,
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    check_timestamps,
    option_float,
    read_text,
    resolve_inside,
)
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
        frames = json.loads(read_text(f))["frames"]
        names = [str(fr["file_path"]) for fr in frames if isinstance(fr, dict) and "file_path" in fr]
    except (json.JSONDecodeError, KeyError, TypeError, SourceError):
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
    text = read_text(path)
    if not text.strip():
        raise SourceError(f"{path}: the file is empty; expected a transforms.json object with a `frames` list")
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
    if n == 0:
        raise SourceError(f"{path}: `frames` is empty; expected one object per image with `file_path` and `transform_matrix`")
    lines = np.asarray(_frame_lines(text, n), dtype=np.int64)
    rows = Rows(q, ref.episode_id, path, lines)
    keep = np.ones(n, dtype=bool)
    has_time = any(isinstance(fr, dict) and "time" in fr for fr in frames)
    pose = np.full((n, 4, 4), np.nan)
    names: list = [None] * n
    times = np.full(n, np.nan)
    for i, fr in enumerate(frames):  # per-record parsing; the pose math is batched below
        problem = _frame_problem(fr, has_time)
        if problem is not None:
            rows.add(problem[0], f"frame {i}: {problem[1]}", i)
            keep[i] = False
            continue
        m = np.asarray(fr["transform_matrix"], dtype=np.float64)
        pose[i] = np.vstack([m, [0.0, 0.0, 0.0, 1.0]]) if m.shape == (3, 4) else m
        names[i] = str(fr["file_path"])
        if has_time:
            times[i] = float(fr["time"])
    if has_time:
        order = np.argsort(np.where(np.isnan(times), np.inf, times), kind="stable")
        ts = times * option_float(spec, "time_scale_s", 1.0, positive=True)
    else:
        order = np.asarray(sorted(range(n), key=lambda i: _natural(names[i] or "")), dtype=np.int64)
        ts = np.empty(n)
        ts[order] = np.arange(n) / option_float(spec, "fps", 30.0, positive=True)
    pose, keep, names, ts = pose[order], keep[order], [names[i] for i in order], ts[order]
    rows.lines = lines[order]  # from here on, row i is the i-th frame in time order

    keep, pose = check_matrices(pose, keep, rows, option_float(spec, "rotation_tol", ROTATION_TOL, positive=True))
    pose = opengl_to_opencv(pose)
    keep = rows.check(check_timestamps, ts, keep)
    json_dir = Path(ref.episode_path).parent
    media_rel = [None if nm is None else find_image(root, str(json_dir / nm)) for nm in names]
    keep, media = check_media(root, media_rel, np.zeros(n, dtype=np.int64), keep, rows)

    width, height, intr = _intrinsics(doc, frames, root, media, keep)
    fps = option_float(spec, "fps", 30.0, positive=True)
    note = None if has_time else f"no `time` field: frames ordered by file name at {fps} fps"
    return finish(ref, rows, n, ts, pose, keep, root=root, media=media, media_index=np.zeros(n, dtype=np.int64),
                  fps=None if has_time else fps, width=width, height=height, intrinsics=intr, note=note)


def _is_real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _frame_problem(fr, has_time: bool) -> tuple[str, str] | None:
    """``(reason code, detail)`` for a frame object that cannot be read, else None."""
    if not isinstance(fr, dict):
        return "malformed_line", f"is a {type(fr).__name__}, not an object with file_path and transform_matrix"
    for key in ("transform_matrix", "file_path"):
        if key not in fr:
            return "malformed_line", f"has no `{key}`"
    m = fr["transform_matrix"]
    rows = m if isinstance(m, list) else None
    if rows is None or not all(isinstance(r, list) for r in rows):
        flat = m if isinstance(m, list) else [m]
        if any(isinstance(v, (bool, str)) for v in flat):
            return "value_type_invalid", f"transform_matrix holds {m!r:.80}, not numbers"
        return "pose_malformed", f"transform_matrix is {m!r:.80}, not a 4x4 (or 3x4) list of rows"
    if any(not _is_real(v) for r in rows for v in r):
        bad = next(v for r in rows for v in r if not _is_real(v))
        code = "value_type_invalid" if isinstance(bad, (bool, str)) or bad is None else "pose_malformed"
        return code, f"transform_matrix holds {bad!r:.40}, not a number"
    shape = (len(rows), *{len(r) for r in rows})
    if shape not in ((4, 4), (3, 4)):
        return "pose_malformed", f"transform_matrix has {len(rows)} rows of {sorted({len(r) for r in rows})} values, not 4x4 (or 3x4)"
    if has_time:
        if "time" not in fr:
            return "malformed_line", "has no `time` while other frames do"
        if not _is_real(fr["time"]):
            return "value_type_invalid", f"`time` is {fr['time']!r:.40}, not a number"
    return None


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
