"""Microsoft 7-Scenes: ``<scene>/seq-XX/frame-XXXXXX.pose.txt`` (4 lines of 4 numbers: the 4x4
camera-to-world of the Kinect colour camera, OpenCV axes x right, y down, z forward; metres)
next to ``frame-XXXXXX.color.png`` (640x480).

One episode per ``seq-XX`` folder; ``scene_id`` is the scene folder's name (``chess``). Frames
are sorted by their number and timed ``n / fps`` (the Kinect ran at 30 Hz). Each pose file is
one input row (locator: the file, line 1). Intrinsics: the dataset's stated defaults (focal
585 px, principal point (320, 240)) unless ``options.intrinsics`` gives ``[fx, fy, cx, cy]``.

Options: ``fps`` (default 30), ``rotation_tol`` (default 1e-5: float32-printed rotations),
``intrinsics``, ``scene_id``.

A pose file whose frame number is a number but not an integer >= 0 (``frame--1.pose.txt``,
``frame-000002.5.pose.txt``) is that row's ``frame_index_invalid``, never skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from remot_pipeline.sources.base import EpisodeRead, EpisodeRef, SourceError, SourceSpec, check_timestamps, option_float
from remot_pipeline.sources.pose_table import Rows, check_matrices, check_media, episode_key, finish, new_log, source_root
from remot_pipeline.sources.scannet import bad_frame_numbers, quarantine_bad_frame_numbers, read_matrix_files

FORMAT = "sevenscenes"


def _intrinsics(spec: SourceSpec) -> tuple[float, ...]:
    value = spec.options.get("intrinsics", _DEFAULT_INTRINSICS)
    try:
        if isinstance(value, (str, bytes, dict)) or any(isinstance(v, bool) for v in value):
            raise TypeError
        out = tuple(float(v) for v in value)
        if len(out) != 4 or not all(np.isfinite(out)) or out[0] <= 0 or out[1] <= 0:
            raise ValueError
    except (TypeError, ValueError):
        raise SourceError(f"{spec.path}: source {spec.name!r} option intrinsics={value!r} is not [fx, fy, cx, cy] in pixels "
                          "(finite, fx and fy > 0); fix the sources file") from None
    return out


_POSE = re.compile(r"frame-(\d+)\.pose\.txt")
_ANY_POSE = re.compile(r"frame-(.+)\.pose\.txt")
_DEFAULT_INTRINSICS = (585.0, 585.0, 320.0, 240.0)


def _pose_files(seq_dir: Path) -> list[Path]:
    files = [p for p in seq_dir.glob("frame-*.pose.txt") if _POSE.fullmatch(p.name)]
    return sorted(files, key=lambda p: int(_POSE.fullmatch(p.name).group(1)))


def _bad_pose_files(seq_dir: Path) -> list[Path]:
    files = [p for p in seq_dir.glob("frame-*.pose.txt") if _ANY_POSE.fullmatch(p.name)]
    return bad_frame_numbers(files, lambda p: _ANY_POSE.fullmatch(p.name).group(1))


def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = source_root(spec)
    dirs = sorted({p.parent for p in root.rglob("frame-*.pose.txt")})
    if not dirs:
        raise SourceError(f"{root}: source {spec.name!r} holds no 7-Scenes seq-XX/frame-XXXXXX.pose.txt; fix `path`")
    refs = []
    for d in dirs:
        poses = _pose_files(d)
        colors = [p.with_name(p.name.replace(".pose.txt", ".color.png")) for p in poses]
        scene = d.resolve().parent.name
        rel = str(d.relative_to(root)) if d != root else "."
        key = episode_key(rel, f"{scene}__{d.resolve().name}")
        refs.append(EpisodeRef(spec, key, rel, tuple([*poses, *_bad_pose_files(d), *(c for c in colors if c.is_file())]),
                               scene_id=spec.options.get("scene_id", scene)))
    return refs


def read(ref: EpisodeRef) -> EpisodeRead:
    spec, o = ref.spec, ref.spec.options
    root = source_root(spec)
    files = _pose_files(root / ref.episode_path)
    q = new_log(ref)
    bad = _bad_pose_files(root / ref.episode_path)
    quarantine_bad_frame_numbers(bad, q, ref.episode_id)
    pose, keep, lines = read_matrix_files(files, q, ref.episode_id)
    rows = Rows(q, ref.episode_id, files, lines)
    fps = option_float(spec, "fps", 30.0, positive=True)
    ts = np.asarray([int(_POSE.fullmatch(f.name).group(1)) for f in files], dtype=np.float64) / fps
    keep, pose = check_matrices(pose, keep, rows, option_float(spec, "rotation_tol", 1e-5, positive=True))
    keep = rows.check(check_timestamps, ts, keep)
    media_rel = [str(Path(ref.episode_path) / f.name.replace(".pose.txt", ".color.png")) for f in files]
    media_index = np.zeros(len(files), dtype=np.int64)
    keep, media = check_media(root, media_rel, media_index, keep, rows)
    intr = _intrinsics(spec)
    return finish(ref, rows, len(files) + len(bad), ts, pose, keep, root=root, media=media, media_index=media_index, fps=fps,
                  intrinsics=intr)
