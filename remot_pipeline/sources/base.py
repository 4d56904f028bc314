"""What every source reader shares: the declared source, episode references, safe paths,
tolerant line parsing, and the per-episode read result.

A reader is two pure functions registered under a format name (``sources/__init__.py``):
``discover(spec) -> list[EpisodeRef]`` and ``read(ref) -> EpisodeRead``.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from remot_pipeline.core.ledger import QuarantineLog

DOMAINS = ("navigation", "manipulation", "simulation")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm"}

#: Default orthonormality tolerance for stored rotations, on ``max |R^T R - I|`` and ``|det R - 1|``.
#: Derived from what real files print, not chosen by taste:
#:
#: * 6 decimals (KITTI poses, ScanNet): each entry is off by ``|e| <= 5e-7``. With ``R' = R + E``,
#:   ``R'^T R' - I = R^T E + E^T R + O(e^2)``; an entry of ``R^T E`` is a column of ``R`` (unit norm,
#:   so 1-norm <= sqrt 3) dotted with a column of ``E``: <= sqrt(3) * 5e-7, twice that is
#:   ``2 sqrt(3) 5e-7 = 1.7e-6``. ``d det = tr(R^T E) <= 3 sqrt(3) 5e-7 = 2.6e-6``. Measured on 20,000
#:   random scipy rotations printed with 6 decimals: max 1.7e-6 for both, and 23 % of them above the
#:   old 1e-6 (the 925 of 4,541 KITTI poses that were wrongly rejected).
#: * float32 (instant-ngp ``transforms.json``): unit roundoff ``2^-24 = 6e-8`` per entry gives ~1e-7
#:   for a stored rotation; rotations *computed* in float32 (a few products, recentring) drift to
#:   a few 1e-7 .. 1e-6.
#:
#: 1e-5 leaves a margin of ~4 over the 6-decimal worst case and ~10 over float32 arithmetic, while a
#: genuinely wrong matrix stays far outside: a mirror is off by 2 in det, a 1 % scale by 2e-2, a
#: 0.01 % scale by 2e-4, a 0.1 degree skew by 1.7e-3. Accepted rotations are re-projected onto SO(3)
#: (:func:`project_to_se3`) and the largest change is reported (``EpisodeRead.max_rotation_correction``).
ROTATION_TOL = 1e-5

#: A timestamp is an isolated outlier when it lies outside the interval its two neighbours span (they
#: being in order) by more than this many times that interval's length. See :func:`check_timestamps`.
OUTLIER_STEPS = 10.0


class SourceError(RuntimeError):
    """A whole source (or episode) is unusable. The message is one line naming file and fix."""


@dataclass(frozen=True)
class SourceSpec:
    """One declared source: where it is, what it is, and how to read it."""

    name: str
    domain: str
    format: str
    path: Path
    options: dict = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise SourceError(f"source {self.name!r}: domain {self.domain!r} is not one of {DOMAINS}; fix the sources file")


@dataclass(frozen=True)
class EpisodeRef:
    """A discovered episode: enough to read it and to hash its inputs."""

    spec: SourceSpec
    episode_key: str
    episode_path: str  # relative to spec.path
    input_files: tuple[Path, ...]
    scene_id: str

    @property
    def episode_id(self) -> str:
        return f"{self.spec.name}/{self.episode_key}"

    def input_sha256(self) -> str:
        """sha256 over the input files' relative names and bytes (stable across machines)."""
        h = hashlib.sha256()
        root = source_root(self.spec)
        for f in sorted(self.input_files):
            # relpath, not relative_to: an input may sit beside the root (KITTI's poses/XX.txt given as the
            # path, its images under ../sequences), and a name must never depend on where links point
            h.update(os.path.relpath(f, root).encode())
            h.update(b"\0")
            with open(f, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
        return h.hexdigest()


@dataclass
class EpisodeRead:
    """One episode read into canonical columns (a dict of arrays/lists, before the split)."""

    ref: EpisodeRef
    #: Canonical columns, one entry per kept frame: ``frame_index`` (0..n-1), ``timestamp_s`` (from the
    #: first kept frame), and optionally ``cam2world (n,4,4)``, ``ee_pos_base_m (n,3)``,
    #: ``ee_rotvec_base_rad (n,3)``, ``gripper_width_m (n,)``, ``objects`` (list of lists of dicts),
    #: ``joint_state (n,k)`` (signal only, not stored), ``media_path`` (list of str relative to the
    #: source root, or None), ``media_frame_index (n,)``. A missing key or None means "absent".
    columns: dict
    quarantine: QuarantineLog
    rows_in: int
    fps: float
    width_px: int
    height_px: int
    intrinsics_px: tuple[float, float, float, float] | None = None  # fx, fy, cx, cy
    #: What the reader could not map, said plainly (e.g. "joint-space only: no end-effector signal").
    note: str | None = None
    #: The largest change, ``max |R_stored - R_kept|`` over the entries of every kept rotation, made when
    #: the reader projected the stored rotations onto SO(3) (:func:`project_to_se3`); ~1e-16 for exact
    #: input, up to ~1e-6 for 6-decimal or float32 files (always <= a few ``ROTATION_TOL``). None when
    #: the reader does not project (formats without camera poses).
    max_rotation_correction: float | None = None

    @property
    def n_frames(self) -> int:
        return len(self.columns["frame_index"])

    @property
    def signals(self) -> list[str]:
        """The signals present, derived from the columns (never declared by hand)."""
        c = self.columns
        out = []
        for key, name in (("cam2world", "camera_pose"), ("ee_pos_base_m", "ee_pose"), ("gripper_width_m", "gripper"),
                          ("objects", "objects"), ("joint_state", "joint_state")):
            if c.get(key) is not None:
                out.append(name)
        media = [m for m in (c.get("media_path") or []) if m]
        if media:
            out.append("images" if Path(media[0]).suffix.lower() in IMAGE_SUFFIXES else "video")
        return out


def source_root(spec: SourceSpec) -> Path:
    """The folder that ``episode_path`` and media paths are relative to (a file's parent)."""
    path = Path(spec.path)
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent
    raise SourceError(f"{path}: source {spec.name!r} path does not exist; create it or fix `path` in the sources file")


def resolve_inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` resolved, or None when it escapes ``root`` (``../../etc/passwd``, an absolute
    path elsewhere, or a symbolic link whose target lies outside).

    Both the root and the candidate are resolved (symbolic links followed) the same way, so a root
    reached through a link and links that stay inside the root both work. A name the OS cannot
    resolve (an embedded NUL, a link loop) is treated as escaping: it names nothing inside the root.
    """
    try:
        root = Path(root).resolve()
        candidate = (root / str(relative)).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    return candidate if candidate.is_relative_to(root) else None


def relative_to_root(root: Path, path: Path) -> str:
    """``path`` (already resolved inside ``root``) relative to the resolved ``root``, as POSIX text."""
    return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()


def read_text(path: Path) -> str:
    """A text file's content: UTF-8 with every byte-order mark removed (at the start, or where two
    files were concatenated), undecodable bytes replaced (their line then fails to parse and is
    quarantined). An unreadable file is a one-line :class:`SourceError`."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            text = fh.read()
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc}); check the file and its permissions") from None
    return text.replace("\ufeff", "")


def read_text_lines(path: Path) -> list[str]:
    """:func:`read_text`, split into lines."""
    return read_text(path).splitlines()


_FLOAT_WORDS = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
_SPLIT = re.compile(r"[,;\s]+")


def is_header_line(text: str) -> bool:
    """A header is recognised by its words only: its first token starts with a letter and no token
    is a number (``timestamp tx ty tz``, ``t_ms,x,y``, a URL). A data line with a typo still holds
    numbers, so it is never taken for a header (it is quarantined as ``malformed_line``)."""
    tokens = [t for t in _SPLIT.split(text.strip()) if t]
    if not tokens or not tokens[0][0].isalpha() or tokens[0].lower() in _FLOAT_WORDS:
        return False
    return not any(_is_number(t) for t in tokens)


def option_float(spec: SourceSpec, key: str, default: float, *, positive: bool = False) -> float:
    """``spec.options[key]`` as a finite float (``default`` when absent); else a one-line SourceError."""
    value = spec.options.get(key, default)
    try:
        if isinstance(value, bool):
            raise TypeError
        out = float(value)
        if not math.isfinite(out) or (positive and out <= 0):
            raise ValueError
    except (TypeError, ValueError):
        want = "a positive number" if positive else "a finite number"
        raise SourceError(f"{spec.path}: source {spec.name!r} option {key}={value!r} is not {want}; fix options.{key} in the sources file") from None
    return out


def parse_numeric_lines(path: Path, n_fields: int, quarantine: QuarantineLog, episode_id: str, *,
                        allow_header: bool = True, expect: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse a whitespace/comma separated numeric text file.

    Read with :func:`read_text_lines` (BOM removed). ``#`` comments and blank lines are skipped.
    The first remaining line is a header only when :func:`is_header_line` says so by its words
    (and ``allow_header``); every other line is a data line: one with the wrong field count or a
    non-number is quarantined as ``malformed_line`` (so ``len(values) + rows quarantined here``
    counts every data line). Mixed separators are accepted.

    With ``expect`` (what a data line holds, e.g. ``"12 numbers per line"``), a file with no data
    line at all (empty, comments or a header only) is a one-line :class:`SourceError` naming the
    file; without it such a file gives zero rows (a per-frame file, whose caller counts it).

    Returns ``(values (n, n_fields) float64, line_numbers (n,) int64)``. Fast path: when every
    data line has ``n_fields`` numeric tokens, all tokens are converted in one vectorised call.
    """
    raw_lines = read_text_lines(path)
    numbered = [(i, t) for i, t in enumerate(map(str.strip, raw_lines), start=1) if t and not t.startswith("#")]
    if numbered and allow_header and is_header_line(numbered[0][1]):
        numbered = numbered[1:]  # a header line such as "timestamp tx ty tz qx qy qz qw"
    if not numbered and expect is not None:
        raise SourceError(f"{path}: no data line (the file is empty, or holds only comments or a header); expected {expect}")
    if numbered:
        try:  # numpy's C parser; any irregularity (bad line, mixed separators) takes the slow path
            delimiter = "," if "," in numbered[0][1] else None
            values = np.loadtxt([t for _, t in numbered], dtype=np.float64, delimiter=delimiter, ndmin=2)
            if values.shape == (len(numbered), n_fields):
                return values, np.asarray([i for i, _ in numbered], dtype=np.int64)
        except ValueError:
            pass
    rows, line_numbers = [], []
    for line_no, text in numbered:
        parts = [p for p in _SPLIT.split(text) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            quarantine.add("malformed_line", f"non-numeric field in {text[:80]!r}", file=str(path),
                           line=line_no, episode_id=episode_id)
            continue
        if len(values) != n_fields:
            quarantine.add("malformed_line", f"expected {n_fields} fields, got {len(values)}", file=str(path),
                           line=line_no, episode_id=episode_id)
            continue
        rows.append(values)
        line_numbers.append(line_no)
    values = np.asarray(rows, dtype=np.float64).reshape(-1, n_fields)
    return values, np.asarray(line_numbers, dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text  # float() accepts "1_000"; a header word like "t_ms" is not a number


def check_timestamps(
    timestamps: np.ndarray, keep: np.ndarray, lines: np.ndarray, file: Path, quarantine: QuarantineLog, episode_id: str
) -> np.ndarray:
    """Quarantine the kept rows whose timestamp cannot be used. Returns the new keep mask. O(n).

    1. NaN or inf -> ``timestamp_nonfinite``.
    2. An isolated outlier -> ``timestamp_outlier``, alone. Among the kept finite rows ``s``, row j is
       an outlier when its neighbours agree with each other (``s[j-1] < s[j+1]``) but ``s[j]`` lies
       outside ``[s[j-1], s[j+1]]`` by more than ``OUTLIER_STEPS`` times that interval's length
       (the local scale: ~2 sampling steps, so it needs no global estimate and works from 3 rows),
       and neither neighbour is itself such a candidate (two adjacent candidates are not isolated:
       they are left to step 3). At the ends the one neighbour and the row after it play that role:
       ``s[0]`` is an outlier when ``|s[1] - s[0]| > OUTLIER_STEPS (s[2] - s[1]) > 0``, and likewise for
       ``s[-1]``, in either direction: a first row stamped 0 or -1 (a logger's unset clock) or a last
       row a day later would otherwise shift every frame timed from it, and a genuine pause of ten
       steps right at an end costs one row. Two swapped rows (off by about one step) are not
       outliers but an ordering error.
    3. A row not strictly after the last kept one -> ``timestamp_duplicate`` (equal) or
       ``timestamp_unsorted``; the first of two swapped rows is kept. The last kept timestamp
       before a row is the running maximum of those before it (kept rows increase, dropped ones
       are not above it), so this is one vectorised pass.
    """
    keep = np.asarray(keep, dtype=bool).copy()
    t_all = np.asarray(timestamps, dtype=np.float64)
    bad = keep & ~np.isfinite(t_all)
    for i in np.flatnonzero(bad):
        quarantine.add("timestamp_nonfinite", f"timestamp is {float(t_all[i])!r}", file=str(file), line=int(lines[i]),
                       episode_id=episode_id)
    keep &= ~bad
    idx = np.flatnonzero(keep)
    s = t_all[idx]
    m = s.size
    if m >= 3:
        cand = np.zeros(m, dtype=bool)
        prev, here, nxt = s[:-2], s[1:-1], s[2:]
        span = nxt - prev
        cand[1:-1] = (span > 0) & (np.maximum(here - nxt, prev - here) > OUTLIER_STEPS * span)
        cand[0] = s[2] > s[1] and abs(s[1] - s[0]) > OUTLIER_STEPS * (s[2] - s[1])
        cand[-1] = s[-2] > s[-3] and abs(s[-1] - s[-2]) > OUTLIER_STEPS * (s[-2] - s[-3])
        isolated = cand.copy()
        isolated[1:] &= ~cand[:-1]
        isolated[:-1] &= ~cand[1:]
        for j in np.flatnonzero(isolated):
            i = idx[j]
            around = ", ".join(repr(float(s[k])) for k in (j - 1, j + 1) if 0 <= k < m)
            quarantine.add("timestamp_outlier", f"timestamp {float(s[j])!r} is far from its neighbours ({around})",
                           file=str(file), line=int(lines[i]), episode_id=episode_id)
        keep[idx[isolated]] = False
        idx, s = idx[~isolated], s[~isolated]
    if s.size:
        last = np.concatenate([[-np.inf], np.maximum.accumulate(s)[:-1]])
        out = s <= last
        for j in np.flatnonzero(out):
            code = "timestamp_duplicate" if s[j] == last[j] else "timestamp_unsorted"
            quarantine.add(code, f"timestamp {float(s[j])!r} follows {float(last[j])!r}", file=str(file),
                           line=int(lines[idx[j]]), episode_id=episode_id)
        keep[idx[out]] = False
    return keep


def associate_timestamps(query_s: np.ndarray, reference_s: np.ndarray, max_diff_s: float) -> np.ndarray:
    """For each query time, the index of the nearest reference time within ``max_diff_s``, else -1.

    ``reference_s`` must be sorted. O((n + m) log m), no Python loop.
    """
    query_s = np.asarray(query_s, dtype=np.float64)
    reference_s = np.asarray(reference_s, dtype=np.float64)
    if reference_s.size == 0:
        return np.full(query_s.shape, -1, dtype=np.int64)
    right = np.clip(np.searchsorted(reference_s, query_s), 1, reference_s.size - 1) if reference_s.size > 1 else np.zeros(query_s.shape, dtype=np.int64)
    left = np.maximum(right - 1, 0)
    d_left = np.abs(query_s - reference_s[left])
    d_right = np.abs(query_s - reference_s[right])
    best = np.where(d_right < d_left, right, left)
    diff = np.minimum(d_left, d_right)
    return np.where(diff <= max_diff_s, best, -1).astype(np.int64)


def validate_poses(
    cam2world: np.ndarray, keep: np.ndarray, lines: np.ndarray, file: Path, quarantine: QuarantineLog,
    episode_id: str, tol: float = ROTATION_TOL,
) -> np.ndarray:
    """Quarantine the kept 4x4 poses that are not SE(3): non-finite (``nan_pose``), a rotation off
    SO(3) by more than ``tol`` (``rotation_not_orthonormal``; det -1 included; see ``ROTATION_TOL``)
    or a bottom row other than ``0 0 0 1`` (``pose_not_se3``). One row per rejected pose."""
    from remot_pipeline.core.se3 import rotation_defect

    keep = np.asarray(keep, dtype=bool).copy()
    cam2world = np.asarray(cam2world, dtype=np.float64)
    finite = np.isfinite(cam2world).all(axis=(-1, -2))
    for i in np.flatnonzero(keep & ~finite):
        quarantine.add("nan_pose", "pose holds NaN/inf", file=str(file), line=int(lines[i]), episode_id=episode_id)
    keep &= finite
    safe = np.where(finite[:, None, None], cam2world, np.eye(4))
    bottom_bad = keep & (np.abs(safe[:, 3, :] - [0.0, 0.0, 0.0, 1.0]).max(axis=1) > 1e-9)
    for i in np.flatnonzero(bottom_bad):
        quarantine.add("pose_not_se3", f"bottom row {safe[i, 3].tolist()} is not 0 0 0 1", file=str(file),
                       line=int(lines[i]), episode_id=episode_id)
    keep &= ~bottom_bad
    err, det = rotation_defect(safe[:, :3, :3])
    bad = keep & ((err > tol) | (np.abs(det - 1.0) > tol))
    for i in np.flatnonzero(bad):
        quarantine.add("rotation_not_orthonormal", f"|R^T R - I| = {err[i]:.2e}, det = {det[i]:.6f} (tolerance {tol:g})",
                       file=str(file), line=int(lines[i]), episode_id=episode_id)
    return keep & ~bad


def nearest_rotation(rot: np.ndarray) -> np.ndarray:
    """Project ``(..., 3, 3)`` near-rotations onto SO(3): the Frobenius-nearest rotation (SVD, the
    polar factor), with det +1, never a mirror."""
    u, _, vt = np.linalg.svd(rot)
    u[..., :, 2] *= np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)[..., None]
    return u @ vt


def project_to_se3(poses: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, float]:
    """Every finite ``(n, 4, 4)`` pose with its rotation projected onto SO(3) and its bottom row set
    to ``0 0 0 1``; returns ``(poses, max |R - R_projected|)`` over the kept rows (0.0 when none)."""
    poses = np.asarray(poses, dtype=np.float64)
    out = poses.copy()
    finite = np.isfinite(poses).all(axis=(-1, -2))
    if not finite.any():
        return out, 0.0
    out[finite, :3, :3] = nearest_rotation(poses[finite, :3, :3])
    out[finite, 3] = [0.0, 0.0, 0.0, 1.0]
    used = np.asarray(keep, dtype=bool) & finite
    corr = float(np.abs(out[used, :3, :3] - poses[used, :3, :3]).max()) if used.any() else 0.0
    return out, corr


def check_video(video: Path | None, name: str, media_index: np.ndarray, keep: np.ndarray, lines: np.ndarray,
                problem_file: Path, quarantine: QuarantineLog, episode_id: str,
                frame_index: np.ndarray | None = None) -> np.ndarray:
    """Quarantine the kept rows whose video frame cannot be had; returns the new keep mask.

    ``video`` is the resolved path, or None when the metadata's ``name`` escapes the root
    (``path_escapes_root``). A missing file (``video_missing``) or one that cannot be opened
    (``video_unreadable``) rejects every kept row, each against ``problem_file``; rows whose
    ``media_index`` lies beyond the demuxed frame count are ``video_short``.
    """
    from remot_pipeline.sources.video import VideoError, count_frames

    keep = keep.copy()
    extra = (lambda i: {"frame_index": int(frame_index[i])}) if frame_index is not None else (lambda i: {})
    if video is None:
        problem = ("path_escapes_root", f"video path {name!r} resolves outside the source root")
    elif not video.exists():
        problem = ("video_missing", f"{name} does not exist")
    else:
        try:
            available = count_frames(video)
        except VideoError as exc:
            problem = ("video_unreadable", str(exc))
        else:
            beyond = keep & (media_index >= available)
            for i in np.flatnonzero(beyond):
                quarantine.add("video_short", f"{name} holds {available} frames; frame {media_index[i]} requested",
                               file=str(video), line=int(lines[i]), episode_id=episode_id, **extra(i))
            return keep & ~beyond
    for i in np.flatnonzero(keep):
        quarantine.add(problem[0], problem[1], file=str(problem_file), line=int(lines[i]), episode_id=episode_id, **extra(i))
    keep[:] = False
    return keep


def drop_if_unusable(keep: np.ndarray, lines: np.ndarray, file: Path, quarantine: QuarantineLog, episode_id: str) -> np.ndarray:
    """Indices of kept rows, or none when fewer than 2 remain (a motion needs two frames).

    The leftover row of an unusable episode is quarantined as ``episode_unusable`` so that
    every input row is accounted for; the healthy episodes of the source carry on.
    """
    idx = np.flatnonzero(keep)
    if idx.size >= 2:
        return idx
    for i in idx:
        quarantine.add("episode_unusable", "fewer than 2 healthy frames left in the episode", file=str(file),
                       line=int(lines[i]), episode_id=episode_id)
    return idx[:0]


def to_frames_arrow(read: EpisodeRead, split: str) -> pa.Table:
    """Canonical ``frames`` table for one episode read."""
    c = read.columns
    n = read.n_frames

    def mat_or_null(values, width):
        if values is None:
            return pa.nulls(n, pa.list_(pa.float64(), width))
        flat = np.asarray(values, dtype=np.float64).reshape(n, width)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), width)

    return pa.table(
        {
            "episode_id": pa.array([read.ref.episode_id] * n, pa.string()),
            "domain": pa.array([read.ref.spec.domain] * n, pa.string()),
            "split": pa.array([split] * n, pa.string()),
            "frame_index": pa.array(np.asarray(c["frame_index"], dtype=np.int64)),
            "timestamp_s": pa.array(np.asarray(c["timestamp_s"], dtype=np.float64)),
            "cam2world": mat_or_null(c.get("cam2world"), 16),
            "ee_pos_base_m": mat_or_null(c.get("ee_pos_base_m"), 3),
            "ee_rotvec_base_rad": mat_or_null(c.get("ee_rotvec_base_rad"), 3),
            "gripper_width_m": pa.array(c["gripper_width_m"], pa.float64()) if c.get("gripper_width_m") is not None else pa.nulls(n, pa.float64()),
            "objects": pa.array(c["objects"]) if c.get("objects") is not None else pa.nulls(n, pa.list_(pa.struct([("object_id", pa.string()), ("color_name", pa.string()), ("obj2world", pa.list_(pa.float64(), 16))]))),
            "media_path": pa.array(c["media_path"], pa.string()) if c.get("media_path") is not None else pa.nulls(n, pa.string()),
            "media_frame_index": (pa.array(np.asarray(c["media_frame_index"], dtype=np.int64))
                                  if c.get("media_frame_index") is not None else pa.nulls(n, pa.int64())),
        }
    )
