"""ScanNet, as exported by its SensReader: ``<scan>/pose/<i>.txt`` (4 lines of 4 numbers: the
4x4 camera-to-world of the colour camera, OpenCV axes x right, y down, z forward; metres) and
``<scan>/color/<i>.jpg``; optional ``<scan>/intrinsic/intrinsic_color.txt`` (4x4 K).

One episode per folder holding ``pose/``; frames sorted by the integer ``<i>`` (the sensor frame
number, so an export with a frame skip keeps true timestamps ``i / fps``). Each pose file is
one input row (locator: the file, line 1). Tracking failures are written as ``-inf`` (or
``nan``) poses: ``nan_pose``. ``scene_id`` is the scene without its rescan suffix
(``scene0000_01`` -> ``scene0000``), so rescans of one room share a scene.

Options: ``fps`` (default 30), ``color_dir`` (default ``color``; when absent the episode is
pose-only), ``rotation_tol`` (default 1e-4, looser than ``base.ROTATION_TOL``: SensReader exports
print float32 poses with 6 decimals, kept as before), ``scene_id``.

Pose files have no header: a text line is a malformed line of that frame's file, never skipped.
A byte-order mark is removed. An empty pose file is that frame's ``malformed_line`` row. A pose file
whose name is a number but not a frame number (``-1.txt``, ``9.7.txt``) is that row's
``frame_index_invalid``, never skipped. An ``intrinsic_color.txt`` that is not a camera matrix is a
one-line SourceError.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from remot_pipeline.core.ledger import QuarantineLog
from remot_pipeline.sources.base import (
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
    _k_matrix,
    check_matrices,
    check_media,
    episode_key,
    find_image,
    finish,
    new_log,
    source_root,
)

FORMAT = "scannet"


def read_matrix_files(files: list[Path], q: QuarantineLog, eid: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One 4x4 matrix per file -> ``(matrices (n,4,4), keep (n,), line numbers (n,))``.

    A file that is not exactly 4 lines of 4 numbers is one ``malformed_line`` row (at its first
    bad line); its matrix is NaN and ``keep`` False.
    """
    n = len(files)
    out = np.full((n, 4, 4), np.nan)
    keep = np.ones(n, dtype=bool)
    lines = np.ones(n, dtype=np.int64)
    for i, f in enumerate(files):  # per-file parsing; the checks on the matrices are batched
        tmp = QuarantineLog(q.stage, q.domain, q.source_name)
        values, value_lines = parse_numeric_lines(f, 4, tmp, eid, allow_header=False)
        if value_lines.size:
            lines[i] = value_lines[0]
        if len(tmp) == 0 and values.shape == (4, 4):
            out[i] = values
            continue
        first = tmp.table().to_pylist()[0] if len(tmp) else None
        detail = first["detail"] if first else f"expected 4 lines of 4 numbers, got {values.shape[0]} line(s)"
        if first:
            line = int(first["line"])
        elif value_lines.size > 4:  # the first line beyond the matrix
            line = int(value_lines[4])
        else:  # the line where the missing rows should start
            line = int(value_lines[-1]) + 1 if value_lines.size else 1
        q.add("malformed_line", detail, file=str(f), line=line, episode_id=eid)
        keep[i] = False
    return out, keep, lines


def _scene(name: str) -> str:
    m = re.fullmatch(r"(scene\d{4})_\d{2}", name)
    return m.group(1) if m else name


def _pose_files(episode_dir: Path) -> list[Path]:
    return sorted((p for p in (episode_dir / "pose").glob("*.txt") if p.stem.isdigit()), key=lambda p: int(p.stem))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def bad_frame_numbers(files, number) -> list[Path]:
    """The pose files among ``files`` whose frame number (``number(path)``: the text naming it)
    is a number but not an integer >= 0 (``-1``, ``9.7``, ``nan``): rows of their own, never skipped."""
    return sorted(p for p in files if not number(p).isdigit() and _is_number(number(p)))


def quarantine_bad_frame_numbers(bad: list[Path], q: QuarantineLog, eid: str) -> None:
    for f in bad:
        q.add("frame_index_invalid", f"{f.name}: frame number is not an integer >= 0; rename the file to its frame number",
              file=str(f), line=1, episode_id=eid)


def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = source_root(spec)
    dirs = sorted({p.parent for p in root.rglob("pose") if p.is_dir() and _pose_files(p.parent)})
    if not dirs:
        raise SourceError(f"{root}: source {spec.name!r} holds no ScanNet export (<scan>/pose/<i>.txt); fix `path`")
    color = spec.options.get("color_dir", "color")
    refs = []
    for d in dirs:
        rel = str(d.relative_to(root)) if d != root else "."
        files = _pose_files(d) + bad_frame_numbers((d / "pose").glob("*.txt"), lambda p: p.stem)
        if (d / color).is_dir():
            files += sorted(p for p in (d / color).iterdir() if p.is_file())
        if (d / "intrinsic" / "intrinsic_color.txt").is_file():
            files.append(d / "intrinsic" / "intrinsic_color.txt")
        name = d.resolve().name
        refs.append(EpisodeRef(spec, episode_key(rel, name), rel, tuple(files), scene_id=spec.options.get("scene_id", _scene(name))))
    return refs


def read(ref: EpisodeRef) -> EpisodeRead:
    spec, o = ref.spec, ref.spec.options
    root = source_root(spec)
    d = root / ref.episode_path
    files = _pose_files(d)
    q = new_log(ref)
    bad = bad_frame_numbers((d / "pose").glob("*.txt"), lambda p: p.stem)
    quarantine_bad_frame_numbers(bad, q, ref.episode_id)
    pose, keep, lines = read_matrix_files(files, q, ref.episode_id)
    rows = Rows(q, ref.episode_id, files, lines)
    fps = option_float(spec, "fps", 30.0, positive=True)
    ts = np.asarray([int(f.stem) for f in files], dtype=np.float64) / fps
    keep, pose = check_matrices(pose, keep, rows, option_float(spec, "rotation_tol", 1e-4, positive=True))
    keep = rows.check(check_timestamps, ts, keep)
    media = media_index = None
    color = o.get("color_dir", "color")
    if (d / color).is_dir():
        media_rel = [find_image(root, str(Path(ref.episode_path) / color / f.stem), ".jpg") for f in files]
        media_index = np.zeros(len(files), dtype=np.int64)
        keep, media = check_media(root, media_rel, media_index, keep, rows)
    note = None if media is not None else f"pose-only: no {color}/ folder"
    return finish(ref, rows, len(files) + len(bad), ts, pose, keep, root=root, media=media, media_index=media_index,
                  fps=fps, intrinsics=_intrinsics(d / "intrinsic" / "intrinsic_color.txt"), note=note)


def _intrinsics(path: Path):
    """``(fx, fy, cx, cy)`` from a 4x4 (or 3x3) K file, or None when absent. A file that is not
    a camera matrix is a one-line SourceError (intrinsics reach the episode table)."""
    if not path.is_file():
        return None
    try:
        k = np.asarray([[float(v) for v in ln.split()] for ln in read_text_lines(path) if ln.strip()], dtype=np.float64)
        if k.shape not in ((3, 3), (4, 4)):
            raise ValueError
    except ValueError:
        raise SourceError(f"{path}: expected a 4x4 (or 3x3) camera matrix of numbers; fix or remove the intrinsics file") from None
    return _k_matrix(k[:3, :3], str(path))
