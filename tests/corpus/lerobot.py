"""Malformed-input corpus: LeRobot v3.0 (``lerobot_v3``), LeRobot v2.1 (``lerobot_v21``) and UMI
(LeRobot v1, ``umi_v1``).

Healthy sources (``tests.corpus.healthy``):

* ``lerobot_v3``: a copy of the synthetic world's manipulation folder, the dataset ``synthetic_arm/``
  with one episode of 16 rows in ``data/chunk-000/file-000.parquet`` (a row's locator is its
  1-based row in that file), ``meta/episodes/chunk-000/file-000.parquet`` and one mp4 of 16 frames;
  ``info.json`` carries a ``cam2base``.
* ``lerobot_v21``: ``make_v21(root, {0: 8, 1: 6})``: episodes 0 (8 rows,
  ``data/chunk-000/episode_000000.parquet``) and 1 (6 rows, ``data/chunk-001/episode_000001.parquet``),
  ``meta/episodes.jsonl``, one mp4 per episode; no ``cam2base``.
* ``umi_v1``: ``make_umi(root)`` read as CSV: ``episode_000000_flat.csv`` (header on line 1, 12
  rows on lines 2-13), ``meta_data/info.json`` (fps 10) and a 12-frame mp4.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.spatial.transform import Rotation

from tests.corpus import Blamed, Case, Clean, Codes, Fails, damaged, edits

V3, V21, UMI = "lerobot_v3", "lerobot_v21", "umi_v1"
ARM = "synthetic_arm"
V3_ROWS, V21_ROWS, UMI_ROWS = 16, 14, 12
V3_DATA = "file-000.parquet"
V21_EP0, V21_EP1 = "episode_000000.parquet", "episode_000001.parquet"
UMI_CSV = "_flat.csv"
STATE = "observation.state"


# ------------------------------------------------------------------------------ helpers ---

def v3_ds(root: Path) -> Path:
    return root / ARM


def v3_data(root: Path) -> Path:
    return v3_ds(root) / "data" / "chunk-000" / "file-000.parquet"


def v3_episodes(root: Path) -> Path:
    return v3_ds(root) / "meta" / "episodes" / "chunk-000" / "file-000.parquet"


def v3_info(root: Path) -> Path:
    return v3_ds(root) / "meta" / "info.json"


def v21_data(root: Path, ep: int = 0) -> Path:
    return root / "data" / f"chunk-{ep:03d}" / f"episode_{ep:06d}.parquet"


def v21_video(root: Path, ep: int = 0) -> Path:
    return root / "videos" / f"chunk-{ep:03d}" / "observation.images.top" / f"episode_{ep:06d}.mp4"


def umi_csv(root: Path) -> Path:
    return root / "episode_000000_flat.csv"


def umi_col(name: str) -> int:
    from tests.test_sources_manipulation import UMI_HEADER
    return UMI_HEADER.index(name)


def set_columns(file, fn_cols):
    """``fn_cols({name: list})`` edits the Parquet file ``file(root)`` in place (:func:`edits.edit_parquet`)."""
    def fn(root, path):
        edits.edit_parquet(file(root), fn_cols)
    return fn


def cell(file, column: str, row: int, value):
    """Set ``column`` of the 0-based ``row`` of a Parquet file."""
    def edit(cols):
        cols[column][row] = value
    return set_columns(file, edit)


def column(file, column: str, values):
    """Replace a whole Parquet column: ``values(old list)`` -> new list (None drops the column)."""
    def edit(cols):
        new = values(cols[column])
        if new is None:
            del cols[column]
        else:
            cols[column] = new
    return set_columns(file, edit)


def state_value(file, row: int, j: int, value):
    """Set element ``j`` of ``observation.state`` on the 0-based ``row``."""
    def edit(cols):
        s = list(cols[STATE][row])
        s[j] = value
        cols[STATE][row] = s
    return set_columns(file, edit)


def state_column(file, fn_rows):
    """Rewrite ``observation.state`` as a variable-length float list column: ``fn_rows(list of lists)``."""
    def fn(root, path):
        t = pq.read_table(file(root))
        rows = [list(r) if r is not None else None for r in t.column(STATE).to_pylist()]
        rows = fn_rows(rows)
        i = t.column_names.index(STATE)
        t = t.set_column(i, STATE, pa.array(rows, pa.list_(pa.float32())))
        pq.write_table(t, file(root))
    return fn


def retype(file, name: str, typ):
    """Cast a Parquet column to ``typ`` (e.g. float64 state, float64 timestamps)."""
    def fn(root, path):
        t = pq.read_table(file(root))
        i = t.column_names.index(name)
        pq.write_table(t.set_column(i, name, t.column(name).cast(typ)), file(root))
    return fn


def json_edit(file, fn_doc):
    """``fn_doc(doc)`` edits a JSON file's document in place (its return value is ignored)."""
    def fn(root, path):
        edits.edit_json(file(root), lambda doc: (fn_doc(doc), None)[1])
    return fn


def json_replace(file, fn_doc):
    """The JSON file's document replaced by ``fn_doc(doc)``."""
    def fn(root, path):
        edits.edit_json(file(root), fn_doc)
    return fn


def write_bytes(file, data: bytes):
    def fn(root, path):
        file(root).write_bytes(data)
    return fn


def truncate(file, keep: float = 0.5):
    def fn(root, path):
        data = file(root).read_bytes()
        file(root).write_bytes(data[: int(len(data) * keep)])
    return fn


def unlink(file):
    def fn(root, path):
        file(root).unlink()
    return fn


def empty_table(file):
    """The same schema, no row (a file written before any frame was recorded)."""
    def fn(root, path):
        t = pq.read_table(file(root))
        pq.write_table(t.slice(0, 0), file(root))
    return fn


def shorter_video(file, frames: int, fps: float, w: int, h: int):
    def fn(root, path):
        from tests.test_sources_manipulation import write_video
        file(root).unlink()
        write_video(file(root), frames, fps, w, h)
    return fn


def both(*fns):
    def fn(root, path):
        for f in fns:
            f(root, path)
    return fn


def rot_mat(det: float = 1.0, scale: float = 1.0, bottom=(0.0, 0.0, 0.0, 1.0), seed: int = 4) -> list[list[float]]:
    """A 4x4 camera pose: a random rotation (mirrored when ``det`` < 0, scaled by ``scale``)."""
    m = np.eye(4)
    r = Rotation.random(random_state=seed).as_matrix() * scale
    if det < 0:
        r[:, 0] *= -1
    m[:3, :3] = r
    m[:3, 3] = [0.9, -0.1, 0.4]
    m[3] = bottom
    return m.tolist()


def v3_cam2base(m):
    def doc(info):
        info["remot"]["cameras"]["observation.images.front"]["cam2base"] = m
    return json_edit(v3_info, doc)


def v21_cam2base(m):
    def doc(info):
        info["remot"] = {"cameras": {"observation.images.top": {"cam2base": m}}}
    return json_edit(lambda root: root / "meta" / "info.json", doc)


def f32(m) -> list:
    return np.asarray(m, dtype=np.float32).astype(np.float64).tolist()


def r6(m) -> list:
    return np.round(np.asarray(m, dtype=np.float64), 6).tolist()


def umi_field(line: int, name: str, value):
    def fn(root, path):
        edits.set_field(umi_csv(root), line, umi_col(name), value, sep=",")
    return fn


def umi_arrow(table_fn):
    """A UMI source read from its Arrow table (``make_umi(arrow=True)``), damaged by ``table_fn(table)``."""
    def build(root: Path, world: Path):
        from tests.test_sources_manipulation import make_umi
        make_umi(root, arrow=True)
        arrow = root / "train" / "data-00000-of-00001.arrow"
        if table_fn is not None:
            t = table_fn(pa.ipc.open_stream(pa.BufferReader(arrow.read_bytes())).read_all())  # not mapped: rewritten
            with pa.ipc.new_stream(str(arrow), t.schema) as w:
                w.write_table(t)
        return root, {"table": "arrow"}
    return build


def arrow_set(name: str, fn_values):
    def fn(t: pa.Table) -> pa.Table:
        i = t.column_names.index(name)
        return t.set_column(i, name, fn_values(t.column(name)))
    return fn


def v21_info(root: Path) -> Path:
    return root / "meta" / "info.json"


def v21_episodes(root: Path) -> Path:
    return root / "meta" / "episodes.jsonl"


def append_line(file, text: str):
    def fn(root, path):
        p = file(root)
        p.write_text(p.read_text() + text + "\n")
    return fn


def gripper_all(file, value, rows: range):
    def edit(cols):
        for k in rows:
            s = list(cols[STATE][k])
            s[6] = value
            cols[STATE][k] = s
    return set_columns(file, edit)


# ---------------------------------------------------------------------------- lerobot_v3 ---

def _v3(cid: str, kind: int, damage, expect, **options) -> Case:
    return Case(f"{V3}/{cid}", kind, V3, damaged(V3, damage, **options), expect)


V3_CASES = [
    # 1. frame index
    _v3("frame_index_minus_1_first_row", 1, cell(v3_data, "frame_index", 0, -1),
        Blamed("frame_index_invalid", at=(V3_DATA, 1))),
    _v3("frame_index_9_7", 1, cell(v3_data, "frame_index", 9, 9.7), Blamed("frame_index_invalid", at=(V3_DATA, 10))),
    _v3("frame_index_nan", 1, cell(v3_data, "frame_index", 4, float("nan")), Blamed("frame_index_invalid", at=(V3_DATA, 5))),
    _v3("frame_index_past_the_video_segment", 1, cell(v3_data, "frame_index", 15, 99),
        Blamed("frame_index_invalid", at=(V3_DATA, 16))),
    _v3("frame_index_repeated", 1, cell(v3_data, "frame_index", 7, 6), Blamed("frame_index_invalid", at=(V3_DATA, 8))),
    # the episodes table declares 16 frames; the mp4 holds 10: the last 6 rows have no picture
    _v3("video_shorter_than_metadata", 1,
        shorter_video(lambda r: v3_ds(r) / "videos/observation.images.front/chunk-000/file-000.mp4", 10, 15, 256, 192),
        Blamed("video_short", n=6)),
    # 2. structural damage
    _v3("info_without_data_path", 2, json_edit(v3_info, lambda d: d.pop("data_path")), Fails("no 'data_path' template")),
    _v3("info_without_fps", 2, json_edit(v3_info, lambda d: d.pop("fps")), Fails("fps None is missing")),
    _v3("info_fps_is_text", 2, json_edit(v3_info, lambda d: d.__setitem__("fps", "15")), Fails("not a positive number")),
    _v3("info_is_a_list", 2, json_replace(v3_info, lambda d: [d]), Fails("holds a JSON list, not an object")),
    _v3("info_truncated_json", 2, truncate(v3_info), Fails("invalid JSON")),
    _v3("info_without_features", 2, json_edit(v3_info, lambda d: d.pop("features")), Fails("no 'features' object")),
    _v3("data_template_unknown_field", 2,
        json_edit(v3_info, lambda d: d.__setitem__("data_path", "data/chunk-{episode_chunk:03d}/file-{file_index:03d}.parquet")),
        Fails("data_path template")),
    _v3("no_state_column", 2, column(v3_data, STATE, lambda v: None), Fails("no 'observation.state' column")),
    _v3("no_timestamp_column", 2, column(v3_data, "timestamp", lambda v: None), Fails("no 'timestamp' column")),
    _v3("state_narrower_than_mapping", 2, column(v3_data, STATE, lambda v: [s[:5] for s in v]),
        Fails("observation.state holds 5 values but ee_rotvec_base_rad maps index 5")),
    _v3("state_mapping_past_the_state", 2, None, Fails("maps index 9"),
        state_mapping={"ee_pos_base_m": [0, 1, 2], "gripper_width_m": 9}),
    _v3("episode_index_is_float", 2, retype(v3_data, "episode_index", pa.float64()),
        Fails("episode_index is double, not an integer column")),
    # an episode listed in meta/episodes whose rows are not in the data file: its 16 declared rows
    _v3("episode_listed_without_rows", 2, column(v3_data, "episode_index", lambda v: [7] * len(v)),
        Blamed("episode_unusable", n=V3_ROWS, at=(V3_DATA, 1))),
    _v3("data_file_without_rows", 2, empty_table(v3_data), Blamed("episode_unusable", n=V3_ROWS)),
    _v3("data_parquet_corrupt", 2, write_bytes(v3_data, b"PAR1 this is not a parquet file PAR1"),
        Blamed("data_file_unreadable", n=V3_ROWS, at=(V3_DATA, 1))),
    _v3("data_parquet_truncated", 2, truncate(v3_data), Blamed("data_file_unreadable", n=V3_ROWS)),
    _v3("data_parquet_missing", 2, unlink(v3_data), Blamed("data_file_missing", n=V3_ROWS)),
    _v3("episodes_parquet_corrupt", 2, write_bytes(v3_episodes, b"not parquet at all"), Fails("episodes metadata")),
    _v3("episodes_parquet_missing", 2, unlink(v3_episodes), Fails("no episode metadata parquet")),
    _v3("episode_index_negative_in_metadata", 2, column(v3_episodes, "episode_index", lambda v: [-1] * len(v)),
        Fails("not an index >= 0")),
    _v3("declared_v21", 2, json_edit(v3_info, lambda d: d.__setitem__("codebase_version", "v2.1")),
        Fails("declare format lerobot_v21")),
    _v3("video_missing", 2, unlink(lambda r: v3_ds(r) / "videos/observation.images.front/chunk-000/file-000.mp4"),
        Blamed("video_missing", n=V3_ROWS)),
    # 3. real files as written: the camera pose at 6 decimals or float32, a float64 state
    _v3("cam2base_6_decimals", 3, v3_cam2base(r6(rot_mat())), Clean(rows=V3_ROWS)),
    _v3("cam2base_float32", 3, v3_cam2base(f32(rot_mat(seed=9))), Clean(rows=V3_ROWS)),
    _v3("info_rounded_to_6_decimals", 3, lambda root, path: edits.round_floats(v3_info(root)), Clean(rows=V3_ROWS)),
    _v3("state_float64_timestamps_float64", 3,
        both(retype(v3_data, STATE, pa.list_(pa.float64(), 7)), retype(v3_data, "timestamp", pa.float64())),
        Clean(rows=V3_ROWS)),
    # 4. no row vanishes
    _v3("info_with_bom", 4, lambda root, path: edits.add_bom(v3_info(root)), Clean(rows=V3_ROWS)),
    _v3("first_row_state_null", 4, cell(v3_data, STATE, 0, None), Blamed("pose_malformed", at=(V3_DATA, 1))),
    _v3("first_row_timestamp_null", 4, cell(v3_data, "timestamp", 0, None),
        Blamed("timestamp_nonfinite", at=(V3_DATA, 1))),
    # 5. only the damaged row
    _v3("one_timestamp_1000s_ahead", 5, cell(v3_data, "timestamp", 8, 1008.0),
        Blamed("timestamp_outlier", at=(V3_DATA, 9))),
    _v3("one_timestamp_1000s_behind", 5, cell(v3_data, "timestamp", 8, -1000.0),
        Blamed("timestamp_outlier", at=(V3_DATA, 9))),
    _v3("one_negative_frame_index_mid", 5, cell(v3_data, "frame_index", 8, -1),
        Blamed("frame_index_invalid", at=(V3_DATA, 9))),
    _v3("one_nan_in_ee_position", 5, state_value(v3_data, 8, 1, float("nan")), Blamed("nan_pose", at=(V3_DATA, 9))),
    _v3("one_nan_gripper", 5, state_value(v3_data, 8, 6, float("nan")), Blamed("nan_value", at=(V3_DATA, 9))),
    _v3("two_rows_swapped", 5,
        both(cell(v3_data, "timestamp", 5, 0.4), cell(v3_data, "timestamp", 6, 1 / 3)),
        Blamed("timestamp_unsorted", at=(V3_DATA, 7))),
    # 6. bad values
    _v3("gripper_minus_5m", 6, state_value(v3_data, 8, 6, -5.0), Blamed("gripper_out_of_range", at=(V3_DATA, 9))),
    _v3("gripper_above_default_max", 6, state_value(v3_data, 8, 6, 0.9), Blamed("gripper_out_of_range", at=(V3_DATA, 9))),
    _v3("gripper_above_declared_max", 6, None, Blamed("gripper_out_of_range", n=V3_ROWS), gripper_max_m=0.01),
    _v3("frame_index_bool_column", 6, column(v3_data, "frame_index", lambda v: [bool(x % 2) for x in v]),
        Blamed("value_type_invalid", n=V3_ROWS)),
    _v3("timestamp_text_column", 6, column(v3_data, "timestamp", lambda v: [str(x) for x in v]),
        Blamed("value_type_invalid", n=V3_ROWS)),
    _v3("state_bool_lists", 6, column(v3_data, STATE, lambda v: [[bool(x) for x in s] for s in v]),
        Blamed("value_type_invalid", n=V3_ROWS)),
    _v3("cam2base_det_minus_1", 6, v3_cam2base(rot_mat(det=-1)), Fails("cam2base: not a rigid pose")),
    _v3("cam2base_scaled", 6, v3_cam2base(rot_mat(scale=1.01)), Fails("cam2base: not a rigid pose")),
    _v3("cam2base_bottom_row", 6, v3_cam2base(rot_mat(bottom=(0.0, 0.0, 1.0, 1.0))), Fails("bottom row")),
    _v3("cam2base_3x4", 6, v3_cam2base(rot_mat()[:3]), Fails("is not a 4x4 pose")),
    # 8. a media template that leads out of the dataset
    _v3("video_template_escapes", 8,
        json_edit(v3_info, lambda d: d.__setitem__("video_path", "../../{video_key}/file-{file_index:03d}.mp4")),
        Blamed("path_escapes_root", n=V3_ROWS)),
    # 9. messages
    _v3("timestamp_nan", 9, cell(v3_data, "timestamp", 8, float("nan")), Blamed("timestamp_nonfinite", at=(V3_DATA, 9))),
    _v3("timestamp_inf", 9, cell(v3_data, "timestamp", 8, float("inf")), Blamed("timestamp_nonfinite", at=(V3_DATA, 9))),
    _v3("state_row_with_6_values", 9, state_column(v3_data, lambda rows: [r[:6] if i == 8 else r for i, r in enumerate(rows)]),
        Blamed("pose_malformed", at=(V3_DATA, 9))),
    _v3("state_row_with_9_values", 9,
        state_column(v3_data, lambda rows: [r + [0.0, 0.0] if i == 8 else r for i, r in enumerate(rows)]),
        Blamed("pose_malformed", at=(V3_DATA, 9))),
    _v3("every_gripper_minus_5m", 9, gripper_all(v3_data, -5.0, range(V3_ROWS)),
        Blamed("gripper_out_of_range", n=V3_ROWS)),
    # 15 rows bad: the one healthy row left is not a motion
    _v3("one_healthy_row_left", 9, gripper_all(v3_data, -5.0, range(1, V3_ROWS)),
        Codes(frozenset({"gripper_out_of_range", "episode_unusable"}))),
]


# --------------------------------------------------------------------------- lerobot_v21 ---

def _v21(cid: str, kind: int, damage, expect, **options) -> Case:
    return Case(f"{V21}/{cid}", kind, V21, damaged(V21, damage, **options), expect)


V21_CASES = [
    # 1. frame index (frames are located by timestamp; frame_index is validated all the same)
    _v21("frame_index_minus_1_first_row", 1, cell(v21_data, "frame_index", 0, -1),
         Blamed("frame_index_invalid", at=(V21_EP0, 1))),
    _v21("frame_index_9_7", 1, cell(v21_data, "frame_index", 5, 9.7), Blamed("frame_index_invalid", at=(V21_EP0, 6))),
    _v21("frame_index_nan", 1, cell(v21_data, "frame_index", 3, float("nan")), Blamed("frame_index_invalid", at=(V21_EP0, 4))),
    # episode 0 lists 8 frames; its mp4 holds 5
    _v21("video_shorter_than_episode", 1, shorter_video(v21_video, 5, 10, 64, 48), Blamed("video_short", n=3)),
    # 2. structural damage
    _v21("info_without_data_path", 2, json_edit(v21_info, lambda d: d.pop("data_path")), Fails("no 'data_path'")),
    _v21("info_without_fps", 2, json_edit(v21_info, lambda d: d.pop("fps")), Fails("fps None is missing")),
    _v21("info_is_a_list", 2, json_replace(v21_info, lambda d: [d]), Fails("holds a JSON list, not an object")),
    _v21("info_features_is_a_list", 2, json_edit(v21_info, lambda d: d.__setitem__("features", [])),
         Fails("features is a list")),
    _v21("no_state_column", 2,
         both(column(v21_data, STATE, lambda v: None), column(lambda r: v21_data(r, 1), STATE, lambda v: None)),
         Fails("no 'observation.state' column")),
    _v21("no_timestamp_column", 2, column(v21_data, "timestamp", lambda v: None), Fails("no 'timestamp' column")),
    _v21("state_narrower_than_mapping", 2, column(v21_data, STATE, lambda v: [s[:5] for s in v]),
         Fails("observation.state holds 5 values but ee_rotvec_base_rad maps index 5")),
    # an episode listed in episodes.jsonl without a parquet: its 5 declared rows
    _v21("episode_listed_without_parquet", 2,
         append_line(v21_episodes, json.dumps({"episode_index": 2, "tasks": ["pick"], "length": 5})),
         Blamed("data_file_missing", n=5, at=("episode_000002.parquet", 1))),
    _v21("episode_parquet_without_rows", 2, empty_table(v21_data), Blamed("episode_unusable", n=8)),
    _v21("data_parquet_empty_file", 2, write_bytes(v21_data, b""), Blamed("data_file_unreadable", n=8, at=(V21_EP0, 1))),
    _v21("data_parquet_truncated", 2, truncate(lambda r: v21_data(r, 1)), Blamed("data_file_unreadable", n=6)),
    _v21("episodes_jsonl_missing", 2, unlink(v21_episodes), Fails("episodes.jsonl: missing")),
    _v21("episodes_jsonl_length_text", 2,
         lambda root, path: edits.edit_jsonl(v21_episodes(root), 1, lambda r: r.__setitem__("length", "eight")),
         Fails("has length 'eight'")),
    _v21("episode_listed_twice", 2, append_line(v21_episodes, json.dumps({"episode_index": 1, "length": 6})),
         Fails("line 3 lists episode 1 a second time")),
    _v21("chunks_size_zero", 2, json_edit(v21_info, lambda d: d.__setitem__("chunks_size", 0)),
         Fails("chunks_size 0 is not a positive integer")),
    # 3. real files as written
    _v21("cam2base_6_decimals", 3, v21_cam2base(r6(rot_mat())), Clean(rows=V21_ROWS)),
    _v21("cam2base_float32", 3, v21_cam2base(f32(rot_mat(seed=11))), Clean(rows=V21_ROWS)),
    _v21("state_float64", 3, both(retype(v21_data, STATE, pa.list_(pa.float64(), 7)),
                                  retype(lambda r: v21_data(r, 1), STATE, pa.list_(pa.float64(), 7))),
         Clean(rows=V21_ROWS)),
    # 4. no row vanishes
    _v21("info_with_bom", 4, lambda root, path: edits.add_bom(v21_info(root)), Clean(rows=V21_ROWS)),
    _v21("episodes_jsonl_with_bom", 4, lambda root, path: edits.add_bom(v21_episodes(root)), Clean(rows=V21_ROWS)),
    _v21("first_row_timestamp_null", 4, cell(v21_data, "timestamp", 0, None),
         Blamed("timestamp_nonfinite", at=(V21_EP0, 1))),
    _v21("first_row_state_null", 4, cell(v21_data, STATE, 0, None), Blamed("pose_malformed", at=(V21_EP0, 1))),
    # 5. only the damaged row
    _v21("one_timestamp_1000s_ahead", 5, cell(v21_data, "timestamp", 4, 1000.4),
         Blamed("timestamp_outlier", at=(V21_EP0, 5))),
    _v21("one_negative_frame_index_mid", 5, cell(v21_data, "frame_index", 4, -1),
         Blamed("frame_index_invalid", at=(V21_EP0, 5))),
    _v21("one_nan_in_rotation", 5, state_value(v21_data, 4, 4, float("nan")), Blamed("nan_pose", at=(V21_EP0, 5))),
    # 6. bad values
    _v21("gripper_minus_5m", 6, state_value(v21_data, 4, 6, -5.0), Blamed("gripper_out_of_range", at=(V21_EP0, 5))),
    _v21("gripper_above_declared_max", 6, state_value(v21_data, 4, 6, 0.2),
         Blamed("gripper_out_of_range", at=(V21_EP0, 5)), gripper_max_m=0.1),
    _v21("timestamp_bool_column", 6, column(v21_data, "timestamp", lambda v: [bool(i % 2) for i in range(len(v))]),
         Blamed("value_type_invalid", n=8)),
    _v21("frame_index_text_column", 6, column(v21_data, "frame_index", lambda v: [str(x) for x in v]),
         Blamed("value_type_invalid", n=8)),
    _v21("cam2base_det_minus_1", 6, v21_cam2base(rot_mat(det=-1)), Fails("cam2base: not a rigid pose")),
    _v21("cam2base_bottom_row", 6, v21_cam2base(rot_mat(bottom=(0.1, 0.0, 0.0, 1.0))), Fails("bottom row")),
    _v21("options_cam2base_scaled", 6, None, Fails("options.cam2base: not a rigid pose"), cam2base=rot_mat(scale=0.98)),
    # 8. a media template that is absolute (outside the dataset)
    _v21("video_template_absolute", 8,
         json_edit(v21_info, lambda d: d.__setitem__("video_path", "/tmp/{video_key}/episode_{episode_index:06d}.mp4")),
         Blamed("path_escapes_root", n=V21_ROWS)),
    # 9. messages
    _v21("timestamp_nan", 9, cell(v21_data, "timestamp", 4, float("nan")), Blamed("timestamp_nonfinite", at=(V21_EP0, 5))),
    _v21("state_row_with_6_values", 9,
         state_column(v21_data, lambda rows: [r[:6] if i == 4 else r for i, r in enumerate(rows)]),
         Blamed("pose_malformed", at=(V21_EP0, 5))),
    _v21("state_row_with_9_values", 9,
         state_column(v21_data, lambda rows: [r + [0.0, 0.0] if i == 4 else r for i, r in enumerate(rows)]),
         Blamed("pose_malformed", at=(V21_EP0, 5))),
    _v21("every_row_of_an_episode_bad", 9, gripper_all(lambda r: v21_data(r, 1), 5.0, range(6)),
         Blamed("gripper_out_of_range", n=6, at=(V21_EP1, 1))),
]


# -------------------------------------------------------------------------------- umi_v1 ---

def _umi(cid: str, kind: int, damage, expect, **options) -> Case:
    return Case(f"{UMI}/{cid}", kind, UMI, damaged(UMI, damage, **options), expect)


UMI_CASES = [
    # 1. frame index: the frame is round(video time * fps); frame_index is validated all the same
    _umi("frame_index_minus_1", 1, umi_field(2, "frame_index", -1), Blamed("frame_index_invalid", at=(UMI_CSV, 2))),
    _umi("frame_index_9_7", 1, umi_field(11, "frame_index", 9.7), Blamed("frame_index_invalid", at=(UMI_CSV, 11))),
    _umi("video_time_negative", 1, umi_field(7, "video_timestamp_s", -0.5), Blamed("no_matching_frame", at=(UMI_CSV, 7))),
    _umi("video_time_past_the_video", 1, umi_field(13, "video_timestamp_s", 9.0), Blamed("video_short", at=(".mp4", 13))),
    Case(f"{UMI}/arrow_video_time_negative", 1, UMI,
         umi_arrow(arrow_set("observation.image", lambda c: pa.array(
             [{**v, "timestamp": -0.3 if i == 4 else v["timestamp"]} for i, v in enumerate(c.to_pylist())], c.type))),
         Blamed("no_matching_frame", at=("data-00000-of-00001.arrow", 5))),
    # 2. structural damage
    _umi("csv_header_only", 2, lambda root, path: umi_csv(root).write_text(edits.lines(umi_csv(root))[0] + "\n"),
         Fails("holds a header but no data row")),
    _umi("csv_empty", 2, lambda root, path: umi_csv(root).write_text(""), Fails("no header line")),
    _umi("csv_without_gripper_column", 2,
         lambda root, path: umi_csv(root).write_text(umi_csv(root).read_text().replace("gripper_width_m", "gripper_mm")),
         Fails("'gripper_width_m' (gripper width)")),
    _umi("info_without_fps", 2, json_edit(lambda r: r / "meta_data" / "info.json", lambda d: d.pop("fps")),
         Fails("no readable `fps`")),
    _umi("info_is_a_list", 2, json_replace(lambda r: r / "meta_data" / "info.json", lambda d: [d]),
         Fails("no readable `fps`")),
    _umi("info_fps_zero", 2, json_edit(lambda r: r / "meta_data" / "info.json", lambda d: d.__setitem__("fps", 0)),
         Fails("fps 0 is not a positive number")),
    _umi("no_csv", 2, unlink(umi_csv), Fails("no *_flat.csv table")),
    Case(f"{UMI}/arrow_corrupt", 2, UMI,
         lambda root, world: (umi_arrow(None)(root, world),
                              (root / "train" / "data-00000-of-00001.arrow").write_bytes(b"ARROW1 garbage"))[0],
         Fails("cannot read the table")),
    _umi("video_missing", 2, unlink(lambda r: r / "videos" / "observation.image_episode_000000.mp4"),
         Blamed("video_missing", n=UMI_ROWS, at=(".mp4", 2))),
    # 3. real files as written
    _umi("csv_6_decimals", 3, lambda root, path: edits.round_floats(umi_csv(root)), Clean(rows=UMI_ROWS)),
    _umi("csv_float32", 3, lambda root, path: edits.float32_floats(umi_csv(root)), Clean(rows=UMI_ROWS)),
    Case(f"{UMI}/arrow_float32_state", 3, UMI, umi_arrow(None), Clean(rows=UMI_ROWS)),
    # 4. no row vanishes
    _umi("csv_with_bom", 4, lambda root, path: edits.add_bom(umi_csv(root)), Clean(rows=UMI_ROWS)),
    _umi("info_with_bom", 4, lambda root, path: edits.add_bom(root / "meta_data" / "info.json"), Clean(rows=UMI_ROWS)),
    _umi("first_line_typo", 4, umi_field(2, "eef_pos_x_m", "0.3O1"), Blamed("malformed_line", at=(UMI_CSV, 2))),
    _umi("crlf_line_ends", 4,
         lambda root, path: umi_csv(root).write_bytes(umi_csv(root).read_bytes().replace(b"\n", b"\r\n")),
         Clean(rows=UMI_ROWS)),
    # 5. only the damaged row
    _umi("one_timestamp_1000s_ahead", 5, umi_field(7, "timestamp_s", 1000.5), Blamed("timestamp_outlier", at=(UMI_CSV, 7))),
    _umi("one_nan_gripper", 5, umi_field(7, "gripper_width_m", "nan"), Blamed("nan_value", at=(UMI_CSV, 7))),
    _umi("one_line_repeated", 5, lambda root, path: edits.set_line(
        umi_csv(root), 7, edits.lines(umi_csv(root))[6] + "\n" + edits.lines(umi_csv(root))[6]),
         Blamed("timestamp_duplicate", at=(UMI_CSV, 8))),
    # 6. bad values
    _umi("gripper_minus_5m", 6, umi_field(7, "gripper_width_m", -5.0), Blamed("gripper_out_of_range", at=(UMI_CSV, 7))),
    _umi("gripper_above_declared_max", 6, umi_field(7, "gripper_width_m", 0.12),
         Blamed("gripper_out_of_range", at=(UMI_CSV, 7)), gripper_max_m=0.1),
    _umi("gripper_text_true", 6, umi_field(7, "gripper_width_m", "true"), Blamed("malformed_line", at=(UMI_CSV, 7))),
    Case(f"{UMI}/arrow_timestamp_bool", 6, UMI,
         umi_arrow(arrow_set("timestamp", lambda c: pa.array([i % 2 == 0 for i in range(len(c))]))),
         Blamed("value_type_invalid", n=UMI_ROWS)),
    # 8. a per-row video path leading out of the root, or absolute
    _umi("video_path_dotdot", 8, umi_field(7, "video_path", "../../outside/observation.image_episode_000000.mp4"),
         Blamed("path_escapes_root", at=(UMI_CSV, 7))),
    _umi("video_path_absolute", 8, umi_field(7, "video_path", "/etc/observation.image_episode_000000.mp4"),
         Blamed("path_escapes_root", at=(UMI_CSV, 7))),
    # 9. messages
    _umi("timestamp_nan", 9, umi_field(7, "timestamp_s", "nan"), Blamed("timestamp_nonfinite", at=(UMI_CSV, 7))),
    _umi("timestamp_inf", 9, umi_field(7, "timestamp_s", "inf"), Blamed("timestamp_nonfinite", at=(UMI_CSV, 7))),
    _umi("row_with_11_fields", 9, lambda root, path: edits.keep_fields(umi_csv(root), 7, 11, sep=","),
         Blamed("malformed_line", at=(UMI_CSV, 7))),
    _umi("every_gripper_minus_5m", 9,
         lambda root, path: [edits.set_field(umi_csv(root), ln, umi_col("gripper_width_m"), -5.0, sep=",")
                             for ln in range(2, 2 + UMI_ROWS)],
         Blamed("gripper_out_of_range", n=UMI_ROWS, at=(UMI_CSV, 2))),
]


CASES: list[Case] = V3_CASES + V21_CASES + UMI_CASES

NOT_APPLICABLE: dict[tuple[str, int], str] = {}
