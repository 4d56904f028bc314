"""KITTI odometry: ``poses/XX.txt`` (or ``XX.txt``), one line per frame of 12 numbers, the 3x4
row-major camera-to-world of the rectified left grayscale camera (cam0, OpenCV axes: x right,
y down, z forward; world = cam0 at frame 0; metres). Data line ``k`` (1-based, counting neither
blank nor ``#`` lines) is frame ``k-1``.

Layout, relative to the dataset folder ``D`` (the folder holding ``poses/``, or the pose file's
folder)::

    D/poses/XX.txt                       # or D/XX.txt
    D/sequences/XX/times.txt             # optional, seconds, data line k <-> pose data line k
    D/sequences/XX/calib.txt             # optional, ``P0:`` .. ``P3:`` projection matrices
    D/sequences/XX/image_2/000000.png    # optional images (options.image_dir)

``times.txt`` may also sit next to the pose file. Without it, timestamps are ``(k-1) / fps``.
Pose and time lines pair by data line (a comment or blank line in either file shifts nothing): an
unmatched data line of either file is quarantined as ``malformed_line`` (one row per line). With
``calib.txt``, poses are moved to the camera of ``image_dir`` (``image_2`` -> ``P2``: same
orientation, offset by the rectified baseline) and intrinsics come from that ``P``; without it (or
without that ``P`` line) the cam0 pose is used as is; a ``P`` line that is not 12 numbers of a
projection matrix is a one-line SourceError naming ``calib.txt``.

Options: ``fps`` (default 10), ``image_dir`` (default ``sequences/{seq}/image_2``, relative to
``D``; ``{seq}`` is the sequence id; when the default folder is absent the episode is
pose-only), ``rotation_tol`` (default ``base.ROTATION_TOL`` = 1e-5: KITTI prints 6 decimals, which
puts real rotations up to 1.7e-6 off SO(3); each accepted rotation is re-projected), ``scene_id``.

KITTI files have no header: every non-blank, non-``#`` line of ``XX.txt`` and ``times.txt`` is a
data line (a text line at the top is quarantined as ``malformed_line``, never skipped, so that data
line ``k`` stays frame ``k-1``). A UTF-8 byte-order mark is removed. An empty pose file or ``times.txt``
is a one-line SourceError naming it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from remot_pipeline.core.ledger import QuarantineLog
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
from remot_pipeline.sources.pose_table import Rows, check_matrices, check_media, episode_key, finish, matrices_from_rows, new_log

FORMAT = "kitti"
_DEFAULT_IMAGE_DIR = "sequences/{seq}/image_2"


def _root(spec: SourceSpec) -> Path:
    path = Path(spec.path)
    if path.is_dir():
        return path
    if path.is_file():  # a single pose file; poses/XX.txt keeps its dataset folder as the root
        return path.parent.parent if path.parent.name == "poses" else path.parent
    raise SourceError(f"{path}: source {spec.name!r} path does not exist; create it or fix `path` in the sources file")


def _pose_files(spec: SourceSpec, root: Path) -> list[Path]:
    path = Path(spec.path)
    if path.is_file():
        return [path]
    folder = root / "poses" if (root / "poses").is_dir() else root
    files = sorted(p for p in folder.glob("*.txt") if p.stem not in {"times", "calib"})
    if not files:
        raise SourceError(f"{root}: source {spec.name!r} holds no KITTI pose file (poses/XX.txt or XX.txt); fix `path`")
    return files


def _aux(pose_file: Path) -> tuple[Path, str]:
    """``(dataset folder D, sequence id)`` for a pose file."""
    return (pose_file.parent.parent if pose_file.parent.name == "poses" else pose_file.parent), pose_file.stem


def _sidecar(pose_file: Path, name: str) -> Path | None:
    d, seq = _aux(pose_file)
    for cand in (d / "sequences" / seq / name, pose_file.parent / name):
        if cand.is_file():
            return cand
    return None


def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = _root(spec)
    refs = []
    for f in _pose_files(spec, root):
        d, seq = _aux(f)
        files = [f, *(p for p in (_sidecar(f, "times.txt"), _sidecar(f, "calib.txt")) if p)]
        image_dir = d / _image_dir(spec, seq)
        if image_dir.is_dir():
            files += sorted(image_dir.glob("*.png"))
        rel = str(f.relative_to(root))
        key = episode_key(rel.removesuffix(".txt").removeprefix("poses/"), seq)
        refs.append(EpisodeRef(spec, key, rel, tuple(files), scene_id=spec.options.get("scene_id", seq)))
    return refs


def _image_dir(spec: SourceSpec, seq: str) -> str:
    pattern = spec.options.get("image_dir", _DEFAULT_IMAGE_DIR)
    try:
        return str(pattern).format(seq=seq)
    except (KeyError, IndexError, ValueError) as exc:
        raise SourceError(f"{spec.path}: source {spec.name!r} option image_dir={pattern!r} is not a folder pattern "
                          f"({exc!r}); use only the placeholder {{seq}}") from None


def _parse(path: Path, n_fields: int, q: QuarantineLog, eid: str, expect: str) -> tuple[np.ndarray, np.ndarray, dict[int, dict]]:
    """``(values, good line numbers, {bad line: quarantine row})``, logging nothing yet."""
    tmp = QuarantineLog(q.stage, q.domain, q.source_name)
    values, lines = parse_numeric_lines(path, n_fields, tmp, eid, allow_header=False, expect=expect)
    bad = {int(r["line"]): r for r in tmp.table().to_pylist()} if len(tmp) else {}
    return values, lines, bad


def _ordinals(path: Path) -> dict[int, int]:
    """``{line number: k}`` for the data lines of ``path`` (not blank, not ``#``): the k-th (1-based)
    data line is frame ``k-1``, so that a comment or a blank line never shifts a frame."""
    out = {}
    for no, raw in enumerate(read_text_lines(path), start=1):
        text = raw.strip()
        if text and not text.startswith("#"):
            out[no] = len(out) + 1
    return out


def read(ref: EpisodeRef) -> EpisodeRead:
    spec, o = ref.spec, ref.spec.options
    root = _root(spec)
    pose_file = root / ref.episode_path
    d, seq = _aux(pose_file)
    q, eid = new_log(ref), ref.episode_id
    values, lines, bad_pose = _parse(pose_file, 12, q, eid, "12 numbers per line (a 3x4 camera-to-world, row-major)")
    for line, r in bad_pose.items():
        q.add("malformed_line", r["detail"], file=str(pose_file), line=line, episode_id=eid)
    pose_ord = _ordinals(pose_file)
    frames = np.asarray([pose_ord[int(line)] for line in lines], dtype=np.int64)  # 1-based data line = frame + 1
    rows = Rows(q, eid, pose_file, lines)
    keep = np.ones(len(lines), dtype=bool)
    fps = option_float(spec, "fps", 10.0, positive=True)
    times_file = _sidecar(pose_file, "times.txt")
    rows_in = len(lines) + len(bad_pose)
    time_lines = lines
    if times_file is None:
        ts = (frames - 1) / fps
    else:
        t_values, t_lines, bad_time = _parse(times_file, 1, q, eid,
                                             "one timestamp (s) per pose line; or remove it to time poses at options.fps")
        t_ord = _ordinals(times_file)  # data line k of times.txt <-> data line k of the pose file
        t_line_of = {k: line for line, k in t_ord.items()}
        by_frame = {t_ord[int(line)]: v for line, v in zip(t_lines.tolist(), t_values[:, 0].tolist())}
        bad_by_frame = {t_ord[line]: r for line, r in bad_time.items()}
        ts = np.asarray([by_frame.get(int(k), np.nan) for k in frames])
        for i, k in enumerate(frames.tolist()):
            if k in bad_by_frame:
                q.add("malformed_line", f"times.txt: {bad_by_frame[k]['detail']}", file=str(times_file), line=t_line_of[k],
                      episode_id=eid)
            elif k not in by_frame:
                rows.add("malformed_line", f"no timestamp: {times_file.name} has no data line {k}", i)
            else:
                continue
            keep[i] = False
        pose_frames = set(frames.tolist()) | {pose_ord[line] for line in bad_pose}
        extra = sorted((set(by_frame) | set(bad_by_frame)) - pose_frames)
        for k in extra:
            q.add("malformed_line", f"times.txt data line {k} has no pose line in {pose_file.name}", file=str(times_file),
                  line=t_line_of[k], episode_id=eid)
        rows_in += len(extra)
        time_lines = np.asarray([t_line_of.get(int(k), int(line)) for k, line in zip(frames, lines)], dtype=np.int64)
        fps = None

    keep, cam2world = check_matrices(matrices_from_rows(values), keep, rows, option_float(spec, "rotation_tol", ROTATION_TOL, positive=True))
    time_rows = rows if times_file is None else Rows(q, eid, times_file, time_lines)  # each row's own times.txt line
    keep = time_rows.check(check_timestamps, ts, keep)

    image_dir = d / _image_dir(spec, seq)
    cam_id = m.group(1) if (m := re.search(r"(\d+)$", image_dir.name)) else "0"
    calib = _sidecar(pose_file, "calib.txt")
    media = media_index = intr = note = None
    if calib is not None:
        cam2world, intr = _to_camera(cam2world, calib, cam_id)
    if image_dir.is_dir() or "image_dir" in o:
        media_rel = [os.path.relpath(image_dir / f"{k - 1:06d}.png", root) for k in frames.tolist()]
        media_index = np.zeros(len(lines), dtype=np.int64)
        keep, media = check_media(root, media_rel, media_index, keep, rows)
        if intr is None and cam_id != "0":
            note = f"no P{cam_id} in calib.txt: the cam0 pose stands for {image_dir.name} (same orientation, a baseline apart)"
    return finish(ref, rows, rows_in, ts, cam2world, keep, root=root, media=media, media_index=media_index, fps=fps,
                  intrinsics=intr, note=note)


def _to_camera(cam0_2world: np.ndarray, calib: Path, cam_id: str):
    """Move cam0 poses to rectified camera ``cam_id`` using ``P{cam_id} = K [I | t]``:
    ``cam2world = cam0_2world @ [I | -t]``. Returns ``(poses, (fx, fy, cx, cy) or None)``."""
    for raw in read_text_lines(calib):
        name, _, rest = raw.partition(":")
        if name.strip() != f"P{cam_id}":
            continue
        try:
            p = np.asarray([float(v) for v in rest.split()], dtype=np.float64).reshape(3, 4)
            t = np.linalg.solve(p[:, :3], p[:, 3])
            if not np.isfinite(t).all():
                raise ValueError("non-finite")
        except (ValueError, np.linalg.LinAlgError):
            raise SourceError(f"{calib}: P{cam_id} is not a 3x4 projection matrix of 12 finite numbers with an "
                              f"invertible 3x3 part; fix the line or remove calib.txt to keep the cam0 pose") from None
        offset = np.eye(4)
        offset[:3, 3] = -t
        return cam0_2world @ offset, (p[0, 0], p[1, 1], p[0, 2], p[1, 2])
    return cam0_2world, None
