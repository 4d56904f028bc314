"""Corpus cases for the navigation readers whose rows are frames named one by one: NeRF
``transforms.json`` (one JSON object per frame), ScanNet and 7-Scenes (one pose file per frame)
and the generic pose table (one CSV or Parquet row per frame).

The healthy sources are ``tests/test_sources_navigation.py``'s ``write_nerf`` (5 frames listed
out of order), ``write_scannet`` (frames 0 1 2 5 10 12 of ``scene0007_01``), ``write_7scenes``
(frames 0-4 of ``chess/seq-01``) and ``write_pose_table`` (``log.csv``: a header and 6 rows,
``t_ms`` 100, 140, ..., 300; options ``PT_OPTIONS``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tests.corpus import Blamed, Case, Clean, Codes, Fails, damaged, edits, healthy

NAN = float("nan")


def _num(v: float) -> str:
    return f"{float(v):.17g}"


# --------------------------------------------------------------------------------- NeRF ---
# After ``edits.edit_json`` (indent 1) every frame object takes 29 lines: the k-th frame of the
# file starts on line 9 + 29 k. The file lists frame_00005, 00003, 00002, 00004, 00001 (in that
# order), so the middle frame of the file (k = 2) is frame_00002, on line 67.

def _frame_line(k: int, per: int = 29) -> int:
    """The first line of the file's k-th frame (``per`` = 30 lines once every frame has a ``time``)."""
    return 9 + per * k


def _nerf(fn, replace: bool = False) -> callable:
    """Damage ``transforms.json`` with ``fn(doc)``: edited in place, or (``replace``) the document
    replaced by what ``fn`` returns."""
    edit = fn if replace else (lambda doc: (fn(doc), None)[1])
    return damaged("nerf", lambda root, path: edits.edit_json(root / "transforms.json", edit))


def _nerf_text(fn) -> callable:
    """Damage the text of ``transforms.json`` (as re-written with indent 1) with ``fn(text)``."""
    def damage(root, path):
        f = root / "transforms.json"
        edits.edit_json(f, lambda d: None)
        f.write_text(fn(f.read_text(encoding="utf-8")), encoding="utf-8")
    return damaged("nerf", damage)


def _set_matrix(k: int, fn):
    """``fn(matrix as a numpy array)`` -> the new matrix of the file's k-th frame."""
    def edit(doc):
        m = np.asarray(doc["frames"][k]["transform_matrix"], dtype=np.float64)
        doc["frames"][k]["transform_matrix"] = np.asarray(fn(m)).tolist()
    return edit


def _reflect(m: np.ndarray) -> np.ndarray:
    m = np.array(m, dtype=np.float64)
    m[:3, 0] *= -1.0  # det -1: a mirror, not a rotation
    return m


def _scale_rotation(m: np.ndarray, factor: float = 1.01) -> np.ndarray:
    m = np.array(m, dtype=np.float64)
    m[:3, :3] *= factor
    return m


def _times(big_at: str | None = None, value=1000.0):
    """Give every frame a ``time`` (its number / 4, so the 5 frames span [0, 1]); the frame named
    ``big_at`` gets ``value`` instead."""
    def edit(doc):
        for fr in doc["frames"]:
            n = int(fr["file_path"].rsplit("_", 1)[1])
            fr["time"] = value if fr["file_path"].endswith(big_at or "-") else (n - 1) / 4
    return edit


def _drop_key(k: int, key: str):
    return lambda doc: doc["frames"][k].pop(key)


def _absolute_image(root: Path, path: Path) -> None:
    edits.edit_json(root / "transforms.json",
                    lambda d: d["frames"][1].update(file_path=str((root / "images" / "frame_00003.png").resolve())))


NERF = [
    # 2. structure: the file, then one frame object
    Case("nerf/empty_file", 2, "nerf", damaged("nerf", lambda root, path: (root / "transforms.json").write_text("")),
         Fails("the file is empty")),
    Case("nerf/frames_is_an_empty_list", 2, "nerf", _nerf(lambda d: d.update(frames=[])), Fails("`frames` is empty")),
    # a file that is not a transforms.json is one rejected row of its own (the reader's documented rule)
    Case("nerf/no_frames_key", 2, "nerf", _nerf(lambda d: d.pop("frames")), Blamed("malformed_line", at=("transforms.json", 1))),
    Case("nerf/top_level_is_a_list", 2, "nerf", _nerf(lambda d: d["frames"], replace=True), Blamed("malformed_line", at=("transforms.json", 1))),
    Case("nerf/frames_is_an_object", 2, "nerf", _nerf(lambda d: d.update(frames={"0": d["frames"][0]})),
         Blamed("malformed_line", at=("transforms.json", 1))),
    Case("nerf/frame_is_a_string", 2, "nerf", _nerf(lambda d: d["frames"].__setitem__(2, "frame_00002.png")),
         Blamed("malformed_line", at=("transforms.json", _frame_line(2)))),
    Case("nerf/frame_without_file_path", 2, "nerf", _nerf(_drop_key(2, "file_path")),
         Blamed("malformed_line", at=("transforms.json", _frame_line(2)))),
    # 3. real files: 6 decimals, float32 (instant-ngp), 3x4 matrices (nerfstudio exports)
    Case("nerf/six_decimals", 3, "nerf", damaged("nerf", lambda root, path: edits.round_floats(root / "transforms.json")), Clean(rows=5)),
    Case("nerf/float32_matrices", 3, "nerf", damaged("nerf", lambda root, path: edits.float32_floats(root / "transforms.json")),
         Clean(rows=5)),
    Case("nerf/3x4_matrices", 3, "nerf", _nerf(lambda d: [fr.update(transform_matrix=fr["transform_matrix"][:3]) for fr in d["frames"]]),
         Clean(rows=5)),
    # 4. no frame vanishes: a BOM; the first frame's number damaged (as text in the JSON, or not JSON at all)
    Case("nerf/bom", 4, "nerf", damaged("nerf", lambda root, path: edits.add_bom(root / "transforms.json")), Clean(rows=5)),
    Case("nerf/first_frame_number_as_text", 4, "nerf",
         _nerf(lambda d: d["frames"][0]["transform_matrix"][0].__setitem__(0, "-0.84538.65")),
         Blamed("value_type_invalid", at=("transforms.json", _frame_line(0)))),
    # a typo that breaks the JSON itself: the file cannot be split into frames, so it is one row, at the typo
    Case("nerf/first_number_typo_breaks_json", 4, "nerf", _nerf_text(lambda t: t.replace("-0.8453865168102035", "-0.84538.65", 1)),
         Blamed("malformed_line", at=("transforms.json", 13))),
    # 5. only the damaged frame is blamed
    Case("nerf/nan_in_middle_frame", 5, "nerf", _nerf(lambda d: d["frames"][2]["transform_matrix"][1].__setitem__(3, NAN)),
         Blamed("nan_pose", at=("transforms.json", _frame_line(2)))),
    # 6. bad values
    Case("nerf/reflection_det_minus_1", 6, "nerf", _nerf(_set_matrix(3, _reflect)),
         Blamed("rotation_not_orthonormal", at=("transforms.json", _frame_line(3)))),
    Case("nerf/rotation_scaled_1_percent", 6, "nerf", _nerf(_set_matrix(1, _scale_rotation)),
         Blamed("rotation_not_orthonormal", at=("transforms.json", _frame_line(1)))),
    Case("nerf/bool_in_matrix", 6, "nerf", _nerf(lambda d: d["frames"][4]["transform_matrix"][2].__setitem__(1, True)),
         Blamed("value_type_invalid", at=("transforms.json", _frame_line(4)))),
    Case("nerf/time_as_text", 6, "nerf", _nerf(lambda d: (_times()(d), d["frames"][2].update(time="0.25"))),
         Blamed("value_type_invalid", at=("transforms.json", _frame_line(2, per=30)))),
    # 8. an absolute image path that lies inside the root is the same image
    Case("nerf/absolute_file_path_inside_root", 8, "nerf", damaged("nerf", _absolute_image), Clean(rows=5)),
    Case("nerf/absolute_file_path_elsewhere", 8, "nerf", _nerf(lambda d: d["frames"][1].update(file_path="/etc/hostname")),
         Blamed("path_escapes_root")),
    # 9. messages
    Case("nerf/time_nan", 9, "nerf", _nerf(lambda d: (_times()(d), d["frames"][2].update(time=NAN))),
         Blamed("timestamp_nonfinite", at=("transforms.json", _frame_line(2, per=30)))),
    Case("nerf/matrix_3x3", 9, "nerf", _nerf(_set_matrix(2, lambda m: m[:3, :3])),
         Blamed("pose_malformed", at=("transforms.json", _frame_line(2)))),
    Case("nerf/matrix_flat_16_numbers", 9, "nerf", _nerf(_set_matrix(2, lambda m: m.ravel())),
         Blamed("pose_malformed", at=("transforms.json", _frame_line(2)))),
    Case("nerf/frame_without_time_while_others_have_it", 9, "nerf", _nerf(lambda d: (_times()(d), d["frames"][3].pop("time"))),
         Blamed("malformed_line", at=("transforms.json", _frame_line(3, per=30)))),
    # every frame but one NaN: 4 nan_pose rows, and the one left cannot make a motion
    Case("nerf/one_healthy_frame_left", 9, "nerf",
         _nerf(lambda d: [fr["transform_matrix"][0].__setitem__(0, NAN) for fr in d["frames"][1:]]),
         Codes(frozenset({"nan_pose", "episode_unusable"}))),
]


# ------------------------------------------------------------------------------ ScanNet ---
SCAN = "scene0007_01"
SCANNET_IDS = (0, 1, 2, 5, 10, 12)


def _scannet(fn) -> callable:
    """``fn(scan folder)`` damages the healthy ScanNet export."""
    return damaged("scannet", lambda root, path: fn(root / SCAN))


def _each_pose(fn) -> callable:
    return _scannet(lambda s: [fn(p) for p in sorted((s / "pose").glob("*.txt"))])


def _write_matrix(path: Path, m, sep: str = " ") -> None:
    path.write_text("\n".join(sep.join(_num(v) for v in row) for row in np.asarray(m)) + "\n")


def _edit_matrix(path: Path, fn, sep: str = " ") -> None:
    m = np.asarray([[float(v) for v in ln.split()] for ln in path.read_text().splitlines() if ln.strip()])
    _write_matrix(path, fn(m), sep)


def _scannet_extra_pose(name: str):
    """A pose file ``pose/<name>.txt`` (a copy of frame 5's) beside the healthy ones."""
    return _scannet(lambda s: shutil.copy(s / "pose" / "5.txt", s / "pose" / f"{name}.txt"))


SCANNET = [
    # 1. the frame number is the pose file's name
    Case("scannet/pose_file_named_minus_1", 1, "scannet", _scannet_extra_pose("-1"), Blamed("frame_index_invalid", at=("pose/-1.txt", 1))),
    Case("scannet/pose_file_named_9.7", 1, "scannet", _scannet_extra_pose("9.7"), Blamed("frame_index_invalid", at=("pose/9.7.txt", 1))),
    Case("scannet/pose_file_named_nan", 1, "scannet", _scannet_extra_pose("nan"), Blamed("frame_index_invalid", at=("pose/nan.txt", 1))),
    # 2. structure
    Case("scannet/empty_pose_file", 2, "scannet", _scannet(lambda s: (s / "pose/5.txt").write_text("")),
         Blamed("malformed_line", at=("pose/5.txt", 1))),
    Case("scannet/pose_file_with_5_lines", 2, "scannet", _scannet(lambda s: edits.set_line(s / "pose/2.txt", 5, "0 0 0 1")),
         Blamed("malformed_line", at=("pose/2.txt", 5))),
    Case("scannet/no_pose_file", 2, "scannet", _scannet(lambda s: [p.unlink() for p in (s / "pose").glob("*.txt")]),
         Fails("holds no ScanNet export")),
    Case("scannet/intrinsics_not_a_matrix", 2, "scannet",
         _scannet(lambda s: (s / "intrinsic/intrinsic_color.txt").write_text("fx 1170.2\n")), Fails("intrinsic_color.txt")),
    Case("scannet/intrinsics_zero_focal", 2, "scannet",
         _scannet(lambda s: edits.set_line(s / "intrinsic/intrinsic_color.txt", 1, "0 0 647.8 0")), Fails("intrinsic_color.txt")),
    # 3. SensReader prints 6 decimals; float32 poses
    Case("scannet/six_decimals", 3, "scannet", _each_pose(edits.round_floats), Clean(rows=6)),
    Case("scannet/float32", 3, "scannet", _each_pose(edits.float32_floats), Clean(rows=6)),
    # 4. BOM on every text file (poses and intrinsics); the first line of the first frame damaged
    Case("scannet/bom_on_every_file", 4, "scannet",
         _scannet(lambda s: [edits.add_bom(p) for p in [*s.glob("pose/*.txt"), s / "intrinsic/intrinsic_color.txt"]]), Clean(rows=6)),
    Case("scannet/first_line_typo", 4, "scannet",
         _scannet(lambda s: edits.set_field(s / "pose/0.txt", 1, 1, edits.get_field(s / "pose/0.txt", 1, 1) + ".5")),
         Blamed("malformed_line", at=("pose/0.txt", 1))),
    # 5. one frame in the middle bad: only it
    Case("scannet/nan_in_middle_pose", 5, "scannet", _scannet(lambda s: edits.set_field(s / "pose/2.txt", 2, 3, "nan")),
         Blamed("nan_pose", at=("pose/2.txt", 1))),
    # 6. bad values
    Case("scannet/rotation_scaled_1_percent", 6, "scannet", _scannet(lambda s: _edit_matrix(s / "pose/5.txt", _scale_rotation)),
         Blamed("rotation_not_orthonormal", at=("pose/5.txt", 1))),
    Case("scannet/bottom_row_not_0001", 6, "scannet", _scannet(lambda s: edits.set_line(s / "pose/10.txt", 4, "0 0 1 1")),
         Blamed("pose_not_se3", at=("pose/10.txt", 1))),
    # 9. messages
    Case("scannet/pose_with_3_numbers_on_a_line", 9, "scannet", _scannet(lambda s: edits.keep_fields(s / "pose/1.txt", 3, 3)),
         Blamed("malformed_line", at=("pose/1.txt", 3))),
    Case("scannet/every_pose_minus_inf", 9, "scannet",  # tracking lost throughout: each frame says so
         _each_pose(lambda p: _write_matrix(p, np.full((4, 4), -np.inf))), Blamed("nan_pose", n=6)),
]


# ----------------------------------------------------------------------------- 7-Scenes ---
SEQ = ("chess", "seq-01")


def _7s(fn) -> callable:
    return damaged("sevenscenes", lambda root, path: fn(root.joinpath(*SEQ)))


def _7s_pose(i: int) -> str:
    return f"frame-{i:06d}.pose.txt"


def _7s_extra_pose(number: str):
    return _7s(lambda s: shutil.copy(s / _7s_pose(2), s / f"frame-{number}.pose.txt"))


def _7s_each(fn) -> callable:
    return _7s(lambda s: [fn(p) for p in sorted(s.glob("frame-*.pose.txt"))])


SEVENSCENES = [
    # 1. the frame number is in the file name
    Case("sevenscenes/frame_number_minus_1", 1, "sevenscenes", _7s_extra_pose("-1"),
         Blamed("frame_index_invalid", at=("frame--1.pose.txt", 1))),
    Case("sevenscenes/frame_number_fractional", 1, "sevenscenes", _7s_extra_pose("000002.5"),
         Blamed("frame_index_invalid", at=("frame-000002.5.pose.txt", 1))),
    # 2. structure
    Case("sevenscenes/empty_pose_file", 2, "sevenscenes", _7s(lambda s: (s / _7s_pose(3)).write_text("")),
         Blamed("malformed_line", at=(_7s_pose(3), 1))),
    Case("sevenscenes/pose_file_with_5_rows", 2, "sevenscenes", _7s(lambda s: edits.set_line(s / _7s_pose(1), 5, "0\t0\t0\t1")),
         Blamed("malformed_line", at=(_7s_pose(1), 5))),
    Case("sevenscenes/intrinsics_option_3_values", 2, "sevenscenes", damaged("sevenscenes", intrinsics=[585, 585, 320]),
         Fails("option intrinsics")),
    Case("sevenscenes/intrinsics_option_negative_focal", 2, "sevenscenes", damaged("sevenscenes", intrinsics=[-585, 585, 320, 240]),
         Fails("fx and fy > 0")),
    # 3. real files
    Case("sevenscenes/six_decimals", 3, "sevenscenes", _7s_each(edits.round_floats), Clean(rows=5)),
    Case("sevenscenes/float32", 3, "sevenscenes", _7s_each(edits.float32_floats), Clean(rows=5)),
    # 4. rows kept
    Case("sevenscenes/bom_on_every_pose_file", 4, "sevenscenes", _7s_each(edits.add_bom), Clean(rows=5)),
    Case("sevenscenes/first_line_typo", 4, "sevenscenes",
         _7s(lambda s: edits.set_field(s / _7s_pose(0), 1, 0, "0.1x", sep="\t")), Blamed("malformed_line", at=(_7s_pose(0), 1))),
    # 5. only the damaged frame
    Case("sevenscenes/nan_in_middle_pose", 5, "sevenscenes", _7s(lambda s: edits.set_field(s / _7s_pose(2), 3, 1, "nan", sep="\t")),
         Blamed("nan_pose", at=(_7s_pose(2), 1))),
    # 6. bad values
    Case("sevenscenes/reflection_det_minus_1", 6, "sevenscenes", _7s(lambda s: _edit_matrix(s / _7s_pose(2), _reflect, "\t")),
         Blamed("rotation_not_orthonormal", at=(_7s_pose(2), 1))),
    Case("sevenscenes/rotation_scaled_1_percent", 6, "sevenscenes", _7s(lambda s: _edit_matrix(s / _7s_pose(4), _scale_rotation, "\t")),
         Blamed("rotation_not_orthonormal", at=(_7s_pose(4), 1))),
    Case("sevenscenes/bottom_row_not_0001", 6, "sevenscenes", _7s(lambda s: edits.set_line(s / _7s_pose(1), 4, "0\t0.5\t0\t1")),
         Blamed("pose_not_se3", at=(_7s_pose(1), 1))),
    # 9. messages
    Case("sevenscenes/pose_with_5_numbers_on_a_line", 9, "sevenscenes",
         _7s(lambda s: edits.set_line(s / _7s_pose(3), 2, edits.lines(s / _7s_pose(3))[1] + "\t0")), Blamed("malformed_line", at=(_7s_pose(3), 2))),
    Case("sevenscenes/every_pose_nan", 9, "sevenscenes", _7s_each(lambda p: edits.set_line(p, 1, "nan\tnan\tnan\tnan")),
         Blamed("nan_pose", n=5)),
]


# ---------------------------------------------------------------------------- pose_table ---
# log.csv: line 1 the header ``t_ms,x,y,z,qw,qx,qy,qz,img``, lines 2-7 the 6 rows (frames/<i>.png).
LOG = "log.csv"
COL = {name: j for j, name in enumerate("t_ms,x,y,z,qw,qx,qy,qz,img".split(","))}


def _table(fn=None, **options) -> callable:
    """The healthy CSV, ``fn(log.csv)`` applied, with options overridden."""
    return damaged("pose_table", None if fn is None else (lambda root, path: fn(path)), **options)


def _cell(line: int, col: str, value) -> callable:
    return _table(lambda p: edits.set_field(p, line, COL[col], value, sep=","))


def _parquet(fn=None, float32: bool = False, base=None, raw=None, **options) -> callable:
    """The CSV that ``base`` builds (default: the healthy one) as ``log.parquet`` (float32 pose
    columns when asked), then ``fn(columns)`` through :func:`edits.edit_parquet` and ``raw(path)``
    on the file's bytes."""
    def build(root: Path, world: Path):
        csv_path, opts = (base or damaged("pose_table"))(root, world)
        table = pacsv.read_csv(csv_path)
        if float32:
            table = table.cast(pa.schema([pa.field(f.name, pa.float32()) if pa.types.is_floating(f.type) else f
                                          for f in table.schema]))
        path = root / "log.parquet"
        pq.write_table(table, path)
        csv_path.unlink()
        if fn is not None:
            edits.edit_parquet(path, fn)
        if raw is not None:
            raw(path)
        opts = {k: v for k, v in {**opts, **options}.items() if v is not None}
        return path, opts
    return build


def _put_column(name: str, fn):
    """``raw`` damage: column ``name`` replaced by the Arrow array ``fn(old values)``, its type kept
    exactly as given (``edits.edit_parquet`` would cast a bool back to float, 2.5 to 2)."""
    def raw(path: Path) -> None:
        table = pq.read_table(path)
        i = table.column_names.index(name)
        pq.write_table(table.set_column(i, name, fn(table.column(name).to_pylist())), path)
    return raw


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop(name: str):
    def edit(cols):
        del cols[name]
    return edit


def _negate_column0(row: int):
    """Mirror the rotation of one matrix row of the table: its first column negated (det -1)."""
    def edit(cols):
        for nm in ("m00", "m10", "m20"):
            cols[nm][row] = -cols[nm][row]
    return edit


def _set_col(name: str, i: int, value):
    return lambda cols: cols[name].__setitem__(i, value)


def _video_table(fn=None, frames: int = 6, frame_column: bool = True) -> callable:
    """The healthy CSV with every row naming ``clip.mp4`` (``frames`` frames long), and a column
    ``frame`` holding 0..5 (declared as ``frame_column``), then ``fn(log.csv)``."""
    from tests.test_sources_navigation import mp4

    def damage(root, path):
        mp4(root / "clip.mp4", frames)
        ls = edits.lines(path)
        ls[0] += ",frame"
        for k, line in enumerate(edits.data_lines(path)):
            parts = ls[line - 1].split(",")
            parts[COL["img"]] = "clip.mp4"
            ls[line - 1] = ",".join(parts) + f",{k}"
        path.write_text("\n".join(ls), encoding="utf-8")
        if fn is not None:
            fn(path)
    return damaged("pose_table", damage, frame_column="frame" if frame_column else None)


def _frame(line: int, value) -> callable:
    return lambda p: edits.set_field(p, line, len(COL), value, sep=",")


def _matrix_table(fn=None, float32: bool = False) -> callable:
    """A parquet of 4x4 cam2world matrices (16 columns m00..m33) and seconds, ``fn(columns)`` applied."""
    from tests.test_sources_navigation import rigid

    names = [f"m{i}{j}" for i in range(4) for j in range(4)]

    def build(root: Path, world: Path):
        t = rigid(6, 12)
        kind = pa.float32() if float32 else pa.float64()
        cols = {"t": pa.array(0.1 * np.arange(6))}
        cols.update({nm: pa.array(t[:, k // 4, k % 4], kind) for k, nm in enumerate(names)})
        path = root / "poses.parquet"
        pq.write_table(pa.table(cols), path)
        if fn is not None:
            edits.edit_parquet(path, fn)
        return path, {"columns": {"timestamp": "t", "matrix": names}}
    return build


def _relink_first_image(outside: bool):
    def damage(root, path):
        media = root / "frames" / "0.png"
        keep = (root.parent / "outside" if outside else root / "frames" / ".linked") / "0.png"
        keep.parent.mkdir(exist_ok=True)
        shutil.move(media, keep)
        media.symlink_to(keep)
    return damaged("pose_table", damage)


def _intrinsics_file(name: str, text: str, bom: bool = False):
    def damage(root, path):
        (root / name).write_text(text, encoding="utf-8")
        if bom:
            edits.add_bom(root / name)
    return damaged("pose_table", damage, intrinsics=name)


POSE_TABLE = [
    # 1. frame_column into a video (and a video shorter than the rows that name it)
    Case("pose_table/frame_index_negative", 1, "pose_table", _video_table(_frame(4, -1)), Blamed("frame_index_invalid", at=(LOG, 4))),
    Case("pose_table/frame_index_fractional", 1, "pose_table", _video_table(_frame(5, 3.7)), Blamed("frame_index_invalid", at=(LOG, 5))),
    Case("pose_table/frame_index_nan", 1, "pose_table", _video_table(_frame(3, "nan")), Blamed("frame_index_invalid", at=(LOG, 3))),
    Case("pose_table/frame_index_true", 1, "pose_table", _video_table(_frame(3, "true")), Blamed("frame_index_invalid", at=(LOG, 3))),
    Case("pose_table/frame_index_past_the_video", 1, "pose_table", _video_table(_frame(6, 99)), Blamed("video_short", at=(LOG, 6))),
    Case("pose_table/video_shorter_than_its_rows", 1, "pose_table", _video_table(frames=4, frame_column=False),
         Blamed("video_short", n=2, at=(LOG, 6))),
    Case("pose_table/parquet_frame_index_negative", 1, "pose_table", _parquet(_set_col("frame", 2, -1), base=_video_table()),
         Blamed("frame_index_invalid", at=("log.parquet", 3))),
    Case("pose_table/parquet_frame_index_fractional", 1, "pose_table", _parquet(base=_video_table(),
                                                                         raw=_put_column("frame", lambda v: pa.array([0, 1, 2, 2.5, 4, 5]))),
         Blamed("frame_index_invalid", at=("log.parquet", 4))),
    # 2. structure
    Case("pose_table/empty_csv", 2, "pose_table", _table(lambda p: p.write_text("")), Fails("the file is empty")),
    Case("pose_table/header_only", 2, "pose_table", _table(lambda p: p.write_text(edits.lines(p)[0] + "\n")),
         Fails("no data row after the header")),
    Case("pose_table/semicolon_delimited", 2, "pose_table", _table(lambda p: p.write_text(p.read_text().replace(",", ";"))),
         Fails("declared column(s)")),
    Case("pose_table/parquet_truncated", 2, "pose_table", _parquet(raw=_truncate), Fails("not a readable Parquet file")),
    Case("pose_table/parquet_no_row", 2, "pose_table", _parquet(lambda c: {k: [] for k in c}), Fails("holds no row")),
    Case("pose_table/parquet_missing_column", 2, "pose_table", _parquet(_drop("qz")), Fails("['qz'] not found")),
    Case("pose_table/intrinsics_file_missing", 2, "pose_table", _table(intrinsics="K.txt"), Fails("'K.txt' is not a file")),
    Case("pose_table/intrinsics_file_8_numbers", 2, "pose_table", _intrinsics_file("K.txt", "500 0 320\n0 500 240\n0 0\n"),
         Fails("K.txt")),
    Case("pose_table/intrinsics_option_3_values", 2, "pose_table", _table(intrinsics=[500, 500, 320]), Fails("[fx, fy, cx, cy]")),
    # 3. real files
    Case("pose_table/six_decimals", 3, "pose_table", _table(edits.round_floats), Clean(rows=6)),
    Case("pose_table/float32_text", 3, "pose_table", _table(edits.float32_floats), Clean(rows=6)),
    Case("pose_table/parquet_float32_quaternions", 3, "pose_table", _parquet(float32=True), Clean(rows=6)),
    Case("pose_table/parquet_float32_matrices", 3, "pose_table", _matrix_table(float32=True), Clean(rows=6)),
    Case("pose_table/intrinsics_colmap_k_txt", 3, "pose_table",
         _intrinsics_file("K.txt", "500.0 0.0 320.0\n0.0 500.0 240.0\n0.0 0.0 1.0\n"), Clean(rows=6)),
    # 4. rows kept
    Case("pose_table/bom", 4, "pose_table", _table(edits.add_bom), Clean(rows=6)),
    Case("pose_table/bom_on_intrinsics_json", 4, "pose_table",
         _intrinsics_file("cam.json", json.dumps({"fl_x": 500, "fl_y": 500, "cx": 320, "cy": 240}), bom=True), Clean(rows=6)),
    Case("pose_table/first_data_line_typo", 4, "pose_table", _cell(2, "x", "0.12.5"), Blamed("malformed_line", at=(LOG, 2))),
    Case("pose_table/first_timestamp_typo", 4, "pose_table", _cell(2, "t_ms", "1O0"), Blamed("malformed_line", at=(LOG, 2))),
    # 5. one row in the middle
    Case("pose_table/timestamp_1000s_in_the_middle", 5, "pose_table", _cell(4, "t_ms", 180 + 1_000_000),
         Blamed("timestamp_outlier", at=(LOG, 4))),
    Case("pose_table/nan_in_middle_row", 5, "pose_table", _cell(5, "y", "nan"), Blamed("nan_pose", at=(LOG, 5))),
    Case("pose_table/parquet_timestamp_1000s_in_the_middle", 5, "pose_table", _parquet(_set_col("t_ms", 3, 220 + 1_000_000)),
         Blamed("timestamp_outlier", at=("log.parquet", 4))),
    # 6. bad values
    Case("pose_table/quaternion_norm_2", 6, "pose_table",
         _table(lambda p: [edits.set_field(p, 3, COL[c], 2 * float(edits.get_field(p, 3, COL[c], ",")), ",")
                           for c in ("qw", "qx", "qy", "qz")]), Blamed("quat_not_unit", at=(LOG, 3))),
    Case("pose_table/parquet_bool_column", 6, "pose_table", _parquet(raw=_put_column("x", lambda v: pa.array([x > 0 for x in v]))),
         Blamed("value_type_invalid", n=6)),  # the whole column is bool: every row has a bool where x is declared
    Case("pose_table/parquet_string_column", 6, "pose_table", _parquet(raw=_put_column("y", lambda v: pa.array([repr(x) for x in v]))),
         Blamed("value_type_invalid", n=6)),  # text where a number is declared, in every row of the column
    Case("pose_table/parquet_string_timestamps", 6, "pose_table", _parquet(raw=_put_column("t_ms", lambda v: pa.array([str(x) for x in v]))),
         Blamed("value_type_invalid", n=6)),
    Case("pose_table/csv_true_in_a_number_column", 6, "pose_table", _cell(4, "z", "true"), Blamed("malformed_line", at=(LOG, 4))),
    Case("pose_table/matrix_reflection", 6, "pose_table", _matrix_table(_negate_column0(2)),
         Blamed("rotation_not_orthonormal", at=("poses.parquet", 3))),
    Case("pose_table/matrix_bottom_row", 6, "pose_table", _matrix_table(_set_col("m32", 4, 1.0)),
         Blamed("pose_not_se3", at=("poses.parquet", 5))),
    # 8. image paths
    Case("pose_table/image_absolute_inside_root", 8, "pose_table",
         damaged("pose_table", lambda root, path: edits.set_field(path, 3, COL["img"], str((root / "frames/1.png").resolve()), ",")),
         Clean(rows=6)),
    Case("pose_table/image_absolute_elsewhere", 8, "pose_table", _cell(3, "img", "/etc/hostname"), Blamed("path_escapes_root", at=(LOG, 3))),
    Case("pose_table/image_link_inside_root", 8, "pose_table", _relink_first_image(outside=False), Clean(rows=6)),
    Case("pose_table/image_link_out_of_root", 8, "pose_table", _relink_first_image(outside=True),
         Blamed("path_escapes_root", at=(LOG, 2))),
    # 9. messages
    Case("pose_table/timestamp_nan", 9, "pose_table", _cell(4, "t_ms", "nan"), Blamed("timestamp_nonfinite", at=(LOG, 4))),
    Case("pose_table/timestamp_inf", 9, "pose_table", _cell(6, "t_ms", "inf"), Blamed("timestamp_nonfinite", at=(LOG, 6))),
    Case("pose_table/row_with_10_fields", 9, "pose_table", _table(lambda p: edits.set_line(p, 4, edits.lines(p)[3] + ",1.0")),
         Blamed("malformed_line", at=(LOG, 4))),
    # every quaternion zero: each row says why, and no row is left
    Case("pose_table/every_quaternion_zero", 9, "pose_table",
         _table(lambda p: [edits.set_field(p, ln, COL[c], "0", ",") for ln in range(2, 8) for c in ("qw", "qx", "qy", "qz")]),
         Blamed("quat_not_unit", n=6)),
]


CASES: list[Case] = NERF + SCANNET + SEVENSCENES + POSE_TABLE

NOT_APPLICABLE: dict[tuple[str, int], str] = {
    ("nerf", 1): "a transforms.json frame names its own image file: there is no frame index to be negative, fractional or "
                 "past a video",
}
