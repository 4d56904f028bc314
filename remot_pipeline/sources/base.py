"""What every source reader shares: the declared source, episode references, safe paths,
tolerant line parsing, and the per-episode read result.

A reader is two pure functions registered under a format name (``sources/__init__.py``):
``discover(spec) -> list[EpisodeRef]`` and ``read(ref) -> EpisodeRead``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from remot_pipeline.core.ledger import QuarantineLog

DOMAINS = ("navigation", "manipulation", "simulation")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm"}


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
            h.update(str(Path(f).relative_to(root)).encode())
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
    """``root / relative`` resolved, or None when it escapes ``root`` (``../../etc/passwd``)."""
    root = Path(root).resolve()
    candidate = (root / relative).resolve()
    try:
        candidate.relative_to(root)
    except ValueError:
        return None
    return candidate


def parse_numeric_lines(path: Path, n_fields: int, quarantine: QuarantineLog, episode_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a whitespace/comma separated numeric text file.

    ``#`` comments, blank lines and a non-numeric header line are skipped; mixed separators
    are accepted. A data line with the wrong field count or a non-number is quarantined as
    ``malformed_line``. Returns ``(values (n, n_fields) float64, line_numbers (n,) int64)``.

    Fast path: when every data line has ``n_fields`` numeric tokens, all tokens are converted in
    one vectorised call; only a file with a bad line takes the per-line path.
    """
    with open(path, encoding="utf-8", errors="replace") as fh:
        raw_lines = fh.read().splitlines()
    numbered = [(i, t) for i, t in enumerate(map(str.strip, raw_lines), start=1) if t and not t.startswith("#")]
    if numbered and not _is_number(numbered[0][1].replace(",", " ").split()[0]) and numbered[0][0] <= 3:
        numbered = numbered[1:]  # a header line such as "timestamp tx ty tz qx qy qz qw"
    if numbered:
        try:  # numpy's C parser; any irregularity (bad line, mixed separators) takes the slow path
            delimiter = "," if "," in numbered[0][1] else None
            values = np.loadtxt([t for _, t in numbered], dtype=np.float64, delimiter=delimiter, ndmin=2)
            if values.shape[1] == n_fields:
                return values, np.asarray([i for i, _ in numbered], dtype=np.int64)
        except ValueError:
            pass
    tokens = [t.replace(",", " ").replace(";", " ").split() for _, t in numbered]
    rows, line_numbers = [], []
    for (line_no, text), parts in zip(numbered, tokens):
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
    return True


def check_timestamps(
    timestamps: np.ndarray, keep: np.ndarray, lines: np.ndarray, file: Path, quarantine: QuarantineLog, episode_id: str
) -> np.ndarray:
    """Quarantine rows whose timestamp is not strictly after the last kept one. Returns the new keep mask."""
    keep = keep.copy()
    last = -np.inf
    for i in np.flatnonzero(keep):  # sequential by nature: each row depends on the last kept one
        t = timestamps[i]
        if t > last:
            last = t
            continue
        keep[i] = False
        code = "timestamp_duplicate" if t == last else "timestamp_unsorted"
        quarantine.add(code, f"timestamp {float(t)!r} follows {float(last)!r}", file=str(file), line=int(lines[i]),
                       episode_id=episode_id)
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
    episode_id: str, tol: float = 1e-6,
) -> np.ndarray:
    """Quarantine non-finite poses and rotations that are not proper orthonormal matrices."""
    from remot_pipeline.core.se3 import rotation_defect

    keep = keep.copy()
    finite = np.isfinite(cam2world).all(axis=(-1, -2))
    for i in np.flatnonzero(keep & ~finite):
        quarantine.add("nan_pose", "pose holds NaN/inf", file=str(file), line=int(lines[i]), episode_id=episode_id)
    keep &= finite
    safe = np.where(finite[:, None, None], cam2world, np.eye(4))
    err, det = rotation_defect(safe[:, :3, :3])
    bad = keep & ((err > tol) | (np.abs(det - 1.0) > tol))
    for i in np.flatnonzero(bad):
        quarantine.add("rotation_not_orthonormal", f"|R^T R - I| = {err[i]:.2e}, det = {det[i]:.6f}",
                       file=str(file), line=int(lines[i]), episode_id=episode_id)
    return keep & ~bad


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
