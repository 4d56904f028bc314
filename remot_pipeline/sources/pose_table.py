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
    delimiter: ","   quat_norm_tol: 1e-2   rotation_tol: 1e-5 (base.ROTATION_TOL)   scene_id: <str>
    intrinsics: [fx, fy, cx, cy]     # pixels; or {fx, fy, cx, cy}; or a file beside the table
                                     # (relative to the source root): a 3x3 camera matrix as text
                                     # (9 numbers, e.g. COLMAP/OpenCV K.txt) or JSON holding fx/fy/cx/cy,
                                     # fl_x/fl_y/cx/cy (nerfstudio) or a 3x3 ``K``/``camera_matrix``

A CSV is read as UTF-8 (a byte-order mark is removed); its first non-comment row is the header.
A table with no data row (empty, or a header only) is a one-line SourceError. A boolean (or, in
Parquet, a string) where a number is declared is ``value_type_invalid``; a ``frame_column``
value that is negative, fractional or not a number is ``frame_index_invalid``.

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
from remot_pipeline.sources.base import (  # noqa: F401  (nearest_rotation, source_root: re-exported)
    source_root,
    IMAGE_SUFFIXES,
    ROTATION_TOL,
    VIDEO_SUFFIXES,
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    check_timestamps,
    drop_if_unusable,
    nearest_rotation,
    option_float,
    project_to_se3,
    read_text,
    relative_to_root,
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
    #: The largest rotation change made by :func:`check_matrices` on these rows (None: none checked).
    rotation_correction: float | None = None

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


def matrices_from_rows(values: np.ndarray) -> np.ndarray:
    """``(n, 12)`` 3x4 or ``(n, 16)`` 4x4 row-major numbers -> ``(n, 4, 4)``."""
    n, k = values.shape
    out = np.tile(np.eye(4), (n, 1, 1))
    out[:, : k // 4, :] = values.reshape(n, k // 4, 4)
    return out


def check_matrices(m: np.ndarray, keep: np.ndarray, rows: Rows, tol: float = ROTATION_TOL) -> tuple[np.ndarray, np.ndarray]:
    """Quarantine the poses that are not SE(3) (:func:`base.validate_poses`: ``nan_pose``,
    ``rotation_not_orthonormal`` beyond ``tol``, ``pose_not_se3`` for a bottom row other than
    ``0 0 0 1``). Returns ``(keep, m)`` with every finite rotation projected exactly onto SO(3), as
    quaternions within tolerance are renormalised; the largest change over the kept rows is kept
    in ``rows.rotation_correction`` (the maximum over calls) for :func:`finish` to report."""
    keep = rows.check(validate_poses, m, keep, tol=tol)
    out, corr = project_to_se3(m, keep)
    rows.rotation_correction = corr if rows.rotation_correction is None else max(rows.rotation_correction, corr)
    return keep, out


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
    norm = relative_to_root(root, path)
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
           intrinsics=None, note: str | None = None, rotation_correction: float | None = None) -> EpisodeRead:
    """Drop an episode left with < 2 frames, then build the canonical columns of the kept rows.

    ``ts`` in seconds (any origin; made relative to the first kept row); ``fps`` defaults to
    the median frame rate of the kept rows; width/height default to the first kept frame's media;
    ``rotation_correction`` defaults to ``rows.rotation_correction``.
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
    corr = rows.rotation_correction if rotation_correction is None else rotation_correction
    return EpisodeRead(ref, columns, rows.q, rows_in, fps=float(fps), width_px=int(width), height_px=int(height),
                       intrinsics_px=None if intrinsics is None else tuple(float(v) for v in intrinsics), note=note,
                       max_rotation_correction=corr)


# ---------------------------------------------------------------------------------------------
# The pose_table reader
# ---------------------------------------------------------------------------------------------

_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_QUAT_NAMED = ("qx", "qy", "qz", "qw")


def _layout(spec: SourceSpec) -> dict:
    """Validate the options once; returns the column layout. Raises a one-line SourceError."""
    o = spec.options
    where = f"source {spec.name!r} (format pose_table)"
    if not isinstance(o.get("columns") or {}, dict):
        raise SourceError(f"{spec.path}: {where} options.columns is a {type(o.get('columns')).__name__}; expected a mapping such as {{timestamp: t, tx: x, ...}}")
    cols = dict(o.get("columns") or {})
    for key in ("matrix", "quat"):
        if key in cols and not isinstance(cols[key], (list, tuple)):
            raise SourceError(f"{spec.path}: {where} `columns.{key}` is {cols[key]!r}; expected a list of column names")
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
            _require(path, needed, schema.names)
            table = pq.read_table(path, columns=needed)
        except (OSError, pa.ArrowException) as exc:
            raise SourceError(f"{path}: not a readable Parquet file ({(str(exc).splitlines() or [type(exc).__name__])[0]}); re-export it") from None
        if table.num_rows == 0:
            raise SourceError(f"{path}: the table holds no row; expected one row per frame with columns {needed}")
        data = {}
        for name in needed:
            col = table.column(name)
            if pa.types.is_timestamp(col.type):  # keep the unit's integer ticks; timestamp_unit states the unit
                col = col.cast(pa.int64())
            data[name] = col.to_pylist()
        return [(i + 1, {k: v[i] for k, v in data.items()}, "") for i in range(table.num_rows)]
    import io

    records, header = [], None
    text = read_text(path)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
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
    except (csv.Error, TypeError) as exc:
        raise SourceError(f"{path}: not a readable CSV with delimiter {delimiter!r} ({exc}); fix the file or options.delimiter") from None
    if header is None:
        raise SourceError(f"{path}: the file is empty (no header, no data row); expected a header naming the columns {needed}, "
                          "then one row per frame")
    if not records:
        raise SourceError(f"{path}: no data row after the header; expected one row per frame with columns {needed}")
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


class _TypeInvalid(ValueError):
    """A value of the wrong type for a numeric column (``value_type_invalid``)."""


def _number(value) -> float:
    if value is None or value == "":
        raise ValueError("empty field")
    if isinstance(value, (bool, np.bool_)):
        raise _TypeInvalid(f"boolean {value!r} where a number is declared")
    if not isinstance(value, (str, int, float, np.integer, np.floating)):
        raise _TypeInvalid(f"{type(value).__name__} {value!r} where a number is declared")
    return float(value)


def exact_number(value):
    """An exact int when the field is an integer (ns clocks exceed float64 precision), else a float."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return _number(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    return _number(value)


def finite_base(raw_ts: list, keep: np.ndarray):
    """The smallest finite kept timestamp (exact ints stay ints), or 0: the origin for ``t - base``."""
    return min((t for t, k in zip(raw_ts, keep) if k and (isinstance(t, int) or np.isfinite(t))), default=0)


def read(ref: EpisodeRef) -> EpisodeRead:
    spec, o = ref.spec, ref.spec.options
    layout = _layout(spec)
    root = source_root(spec)
    rel, _, fragment = ref.episode_path.partition("#")
    path = root / rel
    records = _read_records(path, _needed(layout), o.get("delimiter", ","))
    parquet = path.suffix.lower() == ".parquet"
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
            cells = [rec[layout["timestamp"]], *(rec[c] for c in layout["numeric"])]
            if parquet and any(isinstance(v, str) for v in cells):
                raise _TypeInvalid("text where a number is declared (the Parquet column is a string column)")
            raw_ts[i] = exact_number(cells[0])
            values[i] = [_number(v) for v in cells[1:]]
        except _TypeInvalid as exc:
            rows.add("value_type_invalid", f"row: {exc}", i)
            keep[i] = False
        except (TypeError, ValueError, OverflowError) as exc:
            rows.add("malformed_line", f"row: {exc}", i)
            keep[i] = False
    base = finite_base(raw_ts, keep)
    ts = np.asarray([float(t - base) for t in raw_ts], dtype=np.float64) * _UNITS[o.get("timestamp_unit", "s")]

    if layout["kind"] == "matrix":
        pose = matrices_from_rows(values)
    else:
        keep, pose = poses_from_quats(values[:, :3], values[:, 3:7], keep, rows, option_float(spec, "quat_norm_tol", 1e-2))
    keep, pose = check_matrices(pose, keep, rows, option_float(spec, "rotation_tol", ROTATION_TOL, positive=True))
    if o.get("convention", "cam2world") == "world2cam":
        pose = se3.invert(pose)
    if o.get("axes", "opencv") == "opengl":
        from remot_pipeline.sources.nerf import opengl_to_opencv

        pose = opengl_to_opencv(pose)
    keep = rows.check(check_timestamps, ts, keep)

    media = media_index = None
    if layout["image"]:
        keep, media, media_index = _media(root, Path(rel).parent, records, layout, keep, rows)
    return finish(ref, rows, n, ts, pose, keep, root=root, media=media, media_index=media_index,
                  intrinsics=intrinsics_option(spec, root))


def _k_matrix(values, where: str) -> tuple[float, float, float, float]:
    k = np.asarray(values, dtype=np.float64).reshape(3, 3)
    if not (np.isfinite(k).all() and np.allclose(k[2], [0, 0, 1]) and k[1, 0] == 0 and k[0, 0] > 0 and k[1, 1] > 0):
        raise SourceError(f"{where}: not a camera matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0; fix it")
    return float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])


def _intrinsics_file(path: Path) -> tuple[float, float, float, float]:
    import json

    text = read_text(path)
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise SourceError(f"{path}: invalid JSON ({exc}); fix the intrinsics file") from None
        if not isinstance(doc, dict):
            raise SourceError(f"{path}: expected a JSON object with fx, fy, cx, cy (or K); fix the intrinsics file")
        for keys in (("fx", "fy", "cx", "cy"), ("fl_x", "fl_y", "cx", "cy")):
            if all(k in doc for k in keys):
                return _intrinsic_values([doc[k] for k in keys], str(path))
        for key in ("K", "camera_matrix", "intrinsic_matrix"):
            if key in doc:
                try:
                    return _k_matrix(doc[key], f"{path}: {key}")
                except (TypeError, ValueError):
                    raise SourceError(f"{path}: {key} is not a 3x3 matrix; fix the intrinsics file") from None
        raise SourceError(f"{path}: holds none of fx/fy/cx/cy, fl_x/fl_y/cx/cy, K, camera_matrix; fix the intrinsics file")
    numbers = [t for t in re.split(r"[\s,;\[\]]+", text) if t]
    try:
        return _k_matrix([float(t) for t in numbers], str(path))
    except ValueError:
        raise SourceError(f"{path}: expected the 9 numbers of a 3x3 camera matrix, found {len(numbers)} tokens; "
                          "fix the intrinsics file") from None


def _intrinsic_values(values, where: str) -> tuple[float, float, float, float]:
    try:
        if len(values) != 4 or any(isinstance(v, bool) for v in values):
            raise ValueError
        fx, fy, cx, cy = (float(v) for v in values)
    except (TypeError, ValueError):
        raise SourceError(f"{where}: intrinsics must be [fx, fy, cx, cy] in pixels, got {values!r}; fix it") from None
    if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
        raise SourceError(f"{where}: intrinsics {values!r} need finite values and fx, fy > 0; fix it")
    return fx, fy, cx, cy


def intrinsics_option(spec: SourceSpec, root: Path) -> tuple[float, float, float, float] | None:
    """``options.intrinsics`` as ``(fx, fy, cx, cy)`` pixels: four values, a mapping, or a file
    (relative to the source root) holding a 3x3 camera matrix or JSON; None when not declared.
    Anything else is a one-line SourceError naming the source (or the file) and the fix."""
    value = spec.options.get("intrinsics")
    where = f"{spec.path}: source {spec.name!r} option intrinsics"
    if value is None:
        return None
    if isinstance(value, dict):
        missing = [k for k in ("fx", "fy", "cx", "cy") if k not in value]
        if missing:
            raise SourceError(f"{where} lacks {missing}; give fx, fy, cx, cy in pixels")
        return _intrinsic_values([value[k] for k in ("fx", "fy", "cx", "cy")], where)
    if isinstance(value, str):
        path = resolve_inside(root, value)
        if path is None or not path.is_file():
            raise SourceError(f"{where}: {value!r} is not a file inside {root}; fix the path (relative to the source)")
        return _intrinsics_file(path)
    if isinstance(value, (list, tuple)):
        return _intrinsic_values(list(value), where)
    raise SourceError(f"{where} is a {type(value).__name__}; give [fx, fy, cx, cy], a mapping or a file name")


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
            raw = rec[layout["frame"]]
            try:
                value = _number(raw)
                if not (np.isfinite(value) and value >= 0 and value == int(value)):
                    raise ValueError
                index[i] = int(value)
            except (TypeError, ValueError, OverflowError):
                rows.add("frame_index_invalid", f"frame column {layout['frame']!r} holds {raw!r}, not an integer >= 0", i)
                keep[i] = False
        elif name and Path(name).suffix.lower() in VIDEO_SUFFIXES:
            index[i] = seen[name] = seen.get(name, -1) + 1
    keep, media = check_media(root, names, index, keep, rows)
    return keep, media, index
