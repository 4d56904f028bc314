"""RealEstate10K camera files: one ``<clip_id>.txt`` per clip. Line 1 is the YouTube URL; then
one line per frame of 19 numbers::

    timestamp_us fx fy cx cy 0 0 r11 r12 r13 t1 r21 r22 r23 t2 r31 r32 r33 t3

``fx fy cx cy`` are normalised by the image width/height; the 12 numbers are the 3x4
**world-to-camera** matrix, row-major, OpenCV camera axes (x right, y down, z forward), so
``cam2world = inv(world2cam)``. Translation scale is arbitrary (monocular SfM), not metres;
timestamps are the source video's, in microseconds. ``scene_id`` is the YouTube video id, so
clips of one video share a scene.

Options: ``video_dir`` (a folder inside the source root holding ``<clip_id>.mp4``; without it
the episode is pose-only), ``video_frames``: ``row`` (default: the video holds exactly the
listed frames, row i = decoded frame i) or ``timestamp`` (the full source video: frame =
round(t_s * the stream's frame rate); a negative frame is ``frame_index_invalid``), ``width``/``height`` (pixels; with them, or with a video,
the intrinsics are reported in pixels, else None), ``rotation_tol`` (default ``base.ROTATION_TOL``).

Read as UTF-8 with a byte-order mark removed; the URL line is a header because it is made of words
(a numeric first line is data). A file without any camera line is a one-line SourceError.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from remot_pipeline.core import se3
from remot_pipeline.sources.base import (
    ROTATION_TOL,
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    check_timestamps,
    option_float,
    parse_numeric_lines,
    read_text_lines,
)
from remot_pipeline.sources.pose_table import (
    Rows,
    check_matrices,
    check_media,
    episode_key,
    finish,
    matrices_from_rows,
    media_size,
    new_log,
    source_root,
)

FORMAT = "realestate10k"


def _video(spec: SourceSpec, root: Path, clip_id: str) -> str | None:
    """The clip's video path relative to the root, or None when no ``video_dir`` is set."""
    vdir = spec.options.get("video_dir")
    return None if vdir is None else str(Path(vdir) / f"{clip_id}.mp4")


def _youtube_id(path: Path) -> str | None:
    lines = read_text_lines(path)
    first = lines[0].strip() if lines else ""
    m = re.search(r"(?:v=|youtu\.be/)([A-Za-z0-9_-]{6,})", first)
    return m.group(1) if m else None


def discover(spec: SourceSpec) -> list[EpisodeRef]:
    path = Path(spec.path)
    root = source_root(spec)
    files = [path] if path.is_file() else sorted(path.rglob(spec.options.get("glob", "*.txt")))
    if not files:
        raise SourceError(f"{path}: source {spec.name!r} holds no RealEstate10K <clip_id>.txt; fix `path` or options.glob")
    refs = []
    for f in files:
        rel = str(f.relative_to(root))
        video = _video(spec, root, f.stem)
        extra = [root / video] if video and (root / video).is_file() else []
        scene = spec.options.get("scene_id") or _youtube_id(f) or f.stem
        refs.append(EpisodeRef(spec, episode_key(rel.removesuffix(".txt"), f.stem), rel, (f, *extra), scene_id=scene))
    return refs


def read(ref: EpisodeRef) -> EpisodeRead:
    spec, o = ref.spec, ref.spec.options
    root = source_root(spec)
    path = root / ref.episode_path
    q = new_log(ref)
    values, lines = parse_numeric_lines(path, 19, q, ref.episode_id,  # line 1 (the URL) is a header
                                        expect="after the URL line, 19 numbers per frame (timestamp_us fx fy cx cy 0 0 + 3x4 world-to-camera)")
    rows = Rows(q, ref.episode_id, path, lines)
    rows_in = len(lines) + len(q)
    keep = np.ones(len(lines), dtype=bool)
    ts = values[:, 0] * 1e-6
    keep, world2cam = check_matrices(matrices_from_rows(values[:, 7:19]), keep, rows,
                                     option_float(spec, "rotation_tol", ROTATION_TOL, positive=True))
    cam2world = se3.invert(world2cam)
    keep = rows.check(check_timestamps, ts, keep)

    media = media_index = None
    width, height = int(option_float(spec, "width", 0)), int(option_float(spec, "height", 0))
    video = _video(spec, root, path.stem)
    if video is not None:
        media_index = np.arange(len(lines), dtype=np.int64)
        mode = o.get("video_frames", "row")
        if mode not in ("row", "timestamp"):
            raise SourceError(f"{spec.path}: source {spec.name!r} option video_frames={mode!r} is not 'row' or 'timestamp'; fix the sources file")
        if mode == "timestamp":
            media_index = np.rint(np.nan_to_num(ts * _frame_rate(root / video), nan=-1, posinf=-1, neginf=-1)).astype(np.int64)
            for i in np.flatnonzero(keep & (media_index < 0)):  # a decoder would return the video's last frame
                rows.add("frame_index_invalid", f"timestamp {float(ts[i])!r} s gives frame {int(media_index[i])}, before the video's start", i)
            keep &= media_index >= 0
        keep, media = check_media(root, [video] * len(lines), media_index, keep, rows)
        if not width and any(media):
            width, height = media_size(root / video)
    first = np.flatnonzero(keep)
    intr = None
    if width and height and first.size:
        fx, fy, cx, cy = values[first[0], 1:5]
        intr = (fx * width, fy * height, cx * width, cy * height)
    note = "translation scale is arbitrary (monocular SfM), not metres"
    return finish(ref, rows, rows_in, ts, cam2world, keep, root=root, media=media, media_index=media_index,
                  width=width, height=height, intrinsics=intr, note=note)


def _frame_rate(video: Path) -> float:
    import av

    try:
        with av.open(str(video)) as c:
            return float(c.streams.video[0].average_rate or 0.0)
    except (av.FFmpegError, IndexError):
        return 0.0
