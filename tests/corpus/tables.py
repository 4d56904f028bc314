"""Malformed-input cases for the table readers and the simulation log: ``robot_table`` (the healthy
source is ``make_table(root, {"a": 8})``: ``logs/arm.csv``, header on line 1, rows on lines 2-9, and
``logs/videos/a.mp4`` of 8 frames), ``sim_pose_table`` (``make_carla``: ``town01/ep0.csv``, header on
line 1, rows on lines 2-11, frame column ``frame`` = 0..9, ``town01/ep0.mp4`` of 10 frames; and the
Habitat JSONL variant ``make_habitat``: ``scene_a/poses.jsonl``, records on lines 1-8, no media) and
``remot_sim_jsonl`` (the synthetic world's ``sim_000/log.jsonl``: header on line 1, frames 0..15 on
lines 2-17, object poses, and ``sim_000/video.mp4`` of 16 frames)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.corpus import Blamed, Case, Clean, Codes, Fails, damaged, edits

# ------------------------------------------------------------------------------ helpers ---


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))


def _write_csv_rows(path: Path, rows: list[list]) -> None:
    Path(path).write_text("\n".join(",".join(str(v) for v in r) for r in rows) + "\n", encoding="utf-8")


def set_cell(path: Path, line: int, column: str, value) -> None:
    """Set the cell of ``column`` (by header name) on CSV line ``line`` (1-based, header = 1)."""
    rows = _csv_rows(path)
    rows[line - 1][rows[0].index(column)] = str(value)
    _write_csv_rows(path, rows)


def add_column(path: Path, name: str, values) -> None:
    """Append a column ``name`` to a CSV (``values`` one per data row)."""
    rows = _csv_rows(path)
    rows[0].append(name)
    for r, v in zip(rows[1:], values):
        r.append(str(v))
    _write_csv_rows(path, rows)


def drop_column(path: Path, name: str) -> None:
    rows = _csv_rows(path)
    j = rows[0].index(name)
    _write_csv_rows(path, [r[:j] + r[j + 1:] for r in rows])


def csv_to_parquet(path: Path, float32: bool = False) -> Path:
    """Rewrite a CSV as a Parquet file beside it (floats as float32 when asked); the CSV is removed."""
    from pyarrow import csv as pacsv

    table = pacsv.read_csv(path)
    if float32:
        table = table.cast(pa.schema([pa.field(f.name, pa.float32() if pa.types.is_floating(f.type) else f.type)
                                      for f in table.schema]))
    out = Path(path).with_suffix(".parquet")
    pq.write_table(table, out)
    Path(path).unlink()
    return out


def csv_to_jsonl(path: Path) -> Path:
    """Rewrite a CSV as JSON records (numbers as numbers), one per line, beside it; the CSV is removed."""
    rows = _csv_rows(path)
    out = Path(path).with_suffix(".jsonl")

    def value(text):
        try:
            return float(text)
        except ValueError:
            return text
    out.write_text("\n".join(json.dumps({k: value(v) for k, v in zip(rows[0], r)}) for r in rows[1:]) + "\n",
                   encoding="utf-8")
    Path(path).unlink()
    return out


def _video(path: Path, n: int) -> None:
    from tests.test_sources_manipulation import write_video

    Path(path).unlink(missing_ok=True)
    write_video(Path(path), n)


def _garbage(path: Path) -> None:
    Path(path).write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)


def _matrix_edit(fn):
    """An edit of a flat row-major 4x4 list: ``fn(m)`` edits the ``(4, 4)`` array in place."""
    def edit(flat):
        m = np.asarray(flat, dtype=np.float64).reshape(4, 4)
        fn(m)
        return m.ravel().tolist()
    return edit


def _mirror(m):
    m[:3, 0] *= -1.0  # det -1


def _scale(m):
    m[:3, :3] *= 1.01


def _bottom(m):
    m[3, 0] = 0.25


# ------------------------------------------------------------------------- robot_table ---

RT = "robot_table"
ARM = "logs/arm.csv"
ARM_VIDEO = "logs/videos/a.mp4"
RT_ROWS = 8  # data lines 2..9


def _rt(fn, **options):
    """A healthy robot table, then ``fn(csv path, root)``."""
    return damaged(RT, lambda root, path: fn(root / ARM, root), **options)


def _rt_cell(line: int, column: str, value, **options):
    return _rt(lambda p, root: set_cell(p, line, column, value), **options)


def _rt_frames(line: int | None = None, value=None, **options):
    """A frame column ``frame`` (0..7) declared as ``frame_column``; line ``line`` set to ``value``."""
    def fn(p, root):
        add_column(p, "frame", range(RT_ROWS))
        if line is not None:
            set_cell(p, line, "frame", value)
    return _rt(fn, frame_column="frame", **options)


def _rt_parquet(column: str | None = None, values: pa.Array | None = None, float32: bool = False):
    """The table as ``logs/arm.parquet``; ``column`` replaced by ``values`` (its type kept: a bool column
    stays bool, where :func:`edits.edit_parquet` would cast it back to the old float type)."""
    def fn(p, root):
        out = csv_to_parquet(p, float32=float32)
        if column is not None:
            table = pq.read_table(out)
            pq.write_table(table.set_column(table.column_names.index(column), column, values), out)
    return _rt(fn)


def _rt_jsonl(line: int, fn):
    """The table as JSON records ``logs/arm.jsonl`` (lines 1-8); ``fn(record)`` edits line ``line``."""
    def damage(p, root):
        out = csv_to_jsonl(p)
        edits.edit_jsonl(out, line, fn)
    return _rt(damage, glob="**/*.jsonl")


def _rt_typo_first_line(p, root):
    set_cell(p, 2, "x", edits.get_field(p, 2, 2, ",").replace(".", ".x", 1))


def _rt_all_but_one_nonfinite(p, root):
    for line in range(3, RT_ROWS + 2):
        set_cell(p, line, "t_ms", "nan")


def _cam2base(m):
    return {"cam2base": m}


_MIRRORED = [[-1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
_BOTTOM = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.5, 0.0, 1.0]]


def _rt_two_runs_one_damaged(p, root):
    """A second run ``b`` (6 rows, its own video) whose 3rd row has a NaN position: run ``a`` stays clean."""
    from tests.test_sources_manipulation import make_table

    make_table(root, {"a": 8, "b": 6})
    set_cell(p, 12, "x", "NaN")  # run b starts on line 10


ROBOT_TABLE = [
    # 1. frame index
    Case(f"{RT}/frame_column_negative_first_row", 1, RT, _rt_frames(2, -1), Blamed("frame_index_invalid", at=("arm.csv", 2))),
    Case(f"{RT}/frame_column_fractional", 1, RT, _rt_frames(6, 9.7), Blamed("frame_index_invalid", at=("arm.csv", 6))),
    Case(f"{RT}/frame_column_nan", 1, RT, _rt_frames(4, "nan"), Blamed("frame_index_invalid", at=("arm.csv", 4))),
    Case(f"{RT}/frame_column_empty_cell", 1, RT, _rt_frames(7, ""), Blamed("frame_index_invalid", at=("arm.csv", 7))),
    Case(f"{RT}/frame_column_past_the_video", 1, RT, _rt_frames(5, 8), Blamed("video_short", at=("a.mp4", 5))),
    # 2. structural damage
    Case(f"{RT}/empty_file", 2, RT, _rt(lambda p, root: p.write_text("")), Fails("arm.csv")),
    Case(f"{RT}/header_only", 2, RT, _rt(lambda p, root: p.write_text(edits.lines(p)[0] + "\n")),
         Fails("arm.csv")),
    Case(f"{RT}/declared_column_missing_from_file", 2, RT, _rt(lambda p, root: drop_column(p, "grip_mm")), Fails("'grip_mm'")),
    Case(f"{RT}/episode_column_missing_from_file", 2, RT, _rt(lambda p, root: drop_column(p, "run")), Fails("'run'")),
    Case(f"{RT}/corrupt_parquet", 2, RT,
         _rt(lambda p, root: (csv_to_parquet(p).write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1"))), Fails("arm.parquet")),
    Case(f"{RT}/video_missing", 2, RT, _rt(lambda p, root: (root / ARM_VIDEO).unlink()), Blamed("video_missing", n=RT_ROWS)),
    Case(f"{RT}/video_unreadable", 2, RT, _rt(lambda p, root: _garbage(root / ARM_VIDEO)), Blamed("video_unreadable", n=RT_ROWS)),
    # 3. real files as written
    Case(f"{RT}/six_decimals", 3, RT, _rt(lambda p, root: edits.round_floats(p)), Clean(rows=RT_ROWS)),
    Case(f"{RT}/float32_text", 3, RT, _rt(lambda p, root: edits.float32_floats(p)), Clean(rows=RT_ROWS)),
    Case(f"{RT}/float32_parquet", 3, RT, _rt_parquet(float32=True), Clean(rows=RT_ROWS)),
    # 4. no row vanishes
    Case(f"{RT}/bom", 4, RT, _rt(lambda p, root: edits.add_bom(p)), Clean(rows=RT_ROWS)),
    Case(f"{RT}/first_data_line_typo", 4, RT, _rt(_rt_typo_first_line), Blamed("malformed_line", at=("arm.csv", 2))),
    Case(f"{RT}/comment_and_blank_lines", 4, RT,
         _rt(lambda p, root: p.write_text("# exported by arm_logger 2.1\n\n" + p.read_text())), Clean(rows=RT_ROWS)),
    # 5. only the damaged row is blamed
    Case(f"{RT}/timestamp_1000s_in_the_future", 5, RT, _rt(lambda p, root: set_cell(p, 5, "t_ms", 1300.0 + 1e6)),
         Blamed("timestamp_outlier", at=("arm.csv", 5))),
    Case(f"{RT}/frame_column_negative_middle", 5, RT, _rt_frames(5, -1), Blamed("frame_index_invalid", at=("arm.csv", 5))),
    Case(f"{RT}/nan_position_middle", 5, RT, _rt_cell(6, "y", "nan"), Blamed("nan_pose", at=("arm.csv", 6))),
    Case(f"{RT}/other_run_untouched", 5, RT, _rt(_rt_two_runs_one_damaged), Blamed("nan_pose", at=("arm.csv", 12))),
    # 6. bad values
    Case(f"{RT}/gripper_minus_5_m", 6, RT, _rt_cell(4, "grip_mm", -5000.0), Blamed("gripper_out_of_range", at=("arm.csv", 4))),
    Case(f"{RT}/gripper_above_declared_max", 6, RT, _rt_cell(7, "grip_mm", 95.0, gripper_max_m=0.09),
         Blamed("gripper_out_of_range", at=("arm.csv", 7))),
    Case(f"{RT}/gripper_metres_read_as_mm_max", 6, RT, _rt_cell(3, "grip_mm", 900.0),
         Blamed("gripper_out_of_range", at=("arm.csv", 3))),
    Case(f"{RT}/bool_gripper_column_parquet", 6, RT,
         _rt_parquet("grip_mm", pa.array([i % 2 == 0 for i in range(RT_ROWS)])),
         Blamed("value_type_invalid", n=RT_ROWS)),  # a bool column is never 1.0: every row is refused
    Case(f"{RT}/string_column_parquet", 6, RT, _rt_parquet("x", pa.array([f"{0.1 * i:.3f}" for i in range(RT_ROWS)])),
         Blamed("value_type_invalid", n=RT_ROWS)),  # numbers written as text are refused, not parsed
    Case(f"{RT}/bool_cell_jsonl", 6, RT, _rt_jsonl(3, lambda r: r.__setitem__("grip_mm", True)),
         Blamed("value_type_invalid", at=("arm.jsonl", 3))),
    Case(f"{RT}/string_cell_jsonl", 6, RT, _rt_jsonl(6, lambda r: r.__setitem__("x", "0.12")),
         Blamed("value_type_invalid", at=("arm.jsonl", 6))),
    Case(f"{RT}/bool_text_in_csv", 6, RT, _rt_cell(8, "grip_mm", "True"), Blamed("malformed_line", at=("arm.csv", 8))),
    Case(f"{RT}/zero_quaternion", 6, RT,
         _rt(lambda p, root: [set_cell(p, 4, c, 0.0) for c in ("qw", "qx", "qy", "qz")]),
         Blamed("quat_not_unit", at=("arm.csv", 4))),
    Case(f"{RT}/cam2base_mirrored", 6, RT, damaged(RT, cam2base=_MIRRORED), Fails("cam2base")),
    Case(f"{RT}/cam2base_bottom_row", 6, RT, damaged(RT, cam2base=_BOTTOM), Fails("bottom row")),
    # 9. messages
    Case(f"{RT}/nan_timestamp", 9, RT, _rt_cell(5, "t_ms", "nan"), Blamed("timestamp_nonfinite", at=("arm.csv", 5))),
    Case(f"{RT}/inf_timestamp", 9, RT, _rt_cell(8, "t_ms", "inf"), Blamed("timestamp_nonfinite", at=("arm.csv", 8))),
    Case(f"{RT}/empty_timestamp", 9, RT, _rt_cell(3, "t_ms", ""), Blamed("malformed_line", at=("arm.csv", 3))),
    Case(f"{RT}/extra_field", 9, RT, _rt(lambda p, root: edits.set_line(p, 6, edits.lines(p)[5] + ",0.5")),
         Blamed("malformed_line", at=("arm.csv", 6))),
    Case(f"{RT}/missing_field", 9, RT, _rt(lambda p, root: edits.keep_fields(p, 7, 9, ",")),
         Blamed("malformed_line", at=("arm.csv", 7))),
    # 7 of 8 timestamps NaN: each is named, and the one healthy row left is episode_unusable.
    Case(f"{RT}/all_but_one_row_bad", 9, RT, _rt(_rt_all_but_one_nonfinite),
         Codes(frozenset({"timestamp_nonfinite", "episode_unusable"}))),
    # 8. links in a media template
    Case(f"{RT}/video_template_absolute", 8, RT, damaged(RT, video="/tmp/videos/{episode}.mp4"),
         Blamed("path_escapes_root", n=RT_ROWS)),
    Case(f"{RT}/video_column_one_row_escapes", 8, RT,
         _rt(lambda p, root: (add_column(p, "clip", ["videos/a.mp4"] * RT_ROWS), set_cell(p, 4, "clip", "../../../a.mp4")),
             video=None, video_column="clip"),
         Blamed("path_escapes_root", at=("arm.csv", 4))),
]


# ---------------------------------------------------------------------- sim_pose_table ---

SP = "sim_pose_table"
EP0 = "town01/ep0.csv"
SP_ROWS = 10  # data lines 2..11
POSES = "scene_a/poses.jsonl"
HAB_ROWS = 8  # records on lines 1..8


def _sp(fn, **options):
    return damaged(SP, lambda root, path: fn(root / EP0, root), **options)


def _sp_cell(line: int, column: str, value, **options):
    return _sp(lambda p, root: set_cell(p, line, column, value), **options)


def _habitat(fn=None):
    """The Habitat JSONL variant (no media); ``fn(poses path)`` damages it."""
    def build(root: Path, world: Path):
        from tests.test_sources_manipulation import HABITAT_OPTIONS, make_habitat

        make_habitat(root)
        if fn is not None:
            fn(root / POSES)
        return root, dict(HABITAT_OPTIONS)
    return build


def _hab(line: int, fn):
    return _habitat(lambda p: edits.edit_jsonl(p, line, fn))


def _sp_typo_first_line(p, root):
    set_cell(p, 2, "yaw", edits.get_field(p, 2, 5, ",").replace(".", "..", 1))


def _sp_every_pitch(value):
    def fn(p, root):
        for line in range(2, SP_ROWS + 2):
            set_cell(p, line, "pitch", value)
    return fn


def _set_path(rec, dotted: str, value):
    *parents, last = dotted.split(".")
    for k in parents:
        rec = rec[k]
    if "[" in last:
        name, i = last[:-1].split("[")
        rec[name][int(i)] = value
    else:
        rec[last] = value


SIM_POSE_TABLE = [
    # 1. frame index
    Case(f"{SP}/frame_negative_first_row", 1, SP, _sp_cell(2, "frame", -1), Blamed("frame_index_invalid", at=("ep0.csv", 2))),
    Case(f"{SP}/frame_fractional", 1, SP, _sp_cell(8, "frame", 9.7), Blamed("frame_index_invalid", at=("ep0.csv", 8))),
    Case(f"{SP}/frame_nan", 1, SP, _sp_cell(4, "frame", "NaN"), Blamed("frame_index_invalid", at=("ep0.csv", 4))),
    Case(f"{SP}/frame_empty", 1, SP, _sp_cell(9, "frame", ""), Blamed("frame_index_invalid", at=("ep0.csv", 9))),
    Case(f"{SP}/frame_past_the_video", 1, SP, _sp_cell(7, "frame", 10), Blamed("video_short", at=("ep0.mp4", 7))),
    Case(f"{SP}/video_shorter_than_the_table", 1, SP, _sp(lambda p, root: _video(root / "town01/ep0.mp4", 7)),
         Blamed("video_short", n=3, at=("ep0.mp4", 9))),
    # 2. structural damage
    Case(f"{SP}/empty_file", 2, SP, _sp(lambda p, root: p.write_text("")), Fails("ep0.csv")),
    Case(f"{SP}/header_only", 2, SP, _sp(lambda p, root: p.write_text(edits.lines(p)[0] + "\n")), Fails("ep0.csv")),
    Case(f"{SP}/object_column_missing_from_file", 2, SP, _sp(lambda p, root: drop_column(p, "car_yaw")), Fails("'car_yaw'")),
    Case(f"{SP}/frame_column_missing_from_file", 2, SP, _sp(lambda p, root: drop_column(p, "frame")), Fails("'frame'")),
    Case(f"{SP}/video_missing", 2, SP, _sp(lambda p, root: (root / "town01/ep0.mp4").unlink()), Blamed("video_missing", n=SP_ROWS)),
    Case(f"{SP}/video_unreadable", 2, SP, _sp(lambda p, root: _garbage(root / "town01/ep0.mp4")),
         Blamed("video_unreadable", n=SP_ROWS)),
    Case(f"{SP}/habitat_empty_file", 2, SP, _habitat(lambda p: p.write_text("")), Fails("poses.jsonl")),
    Case(f"{SP}/habitat_key_missing_everywhere", 2, SP,
         _habitat(lambda p: p.write_text("".join(json.dumps({k: v for k, v in json.loads(x).items() if k != "objects"}) + "\n"
                                                 for x in edits.lines(p) if x))),
         Fails("objects.chair.position[0]")),
    # 3. real files as written
    Case(f"{SP}/six_decimals", 3, SP, _sp(lambda p, root: edits.round_floats(p)), Clean(rows=SP_ROWS)),
    Case(f"{SP}/float32", 3, SP, _sp(lambda p, root: edits.float32_floats(p)), Clean(rows=SP_ROWS)),
    Case(f"{SP}/habitat_six_decimals", 3, SP, _habitat(edits.round_floats), Clean(rows=HAB_ROWS)),
    Case(f"{SP}/habitat_float32", 3, SP, _habitat(edits.float32_floats), Clean(rows=HAB_ROWS)),
    # 4. no row vanishes
    Case(f"{SP}/bom", 4, SP, _sp(lambda p, root: edits.add_bom(p)), Clean(rows=SP_ROWS)),
    Case(f"{SP}/habitat_bom", 4, SP, _habitat(edits.add_bom), Clean(rows=HAB_ROWS)),
    Case(f"{SP}/first_data_line_typo", 4, SP, _sp(_sp_typo_first_line), Blamed("malformed_line", at=("ep0.csv", 2))),
    Case(f"{SP}/habitat_first_line_typo", 4, SP,
         _habitat(lambda p: edits.set_line(p, 1, edits.lines(p)[0].replace('"t": 0.0', '"t": 0.0.0'))),
         Blamed("malformed_line", at=("poses.jsonl", 1))),
    # 5. only the damaged row is blamed
    Case(f"{SP}/timestamp_1000s_in_the_future", 5, SP, _sp_cell(6, "timestamp_s", 0.2 + 1000.0),
         Blamed("timestamp_outlier", at=("ep0.csv", 6))),
    Case(f"{SP}/frame_negative_middle", 5, SP, _sp_cell(6, "frame", -1), Blamed("frame_index_invalid", at=("ep0.csv", 6))),
    Case(f"{SP}/nan_object_position", 5, SP, _sp_cell(5, "car_y", "nan"), Blamed("nan_pose", at=("ep0.csv", 5))),
    Case(f"{SP}/habitat_timestamp_1000s_in_the_future", 5, SP, _hab(4, lambda r: r.__setitem__("t", r["t"] + 1000.0)),
         Blamed("timestamp_outlier", at=("poses.jsonl", 4))),
    # 6. bad values
    Case(f"{SP}/habitat_object_quaternion_norm_2", 6, SP,
         _hab(5, lambda r: r["objects"]["chair"].__setitem__("rotation", [2.0, 0.0, 0.0, 0.0])),
         Blamed("quat_not_unit", at=("poses.jsonl", 5))),
    Case(f"{SP}/habitat_zero_quaternion", 6, SP, _hab(3, lambda r: r["cam"].__setitem__("rotation", [0.0, 0.0, 0.0, 0.0])),
         Blamed("quat_not_unit", at=("poses.jsonl", 3))),
    Case(f"{SP}/habitat_bool_position", 6, SP, _hab(6, lambda r: _set_path(r, "cam.position[1]", True)),
         Blamed("value_type_invalid", at=("poses.jsonl", 6))),
    Case(f"{SP}/habitat_string_timestamp", 6, SP, _hab(2, lambda r: r.__setitem__("t", "0.2")),
         Blamed("value_type_invalid", at=("poses.jsonl", 2))),
    Case(f"{SP}/bool_text_in_csv", 6, SP, _sp_cell(3, "car_x", "True"), Blamed("malformed_line", at=("ep0.csv", 3))),
    # 9. messages
    Case(f"{SP}/nan_timestamp", 9, SP, _sp_cell(4, "timestamp_s", "nan"), Blamed("timestamp_nonfinite", at=("ep0.csv", 4))),
    Case(f"{SP}/inf_timestamp", 9, SP, _sp_cell(10, "timestamp_s", "inf"), Blamed("timestamp_nonfinite", at=("ep0.csv", 10))),
    Case(f"{SP}/missing_field", 9, SP, _sp(lambda p, root: edits.keep_fields(p, 5, 12, ",")),
         Blamed("malformed_line", at=("ep0.csv", 5))),
    Case(f"{SP}/habitat_rotation_with_3_values", 9, SP, _hab(7, lambda r: r["cam"].__setitem__("rotation", r["cam"]["rotation"][:3])),
         Blamed("pose_malformed", at=("poses.jsonl", 7))),
    Case(f"{SP}/habitat_null_timestamp", 9, SP, _hab(5, lambda r: r.__setitem__("t", None)),
         Blamed("malformed_line", at=("poses.jsonl", 5))),
    Case(f"{SP}/every_row_nan", 9, SP, _sp(_sp_every_pitch("nan")), Blamed("nan_pose", n=SP_ROWS)),
    # 8. links in a media template
    Case(f"{SP}/video_template_absolute", 8, SP, damaged(SP, video="/tmp/{stem}.mp4"), Blamed("path_escapes_root", n=SP_ROWS)),
]


# --------------------------------------------------------------------- remot_sim_jsonl ---

SIM = "remot_sim_jsonl"
LOG = "sim_000/log.jsonl"
SIM_ROWS = 16  # frames 0..15 on lines 2..17


def _sim(fn):
    """A copy of the world's simulation log; ``fn(log path, root)`` damages it."""
    return damaged(SIM, lambda root, path: fn(root / LOG, root))


def _frame(line: int, fn):
    """``fn(frame record)`` edits the record on ``line``."""
    return _sim(lambda p, root: edits.edit_jsonl(p, line, fn))


def _set(key, value):
    return lambda r: r.__setitem__(key, value)


def _object(k: int, fn):
    def edit(r):
        r["objects"][k]["obj2world"] = _matrix_edit(fn)(r["objects"][k]["obj2world"])
    return edit


def _cam(fn):
    def edit(r):
        r["cam2world"] = _matrix_edit(fn)(r["cam2world"])
    return edit


def _header(fn):
    return _sim(lambda p, root: edits.edit_jsonl(p, 1, fn))


def _sim_every_frame_but_one(p, root):
    for line in range(3, SIM_ROWS + 2):
        edits.edit_jsonl(p, line, lambda r: r["cam2world"].__setitem__(3, math.nan))


REMOT_SIM_JSONL = [
    # 1. frame index
    Case(f"{SIM}/frame_index_negative_first_frame", 1, SIM, _frame(2, _set("frame_index", -1)),
         Blamed("frame_index_invalid", at=("log.jsonl", 2))),
    Case(f"{SIM}/frame_index_9_7", 1, SIM, _frame(11, _set("frame_index", 9.7)), Blamed("frame_index_invalid", at=("log.jsonl", 11))),
    Case(f"{SIM}/frame_index_nan", 1, SIM, _frame(7, _set("frame_index", math.nan)), Blamed("frame_index_invalid", at=("log.jsonl", 7))),
    Case(f"{SIM}/frame_index_past_the_video", 1, SIM, _frame(9, _set("frame_index", SIM_ROWS)),
         Blamed("video_short", at=("video.mp4", 9))),
    Case(f"{SIM}/video_shorter_than_the_log", 1, SIM, _sim(lambda p, root: _video(root / "sim_000/video.mp4", 12)),
         Blamed("video_short", n=4, at=("video.mp4", 14))),
    # 2. structural damage
    Case(f"{SIM}/empty_log", 2, SIM, _sim(lambda p, root: p.write_text("")), Fails("log.jsonl")),
    Case(f"{SIM}/header_only", 2, SIM, _sim(lambda p, root: p.write_text(edits.lines(p)[0] + "\n")), Fails("log.jsonl")),
    Case(f"{SIM}/header_is_a_list", 2, SIM, _sim(lambda p, root: edits.set_line(p, 1, "[1, 2, 3]")), Fails("no header line")),
    Case(f"{SIM}/header_fps_text", 2, SIM, _header(_set("fps", "fifteen")), Fails("header fps")),
    Case(f"{SIM}/header_intrinsics_a_list", 2, SIM, _header(_set("intrinsics", [204.8, 204.8, 128, 96])),
         Fails("header intrinsics")),
    Case(f"{SIM}/video_missing", 2, SIM, _sim(lambda p, root: (root / "sim_000/video.mp4").unlink()),
         Blamed("video_missing", n=SIM_ROWS)),
    Case(f"{SIM}/video_unreadable", 2, SIM, _sim(lambda p, root: _garbage(root / "sim_000/video.mp4")),
         Blamed("video_unreadable", n=SIM_ROWS)),
    # 3. real files as written
    Case(f"{SIM}/six_decimals", 3, SIM, _sim(lambda p, root: edits.round_floats(p)), Clean(rows=SIM_ROWS)),
    Case(f"{SIM}/float32", 3, SIM, _sim(lambda p, root: edits.float32_floats(p)), Clean(rows=SIM_ROWS)),
    # 4. no row vanishes
    Case(f"{SIM}/bom", 4, SIM, _sim(lambda p, root: edits.add_bom(p)), Clean(rows=SIM_ROWS)),
    Case(f"{SIM}/first_frame_line_typo", 4, SIM,
         _sim(lambda p, root: edits.set_line(p, 2, edits.lines(p)[1].replace('"timestamp_s": 0.0', '"timestamp_s": 0.0.0'))),
         Blamed("malformed_line", at=("log.jsonl", 2))),
    Case(f"{SIM}/first_frame_without_type", 4, SIM, _frame(2, lambda r: r.pop("type")), Blamed("malformed_line", at=("log.jsonl", 2))),
    # 5. only the damaged row is blamed
    Case(f"{SIM}/timestamp_1000s_in_the_future", 5, SIM, _frame(8, lambda r: r.__setitem__("timestamp_s", r["timestamp_s"] + 1000.0)),
         Blamed("timestamp_outlier", at=("log.jsonl", 8))),
    Case(f"{SIM}/frame_index_negative_middle", 5, SIM, _frame(10, _set("frame_index", -1)),
         Blamed("frame_index_invalid", at=("log.jsonl", 10))),
    Case(f"{SIM}/nan_in_cam2world", 5, SIM, _frame(12, lambda r: r["cam2world"].__setitem__(5, math.nan)),
         Blamed("nan_pose", at=("log.jsonl", 12))),
    Case(f"{SIM}/nan_in_an_object_pose", 5, SIM, _frame(6, lambda r: r["objects"][2]["obj2world"].__setitem__(7, math.nan)),
         Blamed("nan_pose", at=("log.jsonl", 6))),
    # 6. bad values
    Case(f"{SIM}/object_det_minus_one", 6, SIM, _frame(5, _object(0, _mirror)), Blamed("rotation_not_orthonormal", at=("log.jsonl", 5))),
    Case(f"{SIM}/object_scaled_rotation", 6, SIM, _frame(13, _object(1, _scale)),
         Blamed("rotation_not_orthonormal", at=("log.jsonl", 13))),
    Case(f"{SIM}/object_bottom_row", 6, SIM, _frame(4, _object(2, _bottom)), Blamed("pose_not_se3", at=("log.jsonl", 4))),
    Case(f"{SIM}/cam2world_det_minus_one", 6, SIM, _frame(15, _cam(_mirror)), Blamed("rotation_not_orthonormal", at=("log.jsonl", 15))),
    Case(f"{SIM}/cam2world_bottom_row", 6, SIM, _frame(3, _cam(_bottom)), Blamed("pose_not_se3", at=("log.jsonl", 3))),
    Case(f"{SIM}/bool_frame_index", 6, SIM, _frame(9, _set("frame_index", True)), Blamed("value_type_invalid", at=("log.jsonl", 9))),
    Case(f"{SIM}/string_timestamp", 6, SIM, _frame(14, _set("timestamp_s", "0.8")), Blamed("value_type_invalid", at=("log.jsonl", 14))),
    Case(f"{SIM}/bool_in_object_pose", 6, SIM, _frame(16, lambda r: r["objects"][0]["obj2world"].__setitem__(0, True)),
         Blamed("value_type_invalid", at=("log.jsonl", 16))),
    # 9. messages
    Case(f"{SIM}/nan_timestamp", 9, SIM, _frame(6, _set("timestamp_s", math.nan)), Blamed("timestamp_nonfinite", at=("log.jsonl", 6))),
    Case(f"{SIM}/inf_timestamp", 9, SIM, _frame(17, _set("timestamp_s", math.inf)), Blamed("timestamp_nonfinite", at=("log.jsonl", 17))),
    Case(f"{SIM}/cam2world_9_values", 9, SIM, _frame(7, lambda r: r.__setitem__("cam2world", r["cam2world"][:9])),
         Blamed("pose_malformed", at=("log.jsonl", 7))),
    Case(f"{SIM}/obj2world_12_values", 9, SIM, _frame(8, lambda r: r["objects"][1].__setitem__("obj2world", r["objects"][1]["obj2world"][:12])),
         Blamed("pose_malformed", at=("log.jsonl", 8))),
    Case(f"{SIM}/record_type_typo", 9, SIM, _frame(12, _set("type", "frmae")), Blamed("malformed_line", at=("log.jsonl", 12))),
    # 15 of 16 frames with a NaN pose: each named, and the last healthy one is episode_unusable.
    Case(f"{SIM}/all_but_one_frame_bad", 9, SIM, _sim(_sim_every_frame_but_one), Codes(frozenset({"nan_pose", "episode_unusable"}))),
    # 8. links in the header's media path
    Case(f"{SIM}/header_video_absolute", 8, SIM, _header(_set("video", "/tmp/video.mp4")), Blamed("path_escapes_root", n=SIM_ROWS)),
    Case(f"{SIM}/header_video_up_and_out", 8, SIM, _header(_set("video", "../../sim_000/video.mp4")),
         Blamed("path_escapes_root", n=SIM_ROWS)),
]


CASES: list[Case] = ROBOT_TABLE + SIM_POSE_TABLE + REMOT_SIM_JSONL

NOT_APPLICABLE: dict[tuple[str, int], str] = {}
