"""TUM RGB-D: ``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw``, camera-to-world,
quaternion xyzw) plus, optionally, ``rgb.txt`` naming images or a video (line i = decoded frame i).

``path`` is a folder searched for trajectory files (``trajectory_glob``, default
``groundtruth.txt``; one episode per file) or a single trajectory file. Without ``rgb.txt`` the
episode is pose-only (no media): its motion is computed and labelled, but it yields no triplets.

Options: ``trajectory_glob``, ``max_time_diff_s`` (frame-to-pose association tolerance,
default 0.02), ``quat_norm_tol`` (default 1e-2: norms within it are renormalised, beyond it
quarantined).

Text is read as UTF-8 with any byte-order mark removed; a header line is recognised by its words
only (``timestamp tx ty ...``), so a damaged first data line is quarantined, not skipped. An empty
(or header-only) ``groundtruth.txt`` or ``rgb.txt`` is a one-line SourceError naming it. The i-th
``rgb.txt`` line naming a video is its decoded frame i, whatever the spelling of the name
(``./rgb.mp4``) and even when the line's timestamp is damaged (that line is then unusable, the
following ones keep their frames). ``rgb.txt`` names are
relative to its folder; one that resolves outside the source root (``..``, an absolute path
elsewhere, a link out) is ``path_escapes_root`` for the poses it would serve. A NaN timestamp is
``timestamp_nonfinite``, an isolated far-off one ``timestamp_outlier`` (:func:`base.check_timestamps`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from remot_pipeline.core import se3
from remot_pipeline.core.ledger import QuarantineLog
from remot_pipeline.sources.base import (
    ROTATION_TOL,
    EpisodeRead,
    EpisodeRef,
    SourceError,
    VIDEO_SUFFIXES,
    SourceSpec,
    associate_timestamps,
    check_timestamps,
    drop_if_unusable,
    is_header_line,
    option_float,
    parse_numeric_lines,
    project_to_se3,
    read_text,
    read_text_lines,
    relative_to_root,
    resolve_inside,
    source_root,
    validate_poses,
)
from remot_pipeline.sources.video import VideoError, count_frames, media_size

FORMAT = "tum"



def discover(spec: SourceSpec) -> list[EpisodeRef]:
    path = Path(spec.path)
    if path.is_file():
        root, trajectories = path.parent, [path]
    elif path.is_dir():
        root, trajectories = path, sorted(path.rglob(spec.options.get("trajectory_glob", "groundtruth.txt")))
    else:
        raise SourceError(f"{path}: source {spec.name!r} path does not exist; create it or fix `path` in the sources file")
    refs = []
    for traj in trajectories:
        d = traj.parent
        files = [traj]
        rgb_txt = d / "rgb.txt"
        if rgb_txt.exists():
            files.append(rgb_txt)
            files.extend(sorted(p for p in d.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES))
            if (d / "rgb").is_dir():
                files.extend(sorted((d / "rgb").iterdir()))
        if (d / "camera.json").exists():
            files.append(d / "camera.json")
        rel = str(traj.relative_to(root))
        key = rel[: -len(".txt")] if rel.endswith(".txt") else rel
        key = key.removesuffix("/groundtruth").replace("/", "__")
        if key == "groundtruth":
            key = root.name
        refs.append(EpisodeRef(spec, key, rel, tuple(files), scene_id=spec.options.get("scene_id", key)))
    return refs


def read_groundtruth(gt: Path, q: QuarantineLog, episode_id: str, quat_norm_tol: float = 1e-2):
    """Parse a TUM trajectory file into camera-to-world poses.

    Returns ``(timestamps_s (N,), cam2world (N, 4, 4), keep (N,) bool, line numbers (N,), rows_in)``;
    rejected rows are in ``q`` (malformed, NaN, non-unit quaternion, unsorted/duplicate time).
    Quaternions within ``quat_norm_tol`` of unit norm are renormalised.
    """
    before = len(q)
    values, lines = parse_numeric_lines(gt, 8, q, episode_id, expect="8 numbers per line: timestamp tx ty tz qx qy qz qw")
    rows_in = len(values) + len(q) - before
    keep = np.ones(len(values), dtype=bool)
    ts, t, quat_xyzw = values[:, 0], values[:, 1:4], values[:, 4:8]
    finite = np.isfinite(values[:, 1:8]).all(axis=1)  # the pose; a bad timestamp is timestamp_nonfinite
    norms = np.linalg.norm(np.where(finite[:, None], quat_xyzw, 1.0), axis=1)
    not_unit = finite & (np.abs(norms - 1.0) > quat_norm_tol)
    for i in np.flatnonzero(not_unit):
        q.add("quat_not_unit", f"|q| = {norms[i]:.6f}", file=str(gt), line=int(lines[i]), episode_id=episode_id)
    keep &= ~not_unit
    safe_quat = np.where(finite[:, None] & ~not_unit[:, None], quat_xyzw, [0.0, 0.0, 0.0, 1.0])
    cam2world = se3.pose_from_translation_quat_xyzw(np.where(finite[:, None], t, 0.0), safe_quat)
    cam2world[~finite] = np.nan
    keep = validate_poses(cam2world, keep, lines, gt, q, episode_id, tol=ROTATION_TOL)
    keep = check_timestamps(ts, keep, lines, gt, q, episode_id)
    return ts, cam2world, keep, lines, rows_in


def read(ref: EpisodeRef) -> EpisodeRead:
    spec = ref.spec
    root = source_root(spec)
    gt = root / ref.episode_path
    episode_dir = gt.parent
    q = QuarantineLog("episode_frames", spec.domain, spec.name)
    eid = ref.episode_id
    ts, cam2world, keep, lines, rows_in = read_groundtruth(gt, q, eid, option_float(spec, "quat_norm_tol", 1e-2, positive=True))
    cam2world, correction = project_to_se3(cam2world, keep)
    if (episode_dir / "rgb.txt").exists():
        media_path, media_index, width, height, fps = _associate_media(ref, root, episode_dir, ts, keep, lines, q)
        keep &= media_index >= 0
    else:  # pose-only: a trajectory without frames
        media_path = media_index = None
        width = height = 0
        fps = float(1.0 / np.median(np.diff(ts[keep]))) if keep.sum() > 1 else 0.0

    idx = drop_if_unusable(keep, lines, gt, q, eid)
    t0 = ts[idx[0]] if idx.size else 0.0
    intr = _read_intrinsics(episode_dir)
    columns = {
        "frame_index": np.arange(idx.size),
        "timestamp_s": ts[idx] - t0,
        "cam2world": cam2world[idx],
        "media_path": None if media_path is None else [str(m) for m in media_path[idx]],
        "media_frame_index": None if media_path is None else media_index[idx],
    }
    return EpisodeRead(ref, columns, q, rows_in, fps=fps, width_px=width, height_px=height, intrinsics_px=intr,
                       max_rotation_correction=correction)


def _read_intrinsics(episode_dir: Path):
    cam = episode_dir / "camera.json"
    if not cam.exists():
        return None
    import json

    try:
        c = json.loads(read_text(cam))
        out = tuple(float(c[k]) for k in ("fx", "fy", "cx", "cy"))
        if not all(np.isfinite(out)):
            raise ValueError("non-finite value")
        return out
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"{cam}: not a camera file ({type(exc).__name__}: {exc}); expected a JSON object with numbers "
                          "fx, fy, cx, cy (pixels), or remove it") from None


def _associate_media(ref, root, episode_dir, pose_ts, keep, lines, q):
    """Map each kept pose to a frame listed in ``rgb.txt``.

    Every rgb.txt entry is resolved first (inside the root? exists? within the video's
    decoded length?); ``media_path`` holds each entry's path relative to the resolved root. A pose is associated by timestamp with the nearest entry; a pose whose
    entry is bad is quarantined with that entry's reason, so that each rejected pose row is
    exactly one quarantine row. Returns ``(media_path, media_frame_index, width, height, fps)``.
    """
    rgb_txt = episode_dir / "rgb.txt"
    eid = ref.episode_id
    n = len(pose_ts)
    media_path = np.array([""] * n, dtype=object)
    media_index = np.full(n, -1, dtype=np.int64)
    entry_ts, entry_name, entry_index, entry_problem = [], [], [], []
    occurrence: dict[str, int] = {}
    video_counts: dict[str, int | str] = {}
    malformed = 0
    rel_dir = os.path.relpath(episode_dir, root)
    entry_rel = []
    # Resolving a name follows every link on its path (a few syscalls per component); a video's
    # name repeats on every line, so each distinct name is resolved once.
    inside: dict[str, Path | None] = {}
    rel_of: dict[Path, str] = {}
    first = True
    for raw in read_text_lines(rgb_txt):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if first and is_header_line(text):  # "timestamp filename"
            first = False
            continue
        first = False
        parts = text.replace(",", " ").split()
        name = parts[1] if len(parts) > 1 else None
        if name and name not in inside:  # an absolute name stays absolute
            inside[name] = resolve_inside(root, os.path.join(rel_dir, name))
        path = inside[name] if name else None
        key = str(path) if path is not None else name  # "./rgb.mp4" and "rgb.mp4" are one video
        k = occurrence.get(key, 0)
        if name:  # line i of a video is decoded frame i, a malformed line included
            occurrence[key] = k + 1
        try:
            ts = float(parts[0])
            if name is None:
                raise IndexError
        except (ValueError, IndexError):
            malformed += 1
            continue
        problem = None
        if path is None:
            problem = ("path_escapes_root", f"rgb.txt names {name!r}, which resolves outside the source root", str(rgb_txt))
        elif not path.exists():
            problem = ("video_missing", f"rgb.txt names {name!r}, which does not exist", str(rgb_txt))
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            if key not in video_counts:
                try:
                    video_counts[key] = count_frames(path)
                except VideoError as exc:
                    video_counts[key] = str(exc)
            count = video_counts[key]
            if isinstance(count, str):
                problem = ("video_unreadable", count, str(path))
            elif k >= count:
                problem = ("video_short", f"{name} holds {count} frames; rgb.txt lists more", str(path))
        entry_ts.append(ts)
        entry_name.append(name)
        if path is not None and path not in rel_of:
            rel_of[path] = relative_to_root(root, path)
        entry_rel.append(rel_of[path] if path is not None else name)
        entry_index.append(k if path is not None and path.suffix.lower() in VIDEO_SUFFIXES else 0)
        entry_problem.append(problem)
    if not entry_ts and not malformed:
        raise SourceError(f"{rgb_txt}: no frame line (the file is empty, or holds only comments or a header); expected "
                          "`timestamp filename` lines, or remove rgb.txt for a pose-only episode")
    order = np.argsort(np.asarray(entry_ts, dtype=np.float64), kind="stable")
    sorted_ts = np.asarray(entry_ts, dtype=np.float64)[order]
    tol = option_float(ref.spec, "max_time_diff_s", 0.02, positive=True)
    match = associate_timestamps(pose_ts, sorted_ts, tol)
    gt = str(root / ref.episode_path)
    for i in np.flatnonzero(keep):
        if match[i] < 0:
            note = f"; rgb.txt had {malformed} malformed line(s)" if malformed else ""
            q.add("no_matching_frame", f"no frame within {tol} s of pose t={pose_ts[i]!r}{note}", file=gt,
                  line=int(lines[i]), episode_id=eid)
            continue
        e = order[match[i]]
        if entry_problem[e] is not None:
            code, detail, file = entry_problem[e]
            q.add(code, f"pose line {int(lines[i])}: {detail}", file=file, line=int(lines[i]), episode_id=eid)
            continue
        media_path[i] = entry_rel[e]
        media_index[i] = entry_index[e]
    steps = np.diff(sorted_ts)
    steps = steps[np.isfinite(steps) & (steps > 0)]
    fps = float(1.0 / np.median(steps)) if steps.size else 0.0
    good = [entry_rel[e] for e in range(len(entry_name)) if entry_problem[e] is None]
    width, height = media_size(Path(root) / good[0]) if good else (0, 0)
    return media_path, media_index, width, height, fps
