"""EuRoC MAV / ASL folders: ``<seq>/mav0/state_groundtruth_estimate0/data.csv`` with the header
``#timestamp, p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], q_RS_w [], q_RS_x [], q_RS_y [], q_RS_z [], ...``:
timestamps in **nanoseconds** (kept exact as integers), position in metres, quaternion
**w first**; the pose of the body (the IMU, frame S) in the world (frame R): ``body2world``.

With a camera (``mav0/<camera>/data.csv`` = ``#timestamp [ns],filename``, images in
``mav0/<camera>/data/``), each camera frame is one row: it takes the ground-truth pose nearest
in time (within ``max_time_diff_s``, else ``no_matching_frame``) and
``cam2world = body2world @ T_BS``, ``T_BS`` (camera -> body, 4x4 row-major ``data:``) from
``mav0/<camera>/sensor.yaml``, whose camera axes are OpenCV's (x right, y down, z forward). Without
``sensor.yaml`` the body pose stands for the camera pose (said in ``note``). Ground-truth rows
are then a lookup table: a bad one is quarantined with its reason (and counted in ``rows_in``),
good ones are consumed. Without a camera the episode is pose-only: one row per ground-truth
line, ``cam2world`` = the body pose (said in ``note``).

Intrinsics (pixels, the pinhole part; EuRoC images are distorted, radial-tangential) and the
image size come from ``sensor.yaml`` (``intrinsics``, ``resolution``).

Options: ``camera`` (default ``cam0``), ``max_time_diff_s`` (default 0.005), ``quat_norm_tol``
(default 1e-2), ``scene_id`` (default: the sequence name up to its first ``_``: ``MH``, ``V1``).

Every file is read as UTF-8 with any byte-order mark removed. A header is a ``#`` line, or a first
line made of words only; any other line is data, quarantined as ``malformed_line`` when it does
not parse. An empty (or header-only) ground-truth file or camera ``data.csv`` is a one-line SourceError. NaN/inf
timestamps are ``timestamp_nonfinite``; an isolated far-off one is ``timestamp_outlier``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from remot_pipeline.core.se3 import rotation_defect
from remot_pipeline.sources.base import (
    ROTATION_TOL,
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    associate_timestamps,
    check_timestamps,
    is_header_line,
    option_float,
    parse_numeric_lines,
    read_text_lines,
)
from remot_pipeline.sources.pose_table import (
    Rows,
    check_matrices,
    check_media,
    episode_key,
    exact_number,
    finish,
    nearest_rotation,
    new_log,
    poses_from_quats,
    source_root,
)

FORMAT = "euroc"
_GT = "state_groundtruth_estimate0/data.csv"
_SPLIT = re.compile(r"[,\s;]+")


def _mav_dirs(root: Path) -> list[Path]:
    return sorted(p.parent.parent for p in root.rglob(_GT) if p.parent.parent.name == "mav0")


def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = source_root(spec)
    mavs = _mav_dirs(root)
    if not mavs:
        raise SourceError(f"{root}: source {spec.name!r} holds no mav0/{_GT}; point `path` at a EuRoC sequence folder (or their parent)")
    cam = spec.options.get("camera", "cam0")
    refs = []
    for mav in mavs:
        seq = mav.parent if mav != root else mav
        rel = str(seq.relative_to(root)) if seq != root else "."
        files = [mav / _GT, *(p for p in (mav / cam / "data.csv", mav / cam / "sensor.yaml") if p.is_file())]
        if (mav / cam / "data").is_dir():
            files += sorted(p for p in (mav / cam / "data").iterdir() if p.is_file())
        name = mav.resolve().parent.name  # the sequence, e.g. MH_01_easy
        scene = spec.options.get("scene_id", name.split("_")[0])
        refs.append(EpisodeRef(spec, episode_key(rel, name), rel, tuple(files), scene_id=scene))
    return refs


def _mav(root: Path, ref: EpisodeRef) -> Path:
    d = root / ref.episode_path
    return d if d.name == "mav0" and (d / _GT).is_file() else d / "mav0"


def _field_count(path: Path) -> int:
    """Fields per line, from the ``#`` header (comma separated) or else the first data line."""
    for raw in read_text_lines(path):
        text = raw.strip()
        if text.startswith("#") or is_header_line(text):
            return max(len(text.lstrip("#").split(",")), 8)
        if text:
            return max(len([p for p in _SPLIT.split(text) if p]), 8)
    return 8


def _exact_first_field(path: Path, lines: np.ndarray) -> list:
    """The first field of the given lines as exact ints (ns clocks exceed float64 precision)."""
    wanted, out = set(lines.tolist()), {}
    for no, raw in enumerate(read_text_lines(path), start=1):
        if no in wanted:
            out[no] = exact_number([p for p in _SPLIT.split(raw.strip()) if p][0])
    return [out[no] for no in lines.tolist()]


def _read_groundtruth(gt: Path, rows_q, eid: str, tol: float):
    """``(rows, ts_ns list, body2world (n,4,4), keep, n_malformed)`` for the ground-truth file."""
    if not gt.is_file():
        raise SourceError(f"{gt}: the EuRoC ground truth (state_groundtruth_estimate0/data.csv) is missing; restore it")
    before = len(rows_q)
    values, lines = parse_numeric_lines(gt, _field_count(gt), rows_q, eid,
                                        expect="one line per pose: timestamp [ns], p x y z [m], q w x y z, ...")
    n_malformed = len(rows_q) - before
    rows = Rows(rows_q, eid, gt, lines)
    keep = np.ones(len(lines), dtype=bool)
    quat_xyzw = values[:, [5, 6, 7, 4]]  # file order w, x, y, z
    keep, body2world = poses_from_quats(values[:, 1:4], quat_xyzw, keep, rows, tol)
    keep, body2world = check_matrices(body2world, keep, rows, ROTATION_TOL)
    return rows, _exact_first_field(gt, lines), body2world, keep, n_malformed


def _read_camera_csv(path: Path, q, eid: str):
    """``(line numbers, ts_ns, file names)`` of the well-formed lines; others -> ``malformed_line``."""
    lines, ts, names = [], [], []
    first = True
    for no, raw in enumerate(read_text_lines(path), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if first and is_header_line(text):  # "timestamp [ns],filename" without its "#"
            first = False
            continue
        first = False
        parts = [p.strip() for p in text.split(",")]
        try:
            if len(parts) != 2 or not parts[1]:
                raise ValueError(f"expected `timestamp,filename`, got {len(parts)} field(s)")
            t = exact_number(parts[0])
        except ValueError as exc:
            q.add("malformed_line", str(exc), file=str(path), line=no, episode_id=eid)
            continue
        lines.append(no)
        ts.append(t)
        names.append(parts[1])
    return np.asarray(lines, dtype=np.int64), ts, names


def _sensor(path: Path):
    """``(T_BS (4,4) or None, intrinsics or None, (w, h), problem or None)`` from sensor.yaml."""
    import yaml

    if not path.is_file():
        return None, None, (0, 0), None
    try:
        text = "\n".join(ln for ln in read_text_lines(path) if not ln.startswith("%"))
        doc = yaml.safe_load(text) or {}
        t_bs = np.asarray(doc["T_BS"]["data"], dtype=np.float64).reshape(4, 4)
        err, det = rotation_defect(t_bs[:3, :3])
        if not (np.isfinite(t_bs).all() and err < ROTATION_TOL and abs(det - 1.0) < ROTATION_TOL):
            raise ValueError(f"T_BS is not a rigid transform (|R^T R - I| = {err:.1e}, det = {det:.4f})")
        if np.abs(t_bs[3] - [0.0, 0.0, 0.0, 1.0]).max() > 1e-9:
            raise ValueError(f"T_BS bottom row {t_bs[3].tolist()} is not 0 0 0 1")
        t_bs[:3, :3] = nearest_rotation(t_bs[:3, :3])
        intr = doc.get("intrinsics")
        res = doc.get("resolution") or (0, 0)
        intr = tuple(float(v) for v in intr[:4]) if intr and len(intr) >= 4 else None
        return t_bs, intr, (int(res[0]), int(res[1])), None
    except (yaml.YAMLError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        return None, None, (0, 0), f"{path.name}: no usable T_BS ({str(exc).splitlines()[0]})"


def read(ref: EpisodeRef) -> EpisodeRead:
    spec, o = ref.spec, ref.spec.options
    root = source_root(spec)
    mav = _mav(root, ref)
    q, eid = new_log(ref), ref.episode_id
    gt_rows, gt_ns, body2world, gt_keep, gt_malformed = _read_groundtruth(mav / _GT, q, eid, option_float(spec, "quat_norm_tol", 1e-2, positive=True))
    cam_dir = mav / o.get("camera", "cam0")
    logged_gt = len(q)
    if not (cam_dir / "data.csv").is_file():  # pose-only: one row per ground-truth line
        base = next((t for t, k in zip(gt_ns, gt_keep) if k and _finite(t)), 0)
        ts = np.asarray([float(t - base) for t in gt_ns]) / 1e9
        gt_keep = gt_rows.check(check_timestamps, ts, gt_keep)
        note = f"pose-only (no {cam_dir.name}/data.csv): cam2world is the body (IMU) pose"
        return finish(ref, gt_rows, len(gt_ns) + gt_malformed, ts, body2world, gt_keep, root=root, note=note)

    cam_csv = cam_dir / "data.csv"
    lines, cam_ns, names = _read_camera_csv(cam_csv, q, eid)
    if not len(lines) and len(q) == logged_gt:
        raise SourceError(f"{cam_csv}: no camera line (the file is empty, or holds only comments or a header); expected "
                          f"`timestamp [ns],filename` lines, or remove {cam_dir.name}/ for a pose-only episode")
    rows = Rows(q, eid, cam_csv, lines)
    keep = np.ones(len(lines), dtype=bool)
    base = min([t for t, k in zip(gt_ns, gt_keep) if k and _finite(t)] + [t for t in cam_ns[:1] if _finite(t)], default=0)
    gt_ts = np.asarray([float(t - base) for t in gt_ns]) / 1e9
    gt_keep = gt_rows.check(check_timestamps, gt_ts, gt_keep)
    logged = len(q)  # every ground-truth row rejected so far, and the malformed camera lines
    ts = np.asarray([float(t - base) for t in cam_ns]) / 1e9
    keep = rows.check(check_timestamps, ts, keep)

    good = np.flatnonzero(gt_keep)
    tol = option_float(spec, "max_time_diff_s", 0.005, positive=True)
    match = associate_timestamps(ts, gt_ts[good], tol)
    for i in np.flatnonzero(keep & (match < 0)):
        rows.add("no_matching_frame", f"no ground-truth pose within {tol} s of camera t={cam_ns[i]} ns", i)
    keep &= match >= 0
    t_bs, intr, (w, h), problem = _sensor(cam_dir / "sensor.yaml")
    if problem is not None:
        for i in np.flatnonzero(keep):
            rows.add("malformed_line", problem, i)
        keep[:] = False
    cam2world = body2world[good[np.maximum(match, 0)]] if good.size else np.full((len(lines), 4, 4), np.nan)
    note = None
    if t_bs is not None:
        cam2world = cam2world @ t_bs
    elif problem is None:
        note = f"no {cam_dir.name}/sensor.yaml: the body (IMU) pose is used as the camera pose"
    data_rel = os.path.relpath(cam_dir / "data", root)
    media_rel = [os.path.join(data_rel, nm) for nm in names]  # an absolute name stays absolute (checked inside root)
    keep, media = check_media(root, media_rel, np.zeros(len(lines), dtype=np.int64), keep, rows)
    return finish(ref, rows, len(lines) + logged, ts, cam2world, keep, root=root, media=media,
                  media_index=np.zeros(len(lines), dtype=np.int64), width=w, height=h, intrinsics=intr, note=note,
                  rotation_correction=gt_rows.rotation_correction)


def _finite(t) -> bool:
    return isinstance(t, int) or bool(np.isfinite(t))
