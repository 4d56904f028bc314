"""UMI datasets in the early LeRobot layout (v1.x, Hugging Face ``datasets``): ``meta_data/info.json``
(``fps``), ``train/data-*.arrow`` (an Arrow IPC stream) and ``videos/*.mp4``; or the same table
flattened to CSV (``*_flat.csv``).

The arrow table has ``observation.state`` float32[7] = end-effector position x, y, z (m),
rotation vector x, y, z (rad) and gripper width (m), in the UMI's world frame, and
``observation.image = {path, timestamp}`` naming the video (relative to the dataset) and the
frame's time in it; the CSV has the columns ``timestamp_s``, ``eef_pos_{x,y,z}_m``,
``eef_rotvec_{x,y,z}_rad``, ``gripper_width_m``, ``video_path`` and ``video_timestamp_s``.
A frame's index in its video is ``round(video time * fps)``.

The UMI camera is a wrist camera (a GoPro on the hand-held gripper): it moves with the
gripper and has no fixed extrinsics, so ``cam2world`` is null; the end-effector pose and the
gripper width are the signals. (The camera-to-gripper offset is not in the data.)

Options: ``table`` (``auto`` | ``arrow`` | ``csv``; ``auto`` takes the arrow files when present,
the CSV files otherwise), ``csv_glob`` (default ``*_flat.csv``), ``fps`` (overrides
``meta_data/info.json``), ``scene_id``. Rows are quarantined as in :mod:`.robot_table`; a
``frame_index`` column, when present, is validated too (an integer >= 0, else
``frame_index_invalid``: -1 or 9.7 mark a damaged row even though the video time locates the
frame). A table with a header but no data row is a one-line :class:`SourceError`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from remot_pipeline.sources.base import EpisodeRead, EpisodeRef, SourceError, SourceSpec
from remot_pipeline.sources.robot_table import (
    Layout,
    gripper_max_m,
    load_rows,
    normalise_episode_value,
    one_line_errors,
    read_rows,
    sanitize,
    select_episode,
    table_refs,
)

FORMAT = "umi_v1"

_ARROW = dict(
    timestamp="timestamp",
    ee_pos=tuple(f"observation.state[{i}]" for i in range(3)),
    ee_rotvec=tuple(f"observation.state[{i}]" for i in range(3, 6)),
    gripper="observation.state[6]",
    episode="episode_index",
    video_column="observation.image.path",
    video_time_column="observation.image.timestamp",
)
_CSV = dict(
    timestamp="timestamp_s",
    ee_pos=("eef_pos_x_m", "eef_pos_y_m", "eef_pos_z_m"),
    ee_rotvec=("eef_rotvec_x_rad", "eef_rotvec_y_rad", "eef_rotvec_z_rad"),
    gripper="gripper_width_m",
    episode="episode_index",
    video_column="video_path",
    video_time_column="video_timestamp_s",
)


@one_line_errors
def discover(spec: SourceSpec) -> list[EpisodeRef]:
    root = _root(spec)
    tables, layout = _tables(root, spec)
    refs = []
    for t in tables:
        rows = load_rows(t)
        rows.require(layout.required_columns())
        if len(rows) == 0:
            raise SourceError(f"{t}: holds a header but no data row; remove the file or re-export the dataset")
        refs += table_refs(spec, root, t, rows, layout, _prefix(root, t, tables), media_dir=root,
                           extra_files=_meta_files(root), value_part=_value_part)
    return refs


@one_line_errors
def read(ref: EpisodeRef) -> EpisodeRead:
    root = _root(ref.spec)
    tables, layout = _tables(root, ref.spec)
    path = root / ref.episode_path
    rows = load_rows(path)
    if rows.has("frame_index"):  # not used to locate the frame (the video time is), but validated
        layout = dataclasses.replace(layout, index_column="frame_index")
    rows.require(layout.required_columns())
    sel = select_episode(rows, layout.episode, _prefix(root, path, tables), ref, _value_part)
    return read_rows(ref, rows, sel, layout, media_dir=root)


def _root(spec: SourceSpec) -> Path:
    root = Path(spec.path)
    if not root.is_dir():
        raise SourceError(f"{root}: source {spec.name!r} folder does not exist; create it or fix `path` in the sources file")
    return root


def _fps(root: Path, spec: SourceSpec) -> float:
    if spec.options.get("fps") is not None:
        v = spec.options["fps"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
            raise SourceError(f"source {spec.name!r}: options.fps {v!r} is not a positive number; fix the sources file")
        return float(v)
    info = root / "meta_data" / "info.json"
    try:
        v = json.loads(info.read_text(encoding="utf-8-sig"))["fps"]
    except FileNotFoundError:
        raise SourceError(f"{info}: missing; a LeRobot v1 dataset states its fps there (or set options.fps)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
        raise SourceError(f"{info}: no readable `fps`; fix the file or set options.fps") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
        raise SourceError(f"{info}: fps {v!r} is not a positive number; fix the file or set options.fps")
    return float(v)


def _tables(root: Path, spec: SourceSpec) -> tuple[list[Path], Layout]:
    choice = spec.options.get("table", "auto")
    if choice not in ("auto", "arrow", "csv"):
        raise SourceError(f"source {spec.name!r}: options.table {choice!r} is not auto, arrow or csv; fix the sources file")
    arrow = sorted((root / "train").glob("*.arrow"))
    csvs = sorted(root.glob(spec.options.get("csv_glob", "*_flat.csv")))
    if choice == "arrow" or (choice == "auto" and arrow):
        tables, cols = arrow, _ARROW
    else:
        tables, cols = csvs, _CSV
    if not tables:
        want = "train/*.arrow" if cols is _ARROW else spec.options.get("csv_glob", "*_flat.csv")
        raise SourceError(f"{root}: no {want} table; a UMI v1 dataset needs train/*.arrow or a flat CSV (options.table)")
    return tables, Layout(video_fps=_fps(root, spec), gripper_max_m=gripper_max_m(spec.options, f"source {spec.name!r}"), **cols)


def _prefix(root: Path, table: Path, tables: list[Path]) -> str:
    return sanitize(root.name) if len(tables) == 1 else f"{sanitize(root.name)}__{sanitize(Path(table).stem)}"


def _value_part(value: str) -> str:
    v = normalise_episode_value(value)
    return f"episode_{int(v):06d}" if v is not None and v.lstrip("-").isdigit() else f"episode_{sanitize(str(value))}"


def _meta_files(root: Path) -> list[Path]:
    return [p for p in (root / "meta_data" / "info.json",) if p.is_file()]


def ee_path_length_m(read: EpisodeRead) -> float:
    """Total end-effector path length of a read episode (a quick sanity figure)."""
    p = np.asarray(read.columns["ee_pos_base_m"])
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0
