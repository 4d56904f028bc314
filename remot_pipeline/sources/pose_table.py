"""Generic pose table (CSV or Parquet), configured entirely by options, plus the building blocks
that the navigation readers (kitti, euroc, realestate10k, nerf, scannet, sevenscenes) share.

A table holds one row per frame. ``options``::

    columns: {timestamp: t, tx: x, ty: y, tz: z, qx: qx, qy: qy, qz: qz, qw: qw}
             # or  quat: [a, b, c, d]  (in ``quat_order``)
             # or  matrix: [12 names (3x4 row-major) | 16 names (4x4 row-major)]  (no tx/ty/tz/quat)
    quat_order: xyzw | wxyz          # order of ``columns.quat`` (default xyzw)
    convention: cam2world | world2cam  (default cam2world)
    axes: opencv | opengl            # camera axes of the table's poses (default opencv)
    timestamp_unit: s | ms | us | ns (default s)
    image_column: <name>             # optional media path per row, relative to the table's folder
    frame_column: <name>             # optional frame index when the media is a video
                                     # (default: the i-th row naming a video is its frame i)
    episode_column: <name>           # optional: split one file into episodes by this column
    glob: "*.csv"                    # files searched under a folder (default *.csv and *.parquet)
    delimiter: ","   quat_norm_tol: 1e-2   rotation_tol: 1e-6   scene_id: <str>

Output poses are camera-to-world in OpenCV camera axes (x right, y down, z forward); translation
in the table's units (metres for metric sources). Each table row is one input row; its locator
is the CSV line number (header = line 1) or, for Parquet, the 1-based row number. One file is
one episode, or, with ``episode_column``, one episode per value (``episode_path`` is then
``<file>#<column>=<value>``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from remot_pipeline.core import se3
from remot_pipeline.core.ledger import QuarantineLog
from remot_pipeline.sources.base import (
    source_root,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    check_timestamps,
    drop_if_unusable,
    resolve_inside,
    validate_poses,
)
from remot_pipeline.sources.video import VideoError, count_frames, media_size

FORMAT = "pose_table"

# ---------------------------------------------------------------------------------------------
# Building blocks shared by the navigation readers (kitti, euroc, realestate10k, nerf, scannet, 7-Scenes).
# ---------------------------------------------------------------------------------------------


def episode_key(rel: str, fallback: str) -> str:
    """A filesystem-safe, unique-within-source key from a relative path."""
    key = re.sub(r"[^A-Za-z0-9._=-]+", "_", rel.replace("/", "__")).strip("_")
    return key if key and key != "." else fallback


@dataclass
class Rows:
    """Where an episode's input rows come from, and the log their rejections go to.

    ``file`` is one metadata file, or a per-row list of files (formats with one pose file per
    frame); each quarantine row names the file and 1-based line of its own row.
    """

    q: QuarantineLog
    episode_id: str
    file: Path | Sequence[Path]
    lines: np.ndarray

    def file_of(self, i: int) -> Path:
        return Path(self.file) if isinstance(self.file, (str, Path)) else Path(self.file[i])

    def add(self, code: str, detail: str, i: int) -> None:
        self.q.add(code, detail, file=str(self.file_of(i)), line=int(self.lines[i]), episode_id=self.episode_id)

    def check(self, fn, *args, **kwargs):
        """Call a shared ``base`` check ``fn(*args, lines, file, quarantine, episode_id, **kwargs)``."""
        if isinstance(self.file, (str, Path)):
            return fn(*args, self.lines, Path(self.file), self.q, self.episode_id, **kwargs)
        tmp = QuarantineLog(self.q.stage, self.q.domain, self.q.source_name)
        out = fn(*args, np.arange(1, len(self.lines) + 1), Path("."), tmp, self.episode_id, **kwargs)
        for r in tmp.table().to_pylist():  # re-address each row to its own file
            self.add(r["reason_code"], r["detail"], int(r["line"]) - 1)
        return out


def new_log(ref: EpisodeRef) -> QuarantineLog:
    return QuarantineLog("episode_frames", ref.spec.domain, ref.spec.name)


def nearest_rotation(rot: np.ndarray) -> np.ndarray:
    """Project ``(..., 3, 3)`` near-rotations onto SO(3): the Frobenius-nearest rotation (SVD)."""
    u, _, vt = np.linalg.svd(rot)
    u[..., :, 2] *= np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)[..., None]  # det +1, never a mirror
    return u @ vt


def matrices_from_rows(values: np.ndarray) -> np.ndarray:
    """``(n, 12)`` 3x4 or ``(n, 16)`` 4x4 row-major numbers -> ``(n, 4, 4)``."""
    n, k = values.shape
    out = np.tile(np.eye(4), (n, 1, 1))
    out[:, : k // 4, :] = values.reshape(n, k // 4, 4)
    return out


def check_matrices(m: np.ndarray, keep: np.ndarray, rows: Rows, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Quarantine non-finite poses (``nan_pose``), rotations off SO(3) by more than ``tol``
    (``rotation_not_orthonormal``, det -1 included) and a bottom row other than ``0 0 0 1``
    (``malformed_line``). Returns ``(keep, m)`` with every finite rotation projected exactly
    onto SO(3), as quaternions within tolerance are renormalised."""
    keep = rows.check(validate_poses, m, keep, tol=tol)
    finite = np.isfinite(m).all(axis=(-1, -2))
    bottom = np.where(finite[:, None], m[:, 3, :], [0.0, 0.0, 0.0, 1.0])
    bottom_bad = keep & (np.abs(bottom - [0.0, 0.0, 0.0, 1.0]).max(axis=1) > 1e-6)
    for i in np.flatnonzero(bottom_bad):
        rows.add("malformed_line", f"bottom row {m[i, 3].tolist()} is not 0 0 0 1", i)
    out = m.copy()
    if finite.any():
        out[finite, :3, :3] = nearest_rotation(m[finite, :3, :3])
        out[finite, 3] = [0.0, 0.0, 0.0, 1.0]
    return keep & ~bottom_bad, out


def poses_from_quats(t: np.ndarray, quat_xyzw: np.ndarray, keep: np.ndarray, rows: Rows, tol: float = 1e-2):
    """Translations ``(n, 3)`` + xyzw quaternions ``(n, 4)`` -> ``(keep, pose (n, 4, 4))``.

    Norms within ``tol`` of 1 are renormalised; beyond it ``quat_not_unit``. A non-finite row
    becomes a NaN pose (quarantined as ``nan_pose`` by :func:`check_matrices`).
    """
    finite = np.isfinite(t).all(axis=1) & np.isfinite(quat_xyzw).all(axis=1)
    norms = np.linalg.norm(np.where(finite[:, None], quat_xyzw, 1.0), axis=1)
    bad = keep & finite & (np.abs(norms - 1.0) > tol)
    for i in np.flatnonzero(bad):
        rows.add("quat_not_unit", f"|q| = {norms[i]:.6f}", i)
    ok = (finite & ~bad)[:, None]
    pose = se3.pose_from_translation_quat_xyzw(np.where(ok, t, 0.0), np.where(ok, quat_xyzw, [0.0, 0.0, 0.0, 1.0]))
    pose[~finite] = np.nan
    return keep & ~bad, pose


def check_media(root: Path, media_rel: list, frame_index: np.ndarray, keep: np.ndarray, rows: Rows):
    """Check the media each kept row names (a path relative to ``root``, or None for "missing").

    Per row: outside the root -> ``path_escapes_root``; absent -> ``video_missing``; a video
    that cannot be opened -> ``video_unreadable``; a frame index beyond the video's length ->
    ``video_short``. Returns ``(keep, media paths relative to root)``.
    """
    keep = keep.copy()
    out: list = [None] * len(keep)
    cache: dict = {}
    for i in np.flatnonzero(keep):  # one metadata row at a time; each media file inspected once
        rel = media_rel[i]
        if rel not in cache:
            cache[rel] = _inspect_media(Path(root), rel)
        norm, problem, count = cache[rel]
        if problem is None and count is not None and frame_index[i] >= count:
            problem = ("video_short", f"{rel} holds {count} frames; frame {int(frame_index[i])} is listed")
        if problem is not None:
            rows.add(problem[0], problem[1], i)
            keep[i] = False
        else:
            out[i] = norm
    return keep, out


def _inspect_media(root: Path, rel: str | None):
    if not rel:
        return None, ("video_missing", "no media path given for this row"), None
    path = resolve_inside(root, rel)
    if path is None:
        return None, ("path_escapes_root", f"{rel!r} resolves outside the source root"), None
    if not path.is_file():
        return None, ("video_missing", f"{rel} does not exist"), None
    norm = str(path.relative_to(Path(root).resolve()))
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return norm, None, None
    try:
        return norm, None, count_frames(path)
    except VideoError as exc:
        return None, ("video_unreadable", str(exc)), None


def find_image(base: Path, stem_path: str, default_suffix: str = "") -> str:
    """``stem_path`` as is when it has an image suffix or exists under ``base``; else with the first
    image suffix that exists; else with ``default_suffix`` (so a missing file is named plainly)."""
    if Path(stem_path).suffix.lower() in IMAGE_SUFFIXES or (base / stem_path).is_file():
        return stem_path
    for suffix in sorted(IMAGE_SUFFIXES):
        if (base / (stem_path + suffix)).is_file():
            return stem_path + suffix
    return stem_path + default_suffix


def finish(ref: EpisodeRef, rows: Rows, rows_in: int, ts: np.ndarray, cam2world: np.ndarray, keep: np.ndarray,
           *, root: Path, media=None, media_index=None, fps: float | None = None, width: int = 0, height: int = 0,
           intrinsics=None, note: str | None = None) -> EpisodeRead:
    """Drop an episode left with < 2 frames, then build the canonical columns of the kept rows.

    ``ts`` in seconds (any origin; made relative to the first kept row); ``fps`` defaults to
    the median frame rate of the kept rows; width/height default to the first kept frame's media.
    """
    idx = rows.check(drop_if_unusable, keep)
    if fps is None:
        fps = float(1.0 / np.median(np.diff(ts[idx]))) if idx.size > 1 and np.median(np.diff(ts[idx])) > 0 else 0.0
    if media is not None and idx.size and not width:
        width, height = media_size(Path(root) / media[idx[0]])
    columns = {
        "frame_index": np.arange(idx.size),
        "timestamp_s": np.asarray(ts[idx] - (ts[idx[0]] if idx.size else 0.0), dtype=np.float64),
        "cam2world": np.asarray(cam2world[idx], dtype=np.float64),
        "media_path": None if media is None else [media[i] for i in idx],
        "media_frame_index": None if media is None else np.asarray(media_index, dtype=np.int64)[idx],
    }
    return EpisodeRead(ref, columns, rows.q, rows_in, fps=float(fps), width_px=int(width), height_px=int(height),
                       intrinsics_px=None if intrinsics is None else tuple(float(v) for v in intrinsics), note=note)


# ---------------------------------------------------------------------------------------------
# The pose_table reader
# ---------------------------------------------------------------------------------------------

_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_QUAT_NAMED = ("qx", "qy", "qz", "qw")


def _layout(spec: SourceSpec) -> dict:
    """Validate the options once; returns the column layout. Raises a one-line SourceError."""
    o = spec.options
    cols = dict(o.get("columns") or {})
    where = f"source {spec.name!r} (format pose_table)"
    if "timestamp" not in cols:
        raise SourceError(f"{spec.path}: {where} declares no `columns.timestamp`; name the timestamp column in options.columns")
    quat_order = o.get("quat_order", "xyzw")
    for key, value, allowed in (("quat_order", quat_order, ("xyzw", "wxyz")),
                                ("convention", o.get("convention", "cam2world"), ("cam2world", "world2cam")),
                                ("axes", o.get("axes", "opencv"), ("opencv", "opengl")),
                                ("timestamp_unit", o.get("timestamp_unit", "s"), tuple(_UNITS))):
        if value not in allowed:
            raise SourceError(f"{spec.path}: {where} option {key}={value!r} is not one of {list(allowed)}; fix the sources file")
    if "matrix" in cols:
        numeric = list(cols["matrix"])
        if len(numeric) not in (12, 16):
            raise SourceError(f"{spec.path}: {where} `columns.matrix` names {len(numeric)} columns; give 12 (3x4) or 16 (4x4) row-major names")
        kind = "matrix"
    else:
        named = [cols.get(k) for k in _QUAT_NAMED]
        if "quat" in cols and any(named):
            raise SourceError(f"{spec.path}: {where} declares both `columns.quat` and qx/qy/qz/qw; keep one")
        if "quat" in cols:
            quat = list(cols["quat"])
            if len(quat) != 4:
                raise SourceError(f"{spec.path}: {where} `columns.quat` names {len(quat)} columns; give 4 in quat_order {quat_order!r}")
            if quat_order == "wxyz":
                quat = quat[1:] + quat[:1]
        elif all(named):
            quat = named
        else:
            raise SourceError(f"{spec.path}: {where} declares no rotation; give columns qx, qy, qz, qw, or quat, or matrix")
        missing = [k for k in ("tx", "ty", "tz") if k not in cols]
        if missing:
            raise SourceError(f"{spec.path}: {where} lacks columns.{'/'.join(missing)}; name the translation columns")
        numeric = [cols["tx"], cols["ty"], cols["tz"], *quat]  # quaternion stored xyzw from here on
        kind = "quat"
    return dict(kind=kind, numeric=[str(c) for c in numeric], timestamp=str(cols["timestamp"]),
                image=o.get("image_column"), frame=o.get("frame_column"), episode=o.get("episode_column"))


def _needed(layout: dict) -> list[str]:
    names = [layout["timestamp"], *layout["numeric"], layout["image"], layout["frame"], layout["episode"]]
    return list(dict.fromkeys(c for c in names if c))


def _table_files(spec: SourceSpec) -> tuple[Path, list[Path]]:
    path = Path(spec.path)
    root = source_root(spec)
    if path.is_file():
        return root, [path]
    pattern = spec.options.get("glob")
    files = sorted(path.rglob(pattern)) if pattern else sorted([*path.rglob("*.csv"), *path.rglob("*.parquet")])
    if not files:
        raise SourceError(f"{path}: source {spec.name!r} holds no pose table (*.csv, *.parquet); add one or set options.glob")
    return root, files


def _read_records(path: Path, needed: list[str], delimiter: str) -> list[tuple[int, dict | None, str]]:
    """``[(line, {column: value} or None, problem)]`` for every data row. Raises SourceError on a
    missing declared column (naming it and the file)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            raise SourceError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}); re-export it") from None
        _require(path, needed, schema.names)
        table = pq.read_table(path, columns=needed)
        data = {}
        for name in needed:
            col = table.column(name)
            if pa.types.is_timestamp(col.type):  # keep the unit's integer ticks; timestamp_unit states the unit
                col = col.cast(pa.int64())
            data[name] = col.to_pylist()
        return [(i + 1, {k: v[i] for k, v in data.items()}, "") for i in range(table.num_rows)]
    records, header = [], None
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=delimiter, skipinitialspace=True)
        for row in reader:
            line = reader.line_num
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [h.strip() for h in row]
                _require(path, needed, header)
                index = {h: header.index(h) for h in needed}
                continue
            if len(row) != len(header):
                records.append((line, None, f"expected {len(header)} fields, got {len(row)}"))
            else:
                records.append((line, {h: row[j].strip() for h, j in index.items()}, ""))
    if header is None:
        _require(path, needed, [])
    return records


def _require(path: Path, needed: list[str], have: list[str]) -> None:
    missing = [c for c in needed if c not in have]
    if missing:
        raise SourceError(f"{path}: declared column(s) {missing} not found (columns: {list(have)[:20]}); fix options.columns or the file")


def discover(spec: SourceSpec) -> list[EpisodeRef]:
    layout = _layout(spec)
    root, files = _table_files(spec)
    refs = []
    for f in files:
        records = _read_records(f, _needed(layout), spec.options.get("delimiter", ","))
        rel = str(f.relative_to(root))
        key = episode_key(rel.rsplit(".", 1)[0], f.stem)
        scene = spec.options.get("scene_id", key)
        col = layout["episode"]
        if not col:
            refs.append(EpisodeRef(spec, key, rel, (f,), scene_id=scene))
            continue
        values = dict.fromkeys(_episode_value(r, col) for r in records)
        for v in values:
            # rows without a value (or too ragged to have one) form their own episode, so none is lost
            refs.append(EpisodeRef(spec, episode_key(f"{key}__{v or 'no_episode'}", key), f"{rel}#{col}={v}", (f,),
                                   scene_id=scene))
    return refs


def _episode_value(record: tuple, col: str) -> str:
    rec = record[1]
    return "" if rec is None or rec.get(col) is None else str(rec[col])


def _number(value) -> float:
    if value is None or value == "":
        raise ValueError("empty field")
    return float(value)


def exact_number(value):
    """An exact int when the field is an integer (ns clocks exceed float64 precision), else a float."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return _number(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return _number(value)


def read(ref: EpisodeRef) -> EpisodeRead:
    spec, o = ref.spec, ref.spec.options
    layout = _layout(spec)
    root = source_root(spec)
    rel, _, fragment = ref.episode_path.partition("#")
    path = root / rel
    records = _read_records(path, _needed(layout), o.get("delimiter", ","))
    if fragment:
        col, _, wanted = fragment.partition("=")
        records = [r for r in records if _episode_value(r, col) == wanted]
    n = len(records)
    rows = Rows(new_log(ref), ref.episode_id, path, np.asarray([r[0] for r in records], dtype=np.int64))
    keep = np.ones(n, dtype=bool)
    values = np.full((n, len(layout["numeric"])), np.nan)
    raw_ts: list = [0] * n
    for i, (_, rec, problem) in enumerate(records):  # per-row parsing; the pose math below is batched
        try:
            if rec is None:
                raise ValueError(problem)
            raw_ts[i] = exact_number(rec[layout["timestamp"]])
            values[i] = [_number(rec[c]) for c in layout["numeric"]]
        except (TypeError, ValueError) as exc:
            rows.add("malformed_line", f"row: {exc}", i)
            keep[i] = False
    base = min((t for t, k in zip(raw_ts, keep) if k), default=0)
    ts = np.asarray([float(t - base) for t in raw_ts], dtype=np.float64) * _UNITS[o.get("timestamp_unit", "s")]

    if layout["kind"] == "matrix":
        pose = matrices_from_rows(values)
    else:
        keep, pose = poses_from_quats(values[:, :3], values[:, 3:7], keep, rows, float(o.get("quat_norm_tol", 1e-2)))
    keep, pose = check_matrices(pose, keep, rows, float(o.get("rotation_tol", 1e-6)))
    if o.get("convention", "cam2world") == "world2cam":
        pose = se3.invert(pose)
    if o.get("axes", "opencv") == "opengl":
        from remot_pipeline.sources.nerf import opengl_to_opencv

        pose = opengl_to_opencv(pose)
    keep = rows.check(check_timestamps, ts, keep)

    media = media_index = None
    if layout["image"]:
        keep, media, media_index = _media(root, Path(rel).parent, records, layout, keep, rows)
    return finish(ref, rows, n, ts, pose, keep, root=root, media=media, media_index=media_index)


def _media(root: Path, table_dir: Path, records: list, layout: dict, keep: np.ndarray, rows: Rows):
    """Media path per row (relative to the table's folder) and its frame index: ``frame_column``
    when declared, else 0 for an image and the occurrence count for a video."""
    keep = keep.copy()
    names: list = []
    index = np.zeros(len(records), dtype=np.int64)
    seen: dict = {}
    for i, (_, rec, _) in enumerate(records):
        value = None if rec is None else rec.get(layout["image"])
        name = str(table_dir / str(value)) if value not in (None, "") else None
        names.append(name)
        if not keep[i]:
            continue
        if layout["frame"]:
            try:
                index[i] = int(_number(rec[layout["frame"]]))
                if index[i] < 0:
                    raise ValueError("negative")
            except (TypeError, ValueError):
                rows.add("malformed_line", f"frame column {layout['frame']!r} holds {rec[layout['frame']]!r}, not an integer", i)
                keep[i] = False
        elif name and Path(name).suffix.lower() in VIDEO_SUFFIXES:
            index[i] = seen[name] = seen.get(name, -1) + 1
    keep, media = check_media(root, names, index, keep, rows)
    return keep, media, index
