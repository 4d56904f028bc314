"""Generic robot telemetry tables: a CSV or Parquet file with one row per sample (timestamp,
end-effector pose in the robot base frame, gripper width), optionally with a video.

One file is one episode, or several when ``options.episode_column`` is set. ``path`` is a folder
searched with ``options.glob`` (default ``**/*.csv`` and ``**/*.parquet``) or a single file.

Options:

* ``columns`` (required): ``timestamp``; ``ee_x ee_y ee_z``; the rotation either as a rotation
  vector ``ee_rx ee_ry ee_rz`` (rad) or as a quaternion ``ee_qx ee_qy ee_qz ee_qw`` (or
  ``ee_quat: [4 names]`` in ``quat_order``, ``xyzw`` by default); ``gripper``; ``joint_state``
  (a list column or a list of names). At least one of the end-effector position, the gripper
  or the joint state must be declared. A declared column missing from a file is a
  :class:`SourceError` naming the column and the file. A name may pick an element of a list
  column (``observation.state[3]``) or a field of a struct column (``observation.image.path``)
  in Parquet/Arrow files.
* ``timestamp_unit`` (``s`` | ``ms`` | ``us`` | ``ns``, default ``s``), ``position_unit``
  (``m`` | ``cm`` | ``mm``), ``gripper_unit`` (``m`` | ``mm``), ``quat_norm_tol`` (default 1e-2:
  quaternions within it are renormalised, beyond it quarantined as ``quat_not_unit``).
* ``episode_column``: split a file into episodes by this column's value.
* Media, all optional: ``video`` (a path relative to the table's folder; ``{episode}`` and
  ``{stem}`` are substituted) or ``video_column`` (a per-row path relative to the table's
  folder); the frame inside the video from ``frame_column`` (an index), or from
  ``video_time_column`` (seconds into the video) times ``video_fps``, or else from the row's
  timestamp since the episode's first row times ``video_fps``.
* ``fps`` (nominal rate when there is no video), ``cam2base`` (4x4 row-major: a fixed camera's
  pose in the robot base; with it ``cam2world`` is that constant, world = robot base),
  ``intrinsics: {fx, fy, cx, cy}``, ``scene_id``.

Bad rows are quarantined, one quarantine row each, first failing check wins: wrong field count,
a non-number in a used CSV column or a missing JSON key (``malformed_line``); a camera or object
pose stored as a list of the wrong length (``pose_malformed``); a bool, list or text (even
``"0.5"``) in a typed column (Parquet, Arrow, JSON) where a number is declared
(``value_type_invalid``, never read as 1.0); an empty timestamp (``malformed_line``), a NaN/inf one
(``timestamp_nonfinite``); a frame-column value that is NaN, fractional or negative
(``frame_index_invalid``, never truncated, never Python's frame -1); a non-finite pose
(``nan_pose``), a quaternion far from unit norm (``quat_not_unit``), a camera pose that is not
SE(3) (``pose_not_se3``, ``rotation_not_orthonormal``, tolerance :data:`ROTATION_TOL`, accepted
rotations re-projected onto SO(3)); a non-finite gripper width or joint (``nan_value``), a width outside
``[0, gripper_max_m]`` (``gripper_out_of_range``; option ``gripper_max_m``, default
:data:`GRIPPER_MAX_M_DEFAULT`); one isolated timestamp far ahead of agreeing neighbours
(``timestamp_outlier``, alone), unsorted or repeated timestamps; then the video checks
(``path_escapes_root``, ``video_missing``, ``video_unreadable``, ``video_short``, a negative
frame derived from a time: ``no_matching_frame``). A file that cannot be parsed at all, an empty
or header-only file, or an option of the wrong type or shape, is a one-line :class:`SourceError`.

The second half of this module is the table engine that the ``umi_v1``, ``lerobot_v21`` and
``sim_pose_table`` readers share: :func:`load_rows` (CSV, Parquet, Arrow IPC, JSONL),
:class:`Layout` (which columns mean what) and :func:`read_rows` (rows -> canonical columns with
the quarantine), plus :func:`check_media`.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from remot_pipeline.core import se3
from remot_pipeline.core.ledger import QuarantineLog
from remot_pipeline.sources.base import (
    source_root,
    check_timestamps,
    IMAGE_SUFFIXES,
    EpisodeRead,
    EpisodeRef,
    SourceError,
    SourceSpec,
    drop_if_unusable,
    resolve_inside,
)
from remot_pipeline.sources.video import VideoError, count_frames, media_size

FORMAT = "robot_table"

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
LENGTH_UNITS = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
_DEFAULT_GLOBS = ("**/*.csv", "**/*.parquet")

#: Largest accepted ``max |R^T R - I|`` and ``|det R - 1|`` of a rotation. Real files print rotations
#: rounded: float32 (relative error 6e-8 per entry) gives defects of a few 1e-7, 6 printed decimals
#: (absolute error 5e-7 per entry) up to ~3e-6; a scaled (1.001 -> 2e-3) or mirrored (det -1)
#: matrix is orders of magnitude further. Accepted rotations are re-projected onto SO(3).
ROTATION_TOL = 1e-5
#: Rotations whose defect is below this (a few float64 ulp) are not re-projected.
EXACT_TOL = 1e-12
#: Largest accepted deviation of a 4x4 pose's bottom row from ``[0, 0, 0, 1]``.
BOTTOM_ROW_TOL = 1e-6
#: Gripper widths below ``-GRIPPER_NEG_TOL_M`` are out of range (a calibrated gripper may read -0.1 mm closed).
GRIPPER_NEG_TOL_M = 1e-3
#: Upper bound of a gripper width when the source declares none (``options.gripper_max_m``): over three
#: times the widest common parallel-jaw stroke (Robotiq 2F-140: 0.14 m; Franka, UMI, WidowX: 0.08-0.09 m),
#: so that only impossible values (a width in mm read as m, a sentinel) are caught without a declaration.
GRIPPER_MAX_M_DEFAULT = 0.5

# --------------------------------------------------------------------------------------------
# Row checks shared by the manipulation and simulation readers (lerobot, lerobot_v21, umi_v1,
# robot_table, sim_pose_table, remot_sim_jsonl). Each quarantines the kept rows it rejects, one
# reason each, and returns the new keep mask.
# --------------------------------------------------------------------------------------------


def _add(q: QuarantineLog, code: str, detail: str, file, line, eid: str, frame_index=None) -> None:
    q.add(code, detail, file=str(file), line=int(line), episode_id=eid,
          frame_index=None if frame_index is None else int(frame_index))


def check_frame_indices(values: np.ndarray, keep: np.ndarray, lines: np.ndarray, file: Path, q: QuarantineLog,
                        eid: str, limit: int | None = None, what: str = "frame index") -> tuple[np.ndarray, np.ndarray]:
    """``(keep, indices int64)``: a kept row whose index is not finite, fractional (9.7 is never
    truncated), negative, or ``>= limit`` is ``frame_index_invalid``; its index becomes 0."""
    v = np.asarray(values, dtype=np.float64)
    keep = keep.copy()
    finite = np.isfinite(v)
    safe = np.where(finite, v, 0.0)
    integral = finite & (safe == np.floor(safe))
    bad = ~integral | (safe < 0) | (safe > 2.0**53)  # no video has 2**53 frames; int64 casts stay exact
    if limit is not None:
        bad |= safe >= limit
    for i in np.flatnonzero(keep & bad):
        x = v[i]
        why = ("is not a number" if not finite[i] else "is not an integer" if not integral[i] else "is negative"
               if x < 0 else f"is beyond the {limit} frames available" if limit is not None else "is beyond any video")
        _add(q, "frame_index_invalid", f"{what} {float(x)!r} {why}", file, lines[i], eid)
    keep &= ~bad
    return keep, np.where(bad, 0, safe).astype(np.int64)


def check_timestamps_robust(ts: np.ndarray, keep: np.ndarray, lines: np.ndarray, file: Path, q: QuarantineLog,
                            eid: str) -> np.ndarray:
    """Timestamps finite and strictly increasing, healthy neighbours kept around one bad row: the
    shared rule of :func:`.base.check_timestamps` (lines may be row numbers of a table)."""
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 - (-1e308) is inf, not an error
        return check_timestamps(ts, keep, lines, file, q, eid)


def gripper_max_m(options: dict, where: str) -> float:
    """The declared ``options.gripper_max_m`` (metres), else :data:`GRIPPER_MAX_M_DEFAULT`."""
    v = options.get("gripper_max_m")
    if v is None:
        return GRIPPER_MAX_M_DEFAULT
    try:
        v = float(v)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(options.get("gripper_max_m"), bool) or not (np.isfinite(v) and v > 0):
        raise SourceError(f"{where}: options.gripper_max_m {options.get('gripper_max_m')!r} is not a positive number "
                          "of metres; fix the sources file")
    return v


def check_gripper(width: np.ndarray, keep: np.ndarray, lines: np.ndarray, file: Path, q: QuarantineLog, eid: str,
                  max_m: float) -> np.ndarray:
    """Non-finite -> ``nan_value``; below ``-GRIPPER_NEG_TOL_M`` or above ``max_m`` -> ``gripper_out_of_range``."""
    w = np.asarray(width, dtype=np.float64)
    keep = keep.copy()
    finite = np.isfinite(w)
    for i in np.flatnonzero(keep & ~finite):
        _add(q, "nan_value", "gripper width is NaN/inf or empty", file, lines[i], eid)
    keep &= finite
    out = finite & ((w < -GRIPPER_NEG_TOL_M) | (w > max_m))
    for i in np.flatnonzero(keep & out):
        _add(q, "gripper_out_of_range", f"gripper width {float(w[i])!r} m is outside [0, {max_m}] "
             "(declare options.gripper_max_m if the gripper is wider)", file, lines[i], eid)
    return keep & ~out


def project_so3(rot: np.ndarray) -> np.ndarray:
    """The nearest rotation (Frobenius norm) to each ``(..., 3, 3)``, by SVD."""
    u, _, vt = np.linalg.svd(rot)
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    return u @ vt


def se3_problems(mats: np.ndarray, what: str = "pose", tol: float = ROTATION_TOL
                 ) -> tuple[list[tuple[str, str] | None], np.ndarray, np.ndarray]:
    """Per ``(n, 4, 4)`` pose, ``None`` or the first ``(reason, detail)``: non-finite ``nan_pose``,
    bottom row not ``[0, 0, 0, 1]`` ``pose_not_se3``, rotation not orthonormal or det not +1
    within ``tol`` ``rotation_not_orthonormal``. Also returns the poses with every accepted rotation
    re-projected onto SO(3), and the per-pose largest entry change of that projection."""
    m = np.array(mats, dtype=np.float64).reshape(-1, 4, 4)
    n = len(m)
    finite = np.isfinite(m).all(axis=(1, 2))
    safe = np.where(finite[:, None, None], m, np.eye(4))
    bottom = np.abs(safe[:, 3, :] - [0.0, 0.0, 0.0, 1.0]).max(axis=1) if n else np.zeros(0)
    err, det = se3.rotation_defect(safe[:, :3, :3]) if n else (np.zeros(0), np.ones(0))
    out: list[tuple[str, str] | None] = [None] * n
    for i in range(n):
        if not finite[i]:
            out[i] = ("nan_pose", f"{what} holds NaN/inf")
        elif bottom[i] > BOTTOM_ROW_TOL:
            out[i] = ("pose_not_se3", f"{what}: bottom row {safe[i, 3].tolist()} is not [0, 0, 0, 1]")
        elif err[i] > tol or abs(det[i] - 1.0) > tol:
            out[i] = ("rotation_not_orthonormal", f"{what}: |R^T R - I| = {err[i]:.2e}, det = {det[i]:.6f} (tolerance {tol:g})")
    ok = np.array([p is None for p in out], dtype=bool)
    # Rotations already exact to a few ulp are left bit for bit (no churn in downstream hashes).
    fix = ok & ((err > EXACT_TOL) | (np.abs(det - 1.0) > EXACT_TOL))
    correction = np.zeros(n)
    if fix.any():
        fixed = project_so3(safe[fix, :3, :3])
        correction[fix] = np.abs(fixed - safe[fix, :3, :3]).max(axis=(1, 2))
        m[fix, :3, :3] = fixed
    m[ok, 3] = [0.0, 0.0, 0.0, 1.0]
    return out, m, correction


def validate_se3(mats: np.ndarray, keep: np.ndarray, lines: np.ndarray, file: Path, q: QuarantineLog, eid: str,
                 what: str = "pose", tol: float = ROTATION_TOL) -> tuple[np.ndarray, np.ndarray, float]:
    """``(keep, poses, largest correction)``: the kept rows failing :func:`se3_problems` are quarantined;
    accepted rotations come back re-projected onto SO(3) (the largest entry change is returned, 0.0
    when nothing was kept: at most ~1e-7 for float32 files, ~1e-6 for 6 printed decimals)."""
    problems, m, correction = se3_problems(mats, what, tol)
    keep = keep.copy()
    for i in np.flatnonzero(keep):
        if problems[i] is not None:
            _add(q, problems[i][0], problems[i][1], file, lines[i], eid)
            keep[i] = False
    return keep, m, float(correction[keep].max()) if keep.any() else 0.0


def correction_field(value: float | None) -> dict:
    """``{"max_rotation_correction": value}`` when :class:`EpisodeRead` has that field (base.py), else ``{}``."""
    return {"max_rotation_correction": value} if "max_rotation_correction" in EpisodeRead.__dataclass_fields__ else {}


def checked_se3(value, where: str) -> np.ndarray:
    """A fixed 4x4 pose from configuration or metadata (16 numbers, row-major), or a one-line SourceError."""
    try:
        if isinstance(value, bool) or any(isinstance(x, bool) for x in np.ravel(np.asarray(value, dtype=object))):
            raise TypeError("holds a bool")
        m = np.asarray(value, dtype=np.float64).reshape(4, 4)
    except (TypeError, ValueError) as exc:
        raise SourceError(f"{where}: {str(value)[:80]} is not a 4x4 pose ({exc}); give 16 numbers, row-major") from None
    q = QuarantineLog("episode_frames", "manipulation")
    ok, fixed, _ = validate_se3(m[None], np.ones(1, bool), np.ones(1, np.int64), Path(where), q, "")
    if not ok[0]:
        raise SourceError(f"{where}: not a rigid pose ({q._rows[0]['detail']}); fix the 4x4 matrix")
    return fixed[0]


# --------------------------------------------------------------------------------------------
# robot_table reader
# --------------------------------------------------------------------------------------------


def one_line_errors(fn):
    """Last resort around a reader's ``discover``/``read``: an unforeseen ``KeyError``, ``IndexError``,
    ``ValueError``, Arrow or OS error becomes a one-line :class:`SourceError` naming the source's
    path (the specific checks name the file, key and fix; this only guarantees the error type)."""

    @functools.wraps(fn)
    def wrapper(arg):
        try:
            return fn(arg)
        except SourceError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, pa.ArrowException, OSError) as exc:
            spec = arg if isinstance(arg, SourceSpec) else arg.spec
            where = Path(spec.path) if isinstance(arg, SourceSpec) else Path(spec.path) / arg.episode_path
            detail = " ".join(str(exc).split())[:160]
            raise SourceError(f"{where}: source {spec.name!r} ({spec.format}) cannot be read "
                              f"({type(exc).__name__}: {detail}); fix or re-export the file") from exc

    return wrapper


def table_reader(layout_fn: Callable[[SourceSpec], "Layout"], default_globs: tuple[str, ...]):
    """``(discover, read)`` for a table format whose columns ``layout_fn`` declares."""

    @one_line_errors
    def discover(spec: SourceSpec) -> list[EpisodeRef]:
        root, files = root_and_files(spec, spec.options.get("glob", default_globs))
        layout = checked_layout(layout_fn, spec)
        refs: list[EpisodeRef] = []
        for f in files:
            rows = load_rows(f)
            rows.require(layout.required_columns())
            if not len(rows):  # an empty or header-only file would ingest nothing without a word
                raise SourceError(f"{f}: no data rows (the file is empty or holds only its header); "
                                  "add the rows or remove the file")
            refs += table_refs(spec, root, f, rows, layout, file_key(root, f, spec), media_dir=f.parent)
        return refs

    @one_line_errors
    def read(ref: EpisodeRef) -> EpisodeRead:
        spec = ref.spec
        root = source_root(spec)
        path = root / ref.episode_path
        layout = checked_layout(layout_fn, spec)
        rows = load_rows(path)
        rows.require(layout.required_columns())
        sel = select_episode(rows, layout.episode, file_key(root, path, spec), ref)
        return read_rows(ref, rows, sel, layout, media_dir=path.parent)

    return discover, read


def checked_layout(layout_fn: Callable[[SourceSpec], "Layout"], spec: SourceSpec) -> "Layout":
    """``layout_fn(spec)``; a wrongly typed option (a list where a number is expected...) is one line."""
    try:
        return layout_fn(spec)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise SourceError(f"source {spec.name!r} ({spec.format}): an option has the wrong type or shape "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); fix the sources file") from None


def root_and_files(spec: SourceSpec, globs) -> tuple[Path, list[Path]]:
    p = Path(spec.path)
    if p.is_file():
        return p.parent, [p]
    if not p.is_dir():
        raise SourceError(f"{p}: source {spec.name!r} path does not exist; create it or fix `path` in the sources file")
    globs = [globs] if isinstance(globs, str) else list(globs)
    files = sorted({f for g in globs for f in p.glob(g) if f.is_file()})
    if not files:
        raise SourceError(f"{p}: no table file matches {globs}; add files or set options.glob in the sources file")
    return p, files


def file_key(root: Path, path: Path, spec: SourceSpec) -> str:
    rel = Path(path).relative_to(root)
    return sanitize(str(rel.with_suffix("")).replace(os.sep, "__"))


def layout_from_options(spec: SourceSpec) -> "Layout":
    """The robot_table :class:`Layout` declared by ``spec.options`` (a SourceError if inconsistent)."""
    o = spec.options
    where = f"source {spec.name!r}"
    cols = o.get("columns")
    if not isinstance(cols, dict) or "timestamp" not in cols:
        raise SourceError(f"{where}: options.columns must map at least `timestamp` (and ee_x/ee_y/ee_z, gripper or joint_state); fix the sources file")
    ee_pos = _names(cols, ("ee_x", "ee_y", "ee_z"), where)
    ee_rotvec = _names(cols, ("ee_rx", "ee_ry", "ee_rz"), where)
    ee_quat = _names(cols, ("ee_qx", "ee_qy", "ee_qz", "ee_qw"), where)
    if "ee_quat" in cols:
        ee_quat = quat_columns_xyzw(cols["ee_quat"], o.get("quat_order", "xyzw"), where)
    if ee_rotvec and ee_quat:
        raise SourceError(f"{where}: options.columns declares both a rotation vector and a quaternion; keep one")
    joint = cols.get("joint_state")
    if joint is not None and not isinstance(joint, str):
        joint = tuple(str(c) for c in joint)
    if not (ee_pos or cols.get("gripper") or joint):
        raise SourceError(f"{where}: options.columns declares no signal; map ee_x/ee_y/ee_z, gripper or joint_state")
    cam2base = o.get("cam2base")
    if cam2base is not None:
        cam2base = checked_se3(cam2base, f"{where} options.cam2base")
    return Layout(
        timestamp=str(cols["timestamp"]),
        timestamp_scale=unit_scale(o.get("timestamp_unit", "s"), TIME_UNITS, "timestamp_unit", where),
        ee_pos=ee_pos,
        ee_rotvec=ee_rotvec,
        ee_quat_xyzw=ee_quat,
        position_scale=unit_scale(o.get("position_unit", "m"), LENGTH_UNITS, "position_unit", where),
        gripper=cols.get("gripper"),
        gripper_scale=unit_scale(o.get("gripper_unit", "m"), LENGTH_UNITS, "gripper_unit", where),
        gripper_max_m=gripper_max_m(o, where),
        joint_state=joint,
        cam2base=cam2base,
        quat_norm_tol=float(o.get("quat_norm_tol", 1e-2)),
        **media_options(o, where),
    )


def _names(cols: dict, keys: tuple[str, ...], where: str) -> tuple[str, ...] | None:
    present = [k for k in keys if k in cols]
    if not present:
        return None
    if len(present) != len(keys):
        missing = [k for k in keys if k not in cols]
        raise SourceError(f"{where}: options.columns declares {present} but not {missing}; declare all of {list(keys)}")
    return tuple(str(cols[k]) for k in keys)


def quat_columns_xyzw(names, order: str, where: str) -> tuple[str, str, str, str]:
    """Four quaternion column names given in ``order`` (``xyzw`` or ``wxyz``) -> in xyzw order."""
    names = [str(n) for n in names]
    if len(names) != 4 or order not in ("xyzw", "wxyz"):
        raise SourceError(f"{where}: a quaternion needs 4 column names and quat_order xyzw or wxyz (got {names}, {order!r})")
    return tuple(names if order == "xyzw" else names[1:] + names[:1])


def unit_scale(unit, table: dict, option: str, where: str) -> float:
    try:
        return table[str(unit)]
    except KeyError:
        raise SourceError(f"{where}: {option} {unit!r} is not one of {sorted(table)}; fix the sources file") from None


def media_options(o: dict, where: str) -> dict:
    """The media and timing fields of a :class:`Layout` from source options."""
    out = dict(
        episode=o.get("episode_column"),
        video=o.get("video"),
        video_column=o.get("video_column"),
        frame_column=o.get("frame_column"),
        video_time_column=o.get("video_time_column"),
        video_fps=float(o["video_fps"]) if o.get("video_fps") is not None else None,
        fps=float(o["fps"]) if o.get("fps") is not None else None,
    )
    intr = o.get("intrinsics")
    if intr is not None:
        try:
            out["intrinsics"] = tuple(float(intr[k]) for k in ("fx", "fy", "cx", "cy"))
        except (KeyError, TypeError, ValueError):
            raise SourceError(f"{where}: options.intrinsics needs numbers fx, fy, cx, cy; fix the sources file") from None
    if out["video"] and out["video_column"]:
        raise SourceError(f"{where}: declare either options.video or options.video_column, not both")
    if (out["video"] or out["video_column"]) and not out["frame_column"] and out["video_fps"] is None:
        raise SourceError(f"{where}: a video needs options.frame_column or options.video_fps to locate frames; fix the sources file")
    if out["video_time_column"] and out["video_fps"] is None:
        raise SourceError(f"{where}: options.video_time_column needs options.video_fps; fix the sources file")
    return out


# --------------------------------------------------------------------------------------------
# The table engine shared by the tabular readers
# --------------------------------------------------------------------------------------------

_ABSENT = object()  # a JSONL record without the key (as opposed to an explicit null)
_ELEMENT = re.compile(r"^(?P<base>.+)\[(?P<index>\d+)\]$")


class Rows:
    """The rows of one table file as raw cells; no value is trusted yet.

    ``lines[i]`` is row i's 1-based locator (CSV/JSONL: the physical line where the record
    starts; Parquet/Arrow: the row number). ``broken[i]`` says why row i is structurally
    malformed (wrong field count, not a JSON object), else None. Values are read per column
    with :meth:`floats`, :meth:`texts` and :meth:`matrix`.
    """

    def __init__(self, path: Path, names: list[str], lines: np.ndarray, broken: list[str | None],
                 column: Callable[[str], list | np.ndarray | pa.ChunkedArray | None], typed: bool = True):
        self.path, self.names, self.lines, self.broken = Path(path), names, lines, broken
        #: Whether cells carry types (Parquet, Arrow, JSON): a bool or text there is ``value_type_invalid``;
        #: in a CSV every cell is text, and a non-number is ``malformed_line``.
        self.typed = typed
        self._column = column
        self._cache: dict[str, object] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def raw(self, name: str):
        if name not in self._cache:
            self._cache[name] = self._column(name)
        return self._cache[name]

    def has(self, name: str) -> bool:
        return self.raw(name) is not None

    def require(self, columns: Sequence[tuple[str, str]]) -> None:
        """A :class:`SourceError` naming the first declared ``(column, role)`` this file lacks."""
        for name, role in columns:
            if not self.has(name):
                shown = ", ".join(self.names[:12]) + (", ..." if len(self.names) > 12 else "")
                raise SourceError(f"{self.path}: declared column {name!r} ({role}) is not in the file (columns: {shown}); "
                                  "fix options.columns or the file")

    def floats(self, name: str, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(values float64 (m,), bad (m,) bool)`` for rows ``sel``; empty/null cells are NaN, text is bad."""
        raw = self.raw(name)
        if isinstance(raw, np.ndarray):
            if raw.ndim == 2 and raw.shape[1] != 1:
                raise SourceError(f"{self.path}: column {name!r} holds lists of {raw.shape[1]} numbers; "
                                  f"pick one element as {name}[i] in the options")
            return raw[sel].reshape(len(sel), -1)[:, 0].astype(np.float64), np.zeros(len(sel), dtype=bool)
        return to_floats([raw[i] for i in sel], typed=self.typed)

    def texts(self, name: str, sel: np.ndarray) -> list[str | None]:
        raw = self.raw(name)
        out = []
        for i in sel:
            v = raw[i]
            out.append(None if v is None or v is _ABSENT or (isinstance(v, str) and not v.strip()) else str(v).strip())
        return out

    def matrix(self, names: str | tuple[str, ...], sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(values (m, k), bad (m,))`` from a list column or from k scalar columns."""
        if not isinstance(names, str):
            parts = [self.floats(n, sel) for n in names]
            return (np.stack([p[0] for p in parts], axis=1) if parts else np.zeros((len(sel), 0)),
                    np.any([p[1] for p in parts], axis=0) if parts else np.zeros(len(sel), dtype=bool))
        raw = self.raw(names)
        if isinstance(raw, np.ndarray) and raw.ndim == 2:
            return raw[sel].astype(np.float64), np.zeros(len(sel), dtype=bool)
        cells = [raw[i] for i in sel]
        lengths = [len(c) if isinstance(c, (list, tuple)) else -1 for c in cells]
        k = max(set(lengths), key=lengths.count) if lengths else 0
        out = np.full((len(cells), max(k, 0)), np.nan)
        bad = np.zeros(len(cells), dtype=bool)
        for i, c in enumerate(cells):
            if lengths[i] != k or k < 0:
                bad[i] = True
                continue
            vals, b = to_floats(list(c))
            out[i], bad[i] = vals, b.any()
        return out, bad


def to_floats(cells: list, typed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Cells -> ``(float64 values, bad)``: None/empty/'nan' -> NaN; text, a bool or a missing key -> bad.
    In a ``typed`` file (Parquet, Arrow, JSON) every string is bad, even ``"0.5"``: the writer declared it text."""
    if typed and any(isinstance(v, str) for v in cells):
        ok = [v is None or _is_number(v) for v in cells]
        return (np.array([float(v) if o and v is not None else np.nan for v, o in zip(cells, ok)], dtype=np.float64),
                ~np.array(ok, dtype=bool))
    if not any(isinstance(v, (bool, np.bool_)) for v in cells):  # np.array([True]) would read 1.0
        try:
            return np.array(cells, dtype=np.float64).reshape(len(cells)), np.zeros(len(cells), dtype=bool)
        except (ValueError, TypeError):
            pass
    out = np.full(len(cells), np.nan)
    bad = np.zeros(len(cells), dtype=bool)
    for i, v in enumerate(cells):  # slow path, only for columns holding a bad cell
        if v is None:
            continue
        if v is _ABSENT or isinstance(v, (bool, np.bool_, list, dict, tuple)):
            bad[i] = True
            continue
        if isinstance(v, str):
            v = v.strip()
            if not v:
                continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            bad[i] = True
    return out, bad


def _is_number(v) -> bool:
    """A typed numeric cell (int, float, numpy number); a bool is not a number."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def list_lengths(rows: Rows, names: Sequence[str], sel: np.ndarray) -> list[tuple[str, int, np.ndarray]]:
    """For each list column whose elements ``names`` declares as ``base[0] .. base[k-1]``:
    ``(base, k, per selected row the list's length, or -1 where the cell is not a list)``."""
    groups: dict[str, set[int]] = {}
    for name in names:
        m = _ELEMENT.match(name)
        if m:
            groups.setdefault(m["base"], set()).add(int(m["index"]))
    out = []
    for base, idx in groups.items():
        raw = rows.raw(base)
        if raw is None or isinstance(raw, np.ndarray) or idx != set(range(len(idx))):
            continue
        out.append((base, len(idx), np.array([len(raw[j]) if isinstance(raw[j], (list, tuple)) else -1 for j in sel],
                                             dtype=np.int64)))
    return out


def _cells(rows: Rows, name: str, sel: np.ndarray) -> list:
    raw = rows.raw(name)
    return list(raw[sel]) if isinstance(raw, np.ndarray) else [raw[j] for j in sel]


def _is_empty(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def describe_cell(rows: Rows, name: str, row: int) -> str:
    raw = rows.raw(name)
    v = raw[row] if raw is not None else None
    if isinstance(v, np.generic):
        v = v.item()  # 'nan', not 'np.float64(nan)'
    return "missing" if v is _ABSENT else repr(v if not isinstance(v, str) else v[:40])


_LAST_LOADED: dict[tuple, Rows] = {}


def load_rows(path: Path) -> Rows:
    """Parse a CSV, Parquet, Arrow IPC (stream or file) or JSONL table into :class:`Rows`.

    A file that cannot be parsed at all is a one-line :class:`SourceError`. The last file
    parsed is kept (keyed by path, size and mtime): the episodes of one file are read in a row.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SourceError(f"{path}: file not found; re-run discovery or restore the file") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _LAST_LOADED:
        rows = _parse(path)
        _LAST_LOADED.clear()
        _LAST_LOADED[key] = rows
    return _LAST_LOADED[key]


def _parse(path: Path) -> Rows:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return rows_from_arrow(pq.read_table(path), path)
        if suffix in (".arrow", ".feather", ".ipc"):
            return rows_from_arrow(read_arrow_ipc(path), path)
        if suffix in (".jsonl", ".ndjson"):
            return _load_jsonl(path)
        return _load_csv(path)
    except FileNotFoundError:
        raise SourceError(f"{path}: file not found; re-run discovery or restore the file") from None
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path}: cannot read the table ({str(exc).splitlines()[0][:160]}); re-export the file") from None


def read_arrow_ipc(path: Path) -> pa.Table:
    """An Arrow IPC file, in stream format (Hugging Face ``datasets``) or in file format."""
    try:
        return pa.ipc.open_stream(pa.memory_map(str(path))).read_all()
    except pa.ArrowInvalid:
        return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def _load_csv(path: Path) -> Rows:
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:  # a BOM is not part of the header
        reader = csv.reader(fh)
        end = 0
        try:
            for rec in reader:
                start, end = end + 1, reader.line_num
                if not rec or not any(f.strip() for f in rec) or rec[0].lstrip().startswith("#"):
                    continue
                if header is None:
                    header = [h.strip() for h in rec]
                    continue
                records.append(rec)
                lines.append(start)
        except csv.Error as exc:
            raise SourceError(f"{path}: line {reader.line_num}: {exc}; fix the file") from None
    if header is None:
        raise SourceError(f"{path}: no header line; a table needs a header naming its columns")
    width = len(header)
    broken = [None if len(r) == width else f"expected {width} fields, got {len(r)}" for r in records]
    index = {}
    for j, h in enumerate(header):
        index.setdefault(h, j)

    def column(name: str):
        j = index.get(name)
        if j is None:
            return None
        return [r[j] if j < len(r) else None for r in records]

    return Rows(path, header, np.asarray(lines, dtype=np.int64), broken, column, typed=False)


def _flatten_json(rec: dict, prefix: str = "", out: dict | None = None) -> dict:
    out = {} if out is None else out
    for k, v in rec.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            _flatten_json(v, name + ".", out)
        else:
            out[name] = v
            if isinstance(v, list):
                for i, item in enumerate(v):
                    out[f"{name}[{i}]"] = item
    return out


def _load_jsonl(path: Path) -> Rows:
    records, lines, broken, names = [], [], [], {}
    with open(path, encoding="utf-8-sig", errors="replace") as fh:  # a BOM is not part of the first record
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                flat, problem = (_flatten_json(rec), None) if isinstance(rec, dict) else \
                    ({}, f"a JSON {type(rec).__name__}, not an object")
            except ValueError as exc:  # JSONDecodeError is a ValueError
                flat, problem = {}, f"not JSON: {str(exc)[:80]}"
            records.append(flat)
            lines.append(line_no)
            broken.append(problem)
            for k in flat:
                names.setdefault(k, None)

    def column(name: str):
        if name not in names:
            return None
        return [r.get(name, _ABSENT) for r in records]

    return Rows(path, list(names), np.asarray(lines, dtype=np.int64), broken, column)


def rows_from_arrow(table: pa.Table, path: Path) -> Rows:
    """Rows over an Arrow table; struct columns are flattened to ``parent.child`` names."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    n = table.num_rows

    def column(name: str):
        if name in table.column_names:
            return _arrow_values(table.column(name))
        m = _ELEMENT.match(name)
        if not m or m["base"] not in table.column_names:
            return None
        base = table.column(m["base"])
        k = int(m["index"])
        if pa.types.is_fixed_size_list(base.type):
            if k >= base.type.list_size:
                return None
            values = _arrow_values(base)
            if isinstance(values, np.ndarray):
                return values[:, k]
            return [v[k] if v is not None else None for v in values]
        if pa.types.is_list(base.type) or pa.types.is_large_list(base.type):
            return [v[k] if v is not None and len(v) > k else _ABSENT for v in base.to_pylist()]
        return None

    return Rows(path, table.column_names, np.arange(1, n + 1, dtype=np.int64), [None] * n, column)


def _arrow_values(col: pa.ChunkedArray):
    """Numeric -> float64 ndarray (null -> NaN); fixed-size numeric lists -> (n, k) ndarray; else Python values."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if pa.types.is_fixed_size_list(t) and (pa.types.is_integer(t.value_type) or pa.types.is_floating(t.value_type)):
        arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        values = np.asarray(arr.flatten().cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        if arr.offset or arr.null_count:  # rare: fall back to Python values for exactness
            out = np.full((len(arr), t.list_size), np.nan)
            for i, v in enumerate(arr.to_pylist()):
                if v is not None:
                    out[i] = [np.nan if x is None else x for x in v]
            return out
        return values.reshape(len(arr), t.list_size)
    return col.to_pylist()


def normalise_episode_value(v) -> str | None:
    """An episode column cell as text; integral numbers print without a fraction (``3.0`` -> ``3``)."""
    if v is None or v is _ABSENT:
        return None
    if isinstance(v, float) and not np.isfinite(v):
        return None
    text = str(v).strip()
    if not text:
        return None
    try:
        f = float(text)
    except ValueError:
        return text
    return str(int(f)) if np.isfinite(f) and f == int(f) else text


def episode_owners(rows: Rows, column: str | None) -> tuple[np.ndarray, list[str | None]]:
    """The episode value owning each row, and the values in first-appearance order.

    A row whose episode cell cannot be read (broken row, empty cell) belongs to the episode of
    the nearest readable row above it (the first episode for leading rows), so that every row
    is counted in exactly one episode. Without ``column`` the whole file is one episode (None).
    """
    n = len(rows)
    if column is None:
        return np.full(n, None, dtype=object), [None]
    cached = rows._cache.get(("owners", column))
    if cached is not None:
        return cached
    raw = rows.raw(column)
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    memo: dict = {}
    try:
        cells = [memo[v] if v in memo else memo.setdefault(v, normalise_episode_value(v)) for v in raw]
    except TypeError:  # unhashable cells (lists): no memo
        cells = [normalise_episode_value(v) for v in raw]
    values = list(dict.fromkeys(c for c in cells if c is not None))
    owners = np.empty(n, dtype=object)
    current = values[0] if values else None
    for i, c in enumerate(cells):
        if c is not None:
            current = c
        owners[i] = current
    rows._cache[("owners", column)] = (owners, values or [None])
    return owners, values or [None]


def sanitize(text: str) -> str:
    """A filesystem-safe key fragment."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "episode"


def episode_keys(prefix: str, values: list[str | None], value_part: Callable[[str], str] | None = None) -> dict[str, str | None]:
    """``{episode_key: episode value}`` for one file, keys unique and filesystem-safe."""
    keys: dict[str, str | None] = {}
    for v in values:
        key = prefix if v is None else f"{prefix}__{(value_part or sanitize)(v)}"
        base, k = key, 2
        while key in keys:
            key, k = f"{base}_{k}", k + 1
        keys[key] = v
    return keys


def select_episode(rows: Rows, column: str | None, prefix: str, ref: EpisodeRef,
                   value_part: Callable[[str], str] | None = None) -> np.ndarray:
    """Row indices (file order) of the episode ``ref`` names inside this file."""
    owners, values = episode_owners(rows, column)
    keys = episode_keys(prefix, values, value_part)
    if ref.episode_key not in keys:
        raise SourceError(f"{rows.path}: episode {ref.episode_key!r} is no longer in the file; re-run discovery")
    return rows_of(owners, keys[ref.episode_key])


def rows_of(owners: np.ndarray, value: str | None) -> np.ndarray:
    """Indices of the rows an episode value owns (all rows for the single episode None)."""
    return np.arange(len(owners)) if value is None else np.flatnonzero(owners == value)


def table_refs(spec: SourceSpec, root: Path, path: Path, rows: Rows, layout: "Layout", prefix: str, media_dir: Path,
               extra_files: Sequence[Path] = (), value_part: Callable[[str], str] | None = None,
               episode_path: str | None = None) -> list[EpisodeRef]:
    """One :class:`EpisodeRef` per episode of ``path``; input files are the table, ``extra_files``
    and the existing media inside the root that the episode names."""
    owners, values = episode_owners(rows, layout.episode)
    rel = episode_path or str(Path(path).relative_to(root))
    refs = []
    for key, value in episode_keys(prefix, values, value_part).items():
        sel = rows_of(owners, value)
        media = set()
        for m in media_paths(rows, sel, layout, root, media_dir, value, path):
            p = resolve_inside(root, m) if m else None
            if p is not None and p.is_file():
                media.add(p)
        files = list(dict.fromkeys([Path(path), *extra_files, *sorted(media)]))
        if Path(spec.path).is_file():  # EpisodeRef.input_sha256 names files relative to spec.path
            files = [Path(spec.path)]
        refs.append(EpisodeRef(spec, key, rel, tuple(files), scene_id=spec.options.get("scene_id", key)))
    return refs


@dataclass(frozen=True)
class PoseColumns:
    """A pose stored as position and rotation columns, and how to turn them into a 4x4.

    ``rotation`` is 4 names in xyzw order for a quaternion (``is_quat``) or 3 names in the order
    ``to_matrix`` expects (e.g. pitch, yaw, roll in degrees). ``to_matrix(position (n,3),
    rotation (n,k)) -> (n,4,4)`` applies the source's convention.
    """

    position: tuple[str, str, str]
    rotation: tuple[str, ...]
    is_quat: bool
    to_matrix: Callable[[np.ndarray, np.ndarray], np.ndarray]
    object_id: str = ""
    color_name: str = "unknown"


@dataclass
class Layout:
    """Which columns of a table mean what; every field but ``timestamp`` is optional."""

    timestamp: str
    timestamp_scale: float = 1.0
    ee_pos: tuple[str, str, str] | None = None
    ee_rotvec: tuple[str, str, str] | None = None
    ee_quat_xyzw: tuple[str, str, str, str] | None = None
    position_scale: float = 1.0
    gripper: str | None = None
    gripper_scale: float = 1.0
    gripper_max_m: float = GRIPPER_MAX_M_DEFAULT
    joint_state: str | tuple[str, ...] | None = None
    camera: PoseColumns | None = None
    objects: tuple[PoseColumns, ...] = ()
    cam2base: np.ndarray | None = None
    episode: str | None = None
    video: str | None = None
    video_column: str | None = None
    frame_column: str | None = None
    video_time_column: str | None = None
    video_fps: float | None = None
    fps: float | None = None
    quat_norm_tol: float = 1e-2
    width_px: int = 0
    height_px: int = 0
    intrinsics: tuple[float, float, float, float] | None = None
    fov_deg: float | None = None  # horizontal field of view: intrinsics from the image size
    #: A column of frame indices that is validated (integer >= 0, else ``frame_index_invalid``) but
    #: not used to locate media (LeRobot v2.1 locates frames by timestamp).
    index_column: str | None = None
    extra_required: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def required_columns(self) -> list[tuple[str, str]]:
        out = [(self.timestamp, "timestamp")]
        for names, role in ((self.ee_pos, "end-effector position"), (self.ee_rotvec, "end-effector rotation vector"),
                            (self.ee_quat_xyzw, "end-effector quaternion")):
            out += [(n, role) for n in names or ()]
        if self.gripper:
            out.append((self.gripper, "gripper width"))
        if self.joint_state:
            out += [(n, "joint state") for n in ((self.joint_state,) if isinstance(self.joint_state, str) else self.joint_state)]
        for pose, role in [(self.camera, "camera pose")] + [(o, f"object {o.object_id} pose") for o in self.objects]:
            if pose is not None:
                out += [(n, role) for n in (*pose.position, *pose.rotation)]
        for name, role in ((self.episode, "episode"), (self.video_column, "video path"), (self.frame_column, "video frame index"),
                           (self.video_time_column, "video time"), (self.index_column, "frame index")):
            if name:
                out.append((name, role))
        return out + list(self.extra_required)


def media_paths(rows: Rows, sel: np.ndarray, layout: Layout, root: Path, media_dir: Path, episode: str | None,
                table: Path) -> list[str | None]:
    """Per selected row, the media path relative to ``root`` (normalised; may start with ``..``), or None."""
    base = os.path.relpath(Path(media_dir).resolve(), Path(root).resolve())
    if layout.video:
        try:
            name = str(layout.video).format(episode=episode if episode is not None else "", stem=Path(table).stem)
        except (KeyError, IndexError, ValueError) as exc:
            raise SourceError(f"{table}: video template {layout.video!r} cannot be filled ({exc}); use {{episode}} or {{stem}}") from None
        rel = os.path.normpath(os.path.join(base, name))
        return [rel] * len(sel)
    if layout.video_column:
        return [None if t is None else os.path.normpath(os.path.join(base, t)) for t in rows.texts(layout.video_column, sel)]
    return [None] * len(sel)


def check_media(
    root: Path, media_rel: Sequence[str | None], media_index: np.ndarray, keep: np.ndarray, lines: np.ndarray,
    data_file: Path, q: QuarantineLog, episode_id: str,
) -> tuple[np.ndarray, dict[str, int]]:
    """Quarantine kept rows whose frame cannot be had; returns ``(keep, {media path: frame count})``.

    Each distinct path is resolved once: outside ``root`` -> ``path_escapes_root`` (the locator
    is the data file's row), absent -> ``video_missing``, not openable -> ``video_unreadable``;
    then a row whose index is at or beyond the demuxed frame count is ``video_short`` and a
    negative index is ``no_matching_frame``. An image file counts as one frame.
    """
    keep = keep.copy()
    status: dict[str, tuple[str, str, str] | int] = {}
    for rel in dict.fromkeys(m for m, k in zip(media_rel, keep) if k and m is not None):
        path = resolve_inside(root, rel)
        if path is None:
            status[rel] = ("path_escapes_root", f"media path {rel!r} resolves outside the source root", str(data_file))
        elif not path.is_file():
            status[rel] = ("video_missing", f"{rel} does not exist", str(path))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            status[rel] = 1
        else:
            try:
                status[rel] = count_frames(path)
            except VideoError as exc:
                status[rel] = ("video_unreadable", str(exc)[:200], str(path))
    for i in np.flatnonzero(keep):
        rel = media_rel[i]
        if rel is None:
            continue
        s = status[rel]
        frame = int(media_index[i])
        if isinstance(s, tuple):
            code, detail, file = s
        elif frame < 0:
            code, detail, file = "no_matching_frame", f"row asks for frame {frame} of {rel}", str(data_file)
        elif frame >= s:
            code, detail, file = "video_short", f"{rel} holds {s} frames; frame {frame} requested", str(resolve_inside(root, rel))
        else:
            continue
        q.add(code, detail, file=file, line=int(lines[i]), episode_id=episode_id, frame_index=frame)
        keep[i] = False
    return keep, {k: v for k, v in status.items() if isinstance(v, int)}


def read_rows(ref: EpisodeRef, rows: Rows, sel: np.ndarray, layout: Layout, media_dir: Path,
              note: str | None = None) -> EpisodeRead:
    """Rows ``sel`` of a table -> :class:`EpisodeRead`; every row is kept or quarantined once.

    Arithmetic on absurd values (1e308) overflows to inf quietly; the checks then name the row."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _read_rows(ref, rows, sel, layout, media_dir, note)


def _to_index(values: np.ndarray) -> np.ndarray:
    """Rounded float indices as int64; NaN is 0 and anything beyond 2**62 (inf included) is 2**62,
    so that it is reported beyond the video (``video_short``), never cast to a wrapped-around number."""
    v = np.rint(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=2.0**62, neginf=-2.0**62))
    return np.clip(v, -2.0**62, 2.0**62).astype(np.int64)


def _read_rows(ref: EpisodeRef, rows: Rows, sel: np.ndarray, layout: Layout, media_dir: Path,
               note: str | None = None) -> EpisodeRead:
    spec = ref.spec
    root = source_root(spec)
    q = QuarantineLog("episode_frames", spec.domain, spec.name)
    eid, file = ref.episode_id, rows.path
    sel = np.asarray(sel, dtype=np.int64)
    n = sel.size
    lines = rows.lines[sel]
    keep = np.ones(n, dtype=bool)

    def reject(mask: np.ndarray, code: str, detail) -> None:
        hit = np.flatnonzero(keep & mask)
        for i in hit:
            q.add(code, detail(i) if callable(detail) else detail, file=str(file), line=int(lines[i]), episode_id=eid)
        keep[hit] = False

    parsed_bad = np.array([rows.broken[i] is not None for i in sel], dtype=bool)
    reject(parsed_bad, "malformed_line", lambda i: str(rows.broken[sel[i]]))
    # A pose stored as a list (JSON ``cam.rotation: [...]``, a Parquet list column) whose length is not
    # the number of elements the layout declares is pose_malformed, not a missing key.
    for pose, what in [(layout.camera, "camera pose")] + [(o, f"object {o.object_id!r} pose") for o in layout.objects]:
        for base, k, length in ([] if pose is None else list_lengths(rows, (*pose.position, *pose.rotation), sel)):
            reject((length >= 0) & (length != k), "pose_malformed",
                   lambda i, base=base, k=k, length=length, what=what: f"{what}: {base!r} holds {length[i]} values, not {k}")

    def numbers(names: Sequence[str]) -> np.ndarray:
        """(n, k) floats; a row with a non-number in any of these columns is quarantined: a typed
        value (a bool, a list, text in Parquet/JSON) as ``value_type_invalid``, CSV text or a
        missing JSON key as ``malformed_line``."""
        cols = []
        for name in names:
            vals, bad = rows.floats(name, sel)
            if rows.typed and bad.any():
                raw = rows.raw(name)
                typed_bad = bad & np.array([raw[j] is not _ABSENT for j in sel], dtype=bool)
                reject(typed_bad, "value_type_invalid",
                       lambda i, name=name: f"column {name!r}: {describe_cell(rows, name, sel[i])} is not a number")
            reject(bad, "malformed_line", lambda i, name=name: f"column {name!r}: {describe_cell(rows, name, sel[i])} is not a number")
            cols.append(vals)
        return np.stack(cols, axis=1) if cols else np.zeros((n, 0))

    # Parse every used numeric column first, so that text anywhere is malformed_line.
    ts = numbers([layout.timestamp])[:, 0] * layout.timestamp_scale
    ee_pos = numbers(layout.ee_pos) * layout.position_scale if layout.ee_pos else None
    ee_rot = numbers(layout.ee_rotvec or layout.ee_quat_xyzw) if (layout.ee_rotvec or layout.ee_quat_xyzw) else None
    gripper = numbers([layout.gripper])[:, 0] * layout.gripper_scale if layout.gripper else None
    joints = None
    if layout.joint_state:
        joints, bad = rows.matrix(layout.joint_state, sel)
        reject(bad, "malformed_line", "joint state is not a list of numbers of the common length")
    cam = (numbers(layout.camera.position), numbers(layout.camera.rotation)) if layout.camera else None
    objs = [(o, numbers(o.position), numbers(o.rotation)) for o in layout.objects]
    frame_col = numbers([layout.frame_column])[:, 0] if layout.frame_column else None
    vtime = numbers([layout.video_time_column])[:, 0] if layout.video_time_column else None
    index_col = numbers([layout.index_column])[:, 0] if layout.index_column else None

    empty_ts = np.array([_is_empty(c) for c in _cells(rows, layout.timestamp, sel)], dtype=bool)
    reject(empty_ts & ~np.isfinite(ts), "malformed_line", f"timestamp column {layout.timestamp!r} is empty")
    nonfinite_ts = ~np.isfinite(ts)
    reject(nonfinite_ts, "timestamp_nonfinite", lambda i: f"timestamp {describe_cell(rows, layout.timestamp, sel[i])} is not finite")
    if frame_col is not None:
        # Negative, NaN and fractional indices are invalid for that row alone (never Python's frame -1).
        keep[:], _ = check_frame_indices(frame_col, keep, lines, file, q, eid,
                                         what=f"column {layout.frame_column!r} (video frame index)")
    if index_col is not None:
        keep[:], _ = check_frame_indices(index_col, keep, lines, file, q, eid, what=f"column {layout.index_column!r}")
    if vtime is not None:
        reject(~np.isfinite(vtime), "malformed_line", f"column {layout.video_time_column!r} (video time) is empty")

    # Poses: non-finite -> nan_pose, quaternion norm off -> quat_not_unit.
    def pose_checks(pos: np.ndarray | None, rot: np.ndarray | None, is_quat: bool, what: str) -> np.ndarray | None:
        parts = [a for a in (pos, rot) if a is not None]
        if not parts:
            return None
        finite = np.isfinite(np.concatenate(parts, axis=1)).all(axis=1)
        reject(~finite, "nan_pose", f"{what} holds NaN/inf")
        if rot is None or not is_quat:
            return rot
        norms = np.linalg.norm(np.where(finite[:, None], rot, 0.0), axis=1)
        reject(np.abs(norms - 1.0) > layout.quat_norm_tol, "quat_not_unit", lambda i: f"{what}: |q| = {norms[i]:.6f}")
        return np.where(keep[:, None], rot, [0.0, 0.0, 0.0, 1.0])

    ee_rot = pose_checks(ee_pos, ee_rot, layout.ee_quat_xyzw is not None, "end-effector pose")
    if ee_rot is not None and layout.ee_quat_xyzw is not None:
        ee_rot = se3.matrix_to_rotvec(se3.quat_xyzw_to_matrix(ee_rot))
    cam2world = None
    correction = None
    if cam is not None:
        rot = pose_checks(cam[0], cam[1], layout.camera.is_quat, "camera pose")
        safe = keep.copy()
        cam2world = np.full((n, 4, 4), np.nan)
        if safe.any():
            cam2world[safe] = layout.camera.to_matrix(cam[0][safe], rot[safe])
        keep[:], cam2world, correction = validate_se3(cam2world, keep, lines, file, q, eid, "camera pose")
    obj2world = []
    for o, pos, rot in objs:
        rot = pose_checks(pos, rot, o.is_quat, f"object {o.object_id!r} pose")
        m = np.full((n, 4, 4), np.nan)
        if keep.any():
            m[keep] = o.to_matrix(pos[keep], rot[keep])
        obj2world.append(m)
    if gripper is not None:
        keep[:] = check_gripper(gripper, keep, lines, file, q, eid, layout.gripper_max_m)
    if joints is not None:
        reject(~np.isfinite(joints).all(axis=1), "nan_value", "joint state holds NaN/inf")

    before = keep.copy()
    keep[:] = check_timestamps_robust(ts, keep, lines, file, q, eid)
    # The rows whose time can anchor the video: not a malformed line, not a timestamp fault (a row
    # lost for its pose or gripper still says when the recording started).
    time_ok = np.isfinite(ts) & ~parsed_bad & ~(before & ~keep)

    # Media: which file and which frame inside it.
    value = None
    if layout.episode:
        owners, _ = episode_owners(rows, layout.episode)
        value = owners[sel[0]] if n else None
    media_rel = media_paths(rows, sel, layout, root, media_dir, value, file)
    has_media = bool(layout.video or layout.video_column)
    media_index = np.zeros(n, dtype=np.int64)
    if has_media:
        if frame_col is not None:
            media_index = _to_index(frame_col)
        elif vtime is not None:
            media_index = _to_index(vtime * layout.video_fps)
        else:
            finite = ts[time_ok]  # a timestamp outlier must not shift every frame; a row lost for its pose does not
            t0 = finite[0] if finite.size else 0.0
            media_index = _to_index((ts - t0) * layout.video_fps)
        if layout.video_column:
            reject(np.array([m is None for m in media_rel], dtype=bool), "malformed_line",
                   f"column {layout.video_column!r} (video path) is empty")
        keep[:] = check_media(root, media_rel, media_index, keep, lines, file, q, eid)[0]

    idx = drop_if_unusable(keep, lines, file, q, eid)
    width, height = layout.width_px, layout.height_px
    if has_media and idx.size and not (width and height):
        path = resolve_inside(root, media_rel[idx[0]])
        width, height = media_size(path) if path is not None else (0, 0)
    kept_ts = ts[idx]
    fps = layout.video_fps or layout.fps or (float(1.0 / np.median(np.diff(kept_ts))) if idx.size > 1 else 0.0)
    intrinsics = layout.intrinsics
    if intrinsics is None and layout.fov_deg and width and height:
        f = width / (2.0 * np.tan(np.radians(layout.fov_deg) / 2.0))
        intrinsics = (float(f), float(f), width / 2.0, height / 2.0)
    if cam2world is None and layout.cam2base is not None:
        cam2world = np.broadcast_to(layout.cam2base, (n, 4, 4))
    columns = {
        "frame_index": np.arange(idx.size),
        "timestamp_s": kept_ts - (kept_ts[0] if idx.size else 0.0),
        "cam2world": None if cam2world is None else np.array(cam2world[idx]),
        "ee_pos_base_m": None if ee_pos is None else ee_pos[idx],
        "ee_rotvec_base_rad": None if ee_rot is None else ee_rot[idx],
        "gripper_width_m": None if gripper is None else gripper[idx].tolist(),
        "objects": None if not layout.objects else [
            [{"object_id": o.object_id, "color_name": o.color_name, "obj2world": m[i].ravel().tolist()}
             for o, m in zip(layout.objects, obj2world)]
            for i in idx
        ],
        "media_path": [media_rel[i] for i in idx] if has_media else None,
        "media_frame_index": media_index[idx] if has_media else None,
    }
    if joints is not None:
        columns["joint_state"] = joints[idx]
    return EpisodeRead(ref, columns, q, n, fps=float(fps), width_px=int(width), height_px=int(height),
                       intrinsics_px=intrinsics, note=note, **correction_field(correction))


discover, read = table_reader(layout_from_options, _DEFAULT_GLOBS)
