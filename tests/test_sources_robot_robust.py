"""Robustness of the manipulation / simulation readers and of the video decoder (issue 14):
frame indices, one-line errors, bad values, timestamps. Inputs are small generated datasets
(the synthetic world's LeRobot v3 arm and sim logs, and hand-written tables), damaged on purpose.
Every read must balance (``rows_in == rows_out + rows_quarantined``) and only a damaged row may be
quarantined."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remot_pipeline.core.ledger import REASON_CODES
from remot_pipeline.sources import lerobot, lerobot_v21, robot_table, simlog
from remot_pipeline.sources.base import SourceError, SourceSpec
from remot_pipeline.sources.video import FrameIndexError, count_frames, read_frames_rgb
from tests.test_sources_manipulation import make_v21, write_csv, write_video

N = 16  # frames per generated episode
PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """One small LeRobot v3 arm dataset (2 episodes) and two sim-log episodes, generated once."""
    from remot_pipeline.synthetic.manipulation import write_manipulation
    from remot_pipeline.synthetic.simulation import write_simulation
    from remot_pipeline.synthetic.world import WorldConfig

    cfg = WorldConfig(episodes_per_domain=2, frames_per_episode=N, width_px=64, height_px=48)
    root = tmp_path_factory.mktemp("robust_world")
    (arm,) = write_manipulation(root / "manipulation", cfg)
    sims = write_simulation(root / "simulation", cfg)
    return {"arm": arm, "sim": sims[0]}


def read_all(module, spec: SourceSpec):
    """discover + read every episode; each read balances and carries only known reason codes."""
    reads = []
    for ref in module.discover(spec):
        r = module.read(ref)
        assert r.rows_in == r.n_frames + len(r.quarantine), (r.rows_in, r.n_frames, len(r.quarantine))
        rows = r.quarantine.table().to_pylist()
        assert all(x["reason_code"] in REASON_CODES and x["file"] and x["line"] for x in rows)
        if r.n_frames:
            assert np.all(np.diff(r.columns["timestamp_s"]) > 0)
            if r.columns.get("media_frame_index") is not None:
                assert np.all(np.asarray(r.columns["media_frame_index"]) >= 0)
        reads.append(r)
    return reads


def qrows(reads) -> list[dict]:
    return [x for r in reads for x in r.quarantine.table().to_pylist()]


def one_line_error(fn, *needles: str) -> str:
    with pytest.raises(SourceError) as err:
        fn()
    msg = str(err.value)
    assert "\n" not in msg and all(n in msg for n in needles), msg
    return msg


# --------------------------------------------------------------------------------------------
# sim log (remot_sim_jsonl)
# --------------------------------------------------------------------------------------------


def sim_copy(world, dst: Path) -> tuple[Path, list[dict], str]:
    """A copy of one sim episode; returns (episode dir, frame records, header line)."""
    ep = dst / "sim" / "ep"
    shutil.copytree(world["sim"], ep)
    lines = (ep / "log.jsonl").read_text().splitlines()
    return ep, [json.loads(x) for x in lines[1:]], lines[0]


def sim_write(ep: Path, header: str, records: list, prefix: str = "") -> None:
    body = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records)
    (ep / "log.jsonl").write_text(prefix + header + "\n" + body + "\n", encoding="utf-8")


def sim_read(ep: Path):
    return read_all(simlog, SourceSpec("sim", "simulation", "remot_sim_jsonl", ep.parent))


def _det_minus_one(rec):
    m = np.asarray(rec["objects"][0]["obj2world"]).reshape(4, 4)
    m[:3, 0] *= -1
    rec["objects"][0]["obj2world"] = m.ravel().tolist()


def _scaled(rec):
    m = np.asarray(rec["objects"][0]["obj2world"]).reshape(4, 4)
    m[:3, :3] *= 1.01
    rec["objects"][0]["obj2world"] = m.ravel().tolist()


def _bottom_row(rec):
    rec["cam2world"][12] = 0.5


SIM_DAMAGE = {
    "negative_frame_index": (lambda r: r.__setitem__("frame_index", -1), "frame_index_invalid"),
    "fractional_frame_index": (lambda r: r.__setitem__("frame_index", r["frame_index"] + 0.7), "frame_index_invalid"),
    "nan_frame_index": (lambda r: r.__setitem__("frame_index", float("nan")), "frame_index_invalid"),
    "huge_frame_index": (lambda r: r.__setitem__("frame_index", 1e308), "frame_index_invalid"),
    "bool_frame_index": (lambda r: r.__setitem__("frame_index", True), "value_type_invalid"),
    "string_timestamp": (lambda r: r.__setitem__("timestamp_s", "0.5"), "value_type_invalid"),
    "nan_timestamp": (lambda r: r.__setitem__("timestamp_s", float("nan")), "timestamp_nonfinite"),
    "future_timestamp": (lambda r: r.__setitem__("timestamp_s", r["timestamp_s"] + 1000.0), "timestamp_outlier"),
    "object_det_minus_one": (_det_minus_one, "rotation_not_orthonormal"),
    "object_scaled_rotation": (_scaled, "rotation_not_orthonormal"),
    "cam2world_bottom_row": (_bottom_row, "pose_not_se3"),
    "cam2world_15_values": (lambda r: r.__setitem__("cam2world", r["cam2world"][:15]), "pose_malformed"),
    "cam2world_bool": (lambda r: r["cam2world"].__setitem__(0, True), "value_type_invalid"),
    "no_cam2world": (lambda r: r.pop("cam2world"), "malformed_line"),
}


@pytest.mark.parametrize("damage", sorted(SIM_DAMAGE))
def test_sim_log_one_damaged_row_is_the_only_one_quarantined(world, tmp_path, damage):
    ep, recs, header = sim_copy(world, tmp_path)
    edit, code = SIM_DAMAGE[damage]
    k = 6
    edit(recs[k])
    sim_write(ep, header, recs)
    (r,) = sim_read(ep)
    q = qrows([r])
    assert [(x["reason_code"], x["line"]) for x in q] == [(code, k + 2)], q
    assert r.n_frames == N - 1
    media = np.asarray(r.columns["media_frame_index"])
    np.testing.assert_array_equal(media, [i for i in range(N) if i != k])  # never the last frame for -1


def test_sim_log_negative_frame_index_never_reaches_the_last_frame(world, tmp_path):
    ep, recs, header = sim_copy(world, tmp_path)
    recs[0]["frame_index"] = -1
    sim_write(ep, header, recs)
    (r,) = sim_read(ep)
    assert N - 1 in r.columns["media_frame_index"]  # frame N-1 only for its own row
    assert list(r.columns["media_frame_index"]).count(N - 1) == 1


def test_sim_log_real_world_rounding_is_accepted_and_re_projected(world, tmp_path):
    """Rotations written as float32 or with 6 decimals pass (tolerance 1e-5) and come out on SO(3)."""
    ep, recs, header = sim_copy(world, tmp_path)
    for i, rec in enumerate(recs):
        cast = (lambda x: float(np.float32(x))) if i % 2 else (lambda x: round(x, 6))
        rec["cam2world"] = [cast(x) for x in rec["cam2world"]]
        for o in rec["objects"]:
            o["obj2world"] = [cast(x) for x in o["obj2world"]]
    sim_write(ep, header, recs)
    (r,) = sim_read(ep)
    assert r.n_frames == N and not qrows([r])
    if hasattr(r, "max_rotation_correction"):  # reported when base.EpisodeRead carries the field
        assert 0.0 < r.max_rotation_correction < 1e-5
    cam = np.asarray(r.columns["cam2world"])
    rot = cam[:, :3, :3]
    np.testing.assert_allclose(np.swapaxes(rot, 1, 2) @ rot, np.broadcast_to(np.eye(3), rot.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    for objs in r.columns["objects"]:
        for o in objs:
            m = np.asarray(o["obj2world"]).reshape(4, 4)
            np.testing.assert_allclose(m[:3, :3].T @ m[:3, :3], np.eye(3), atol=1e-12)


def test_sim_log_byte_order_mark_and_bad_header(world, tmp_path):
    ep, recs, header = sim_copy(world, tmp_path)
    sim_write(ep, header, recs, prefix="\ufeff")
    (r,) = sim_read(ep)
    assert r.n_frames == N and r.rows_in == N and not qrows([r])
    bad = json.loads(header)
    bad["fps"] = "fast"
    sim_write(ep, json.dumps(bad), recs)
    one_line_error(lambda: sim_read(ep), "log.jsonl", "header fps")


def test_sim_log_isolated_outlier_and_short_video(world, tmp_path):
    ep, recs, header = sim_copy(world, tmp_path)
    recs[3]["timestamp_s"] += 1000.0  # one row in the future: only it goes
    recs[9]["timestamp_s"] = recs[8]["timestamp_s"]  # a repeat
    recs[12]["frame_index"] = N + 3  # beyond the video: video_short (the video holds N frames)
    sim_write(ep, header, recs)
    (r,) = sim_read(ep)
    got = {(x["reason_code"], x["line"]) for x in qrows([r])}
    assert got == {("timestamp_outlier", 5), ("timestamp_duplicate", 11), ("video_short", 14)}
    assert r.n_frames == N - 3


@given(k=st.integers(0, N - 1), damage=st.sampled_from(sorted(SIM_DAMAGE)))
@PROPERTY
def test_property_sim_log_single_damage(world, k, damage):
    if damage == "future_timestamp" and k == N - 1:
        k = N - 2  # the last row has no next row to disagree with: it is simply the latest
    with tempfile.TemporaryDirectory() as tmp:
        ep, recs, header = sim_copy(world, Path(tmp))
        edit, code = SIM_DAMAGE[damage]
        edit(recs[k])
        sim_write(ep, header, recs)
        (r,) = sim_read(ep)
        q = qrows([r])
        assert [(x["reason_code"], x["line"]) for x in q] == [(code, k + 2)]
        assert r.rows_in == r.n_frames + len(q) == N


# --------------------------------------------------------------------------------------------
# LeRobot v3
# --------------------------------------------------------------------------------------------


def arm_copy(world, dst: Path) -> Path:
    ds = dst / "arm"
    shutil.copytree(world["arm"], ds)
    return ds


def arm_data(ds: Path) -> Path:
    return next((ds / "data").rglob("*.parquet"))


def arm_edit(ds: Path, fn) -> None:
    """``fn(columns dict of numpy / lists) -> None`` on the data file, rewritten with the same types."""
    path = arm_data(ds)
    t = pq.read_table(path)
    cols = {n: t.column(n).to_pylist() for n in t.column_names}
    fn(cols)
    arrays = {}
    for n in [c for c in t.column_names if c in cols]:
        typ = t.schema.field(n).type
        if any(isinstance(v, bool) for v in cols[n]):  # keep a bool a bool (Arrow would cast it to 1.0)
            arrays[n] = pa.array(cols[n])
            continue
        try:
            arrays[n] = pa.array(cols[n], typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            arrays[n] = pa.array(cols[n])
    for n in cols:
        if n not in arrays:
            arrays[n] = pa.array(cols[n])
    pq.write_table(pa.table(arrays), path)


def arm_info(ds: Path, fn) -> None:
    p = ds / "meta" / "info.json"
    info = json.loads(p.read_text())
    fn(info)
    p.write_text(json.dumps(info))


def arm_read(ds: Path, options: dict | None = None):
    return read_all(lerobot, SourceSpec("arm", "manipulation", "lerobot_v3", ds, options or {}))


def _set(col, value):
    def edit(cols, k):
        cols[col][k] = value
    return edit


def _set_state(j, value):
    def edit(cols, k):
        cols["observation.state"][k] = list(cols["observation.state"][k])
        cols["observation.state"][k][j] = value
    return edit


def _future_ts(cols, k):
    cols["timestamp"][k] = cols["timestamp"][k] + 1000.0


ARM_DAMAGE = {
    "negative_frame_index": (_set("frame_index", -1), "frame_index_invalid"),
    "frame_index_beyond_episode": (_set("frame_index", 10 * N), "frame_index_invalid"),
    "nan_timestamp": (_set("timestamp", float("nan")), "timestamp_nonfinite"),
    "future_timestamp": (_future_ts, "timestamp_outlier"),
    "gripper_minus_5m": (_set_state(6, -5.0), "gripper_out_of_range"),
    "gripper_5m": (_set_state(6, 5.0), "gripper_out_of_range"),
    "gripper_nan": (_set_state(6, float("nan")), "nan_value"),
    "ee_nan": (_set_state(0, float("nan")), "nan_pose"),
}


@pytest.mark.parametrize("damage", sorted(ARM_DAMAGE))
def test_lerobot_v3_one_damaged_row_is_the_only_one_quarantined(world, tmp_path, damage):
    ds = arm_copy(world, tmp_path)
    edit, code = ARM_DAMAGE[damage]
    k = 5  # row 5 of the file: episode 0, frame 5
    arm_edit(ds, lambda cols: edit(cols, k))
    reads = arm_read(ds)
    q = qrows(reads)
    assert [(x["reason_code"], x["line"]) for x in q] == [(code, k + 1)], q
    assert sum(r.n_frames for r in reads) == 2 * N - 1
    media = np.asarray(reads[0].columns["media_frame_index"])
    assert media.min() >= 0 and len(set(media.tolist())) == media.size and N - 1 not in media[:-1]


def test_lerobot_v3_fractional_and_bool_columns(world, tmp_path):
    ds = arm_copy(world, tmp_path)

    def edit(cols):
        cols["frame_index"] = [float(x) for x in cols["frame_index"]]
        cols["frame_index"][3] = 2.7  # float column: 2.7 is never truncated to 2
    arm_edit(ds, edit)
    q = qrows(arm_read(ds))
    assert [(x["reason_code"], x["line"]) for x in q] == [("frame_index_invalid", 4)]

    ds = arm_copy(world, tmp_path / "b")
    arm_edit(ds, lambda cols: cols.__setitem__("timestamp", [bool(i % 2) for i in range(len(cols["timestamp"]))]))
    reads = arm_read(ds)
    assert {x["reason_code"] for x in qrows(reads)} <= {"value_type_invalid", "episode_unusable"}
    assert sum(r.n_frames for r in reads) == 0 and sum(r.rows_in for r in reads) == 2 * N


def test_lerobot_v3_declared_maximum_and_options(world, tmp_path):
    ds = arm_copy(world, tmp_path)
    reads = arm_read(ds, {"gripper_max_m": 0.01})  # every synthetic width is wider
    assert {x["reason_code"] for x in qrows(reads)} <= {"gripper_out_of_range", "episode_unusable"}
    one_line_error(lambda: arm_read(ds, {"gripper_max_m": "wide"}), "gripper_max_m")


@pytest.mark.parametrize("key", ["data_path", "fps", "video_path"])
def test_lerobot_v3_info_without_a_key_is_one_line(world, tmp_path, key):
    ds = arm_copy(world, tmp_path)
    arm_info(ds, lambda info: info.pop(key))
    one_line_error(lambda: arm_read(ds), "info.json", repr(key) if key != "fps" else "fps")


def test_lerobot_v3_structural_damage_is_one_line_or_counted(world, tmp_path):
    # no observation.state column
    ds = arm_copy(world, tmp_path / "a")
    arm_edit(ds, lambda cols: cols.pop("observation.state"))
    one_line_error(lambda: arm_read(ds), "file-000.parquet", "observation.state")
    # a state narrower than the mapping
    ds = arm_copy(world, tmp_path / "b")
    arm_edit(ds, lambda cols: cols.__setitem__("observation.state", [s[:5] for s in cols["observation.state"]]))
    one_line_error(lambda: arm_read(ds), "holds 5 values", "maps index 5", "state_mapping")
    # a corrupt data parquet: the declared rows, each data_file_unreadable
    ds = arm_copy(world, tmp_path / "c")
    arm_data(ds).write_bytes(b"PAR1 not a parquet file")
    reads = arm_read(ds)
    assert {x["reason_code"] for x in qrows(reads)} == {"data_file_unreadable"}
    assert sum(r.rows_in for r in reads) == 2 * N
    # an episode listed without rows: its declared rows, each episode_unusable; the other is whole
    ds = arm_copy(world, tmp_path / "d")
    arm_edit(ds, lambda cols: [cols.__setitem__(c, [v for v, e in zip(cols[c], cols["episode_index"]) if e != 1])
                               for c in list(cols) if c != "episode_index"] + [cols.__setitem__(
                                   "episode_index", [e for e in cols["episode_index"] if e != 1])])
    reads = arm_read(ds)
    assert [r.n_frames for r in reads] == [N, 0] and [r.rows_in for r in reads] == [N, N]
    assert {x["reason_code"] for x in qrows(reads)} == {"episode_unusable"}


def test_lerobot_v3_bad_cam2base_is_one_line(world, tmp_path):
    ds = arm_copy(world, tmp_path)
    key = next(k for k, f in json.loads((ds / "meta" / "info.json").read_text())["features"].items()
               if f.get("dtype") == "video")
    bad = np.eye(4)
    bad[3] = [0.0, 0.0, 1.0, 1.0]
    arm_info(ds, lambda info: info.setdefault("remot", {}).setdefault("cameras", {}).__setitem__(key, {"cam2base": bad.tolist()}))
    one_line_error(lambda: arm_read(ds), "cam2base", "bottom row")


@given(k=st.integers(0, 2 * N - 1), damage=st.sampled_from(sorted(ARM_DAMAGE)))
@PROPERTY
def test_property_lerobot_v3_single_damage(world, k, damage):
    if damage == "future_timestamp" and k in (N - 1, 2 * N - 1):
        k -= 1  # an episode's last row has no next row to disagree with
    with tempfile.TemporaryDirectory() as tmp:
        ds = arm_copy(world, Path(tmp))
        edit, code = ARM_DAMAGE[damage]
        arm_edit(ds, lambda cols: edit(cols, k))
        reads = arm_read(ds)
        q = qrows(reads)
        assert [(x["reason_code"], x["line"]) for x in q] == [(code, k + 1)]
        assert sum(r.rows_in for r in reads) == sum(r.n_frames for r in reads) + len(q) == 2 * N


# --------------------------------------------------------------------------------------------
# LeRobot v2.1, robot tables
# --------------------------------------------------------------------------------------------


def v21_read(root: Path, options: dict | None = None):
    return read_all(lerobot_v21, SourceSpec("v21", "manipulation", "lerobot_v21", root, options or {}))


def test_lerobot_v21_frame_index_gripper_and_fps(tmp_path):
    def edit(ep, cols):
        if ep == 0:
            cols["frame_index"] = cols["frame_index"].copy()
            cols["frame_index"][2] = -1
            cols["observation.state"] = cols["observation.state"].copy()
            cols["observation.state"][4, 6] = -5.0
    make_v21(tmp_path / "a", {0: 10, 1: 8}, edit=edit)
    reads = v21_read(tmp_path / "a")
    got = sorted((x["reason_code"], x["line"]) for x in qrows(reads))
    assert got == [("frame_index_invalid", 3), ("gripper_out_of_range", 5)]
    assert [r.n_frames for r in reads] == [8, 8]
    info = json.loads((tmp_path / "a" / "meta" / "info.json").read_text())
    info.pop("fps")
    (tmp_path / "a" / "meta" / "info.json").write_text(json.dumps(info))
    one_line_error(lambda: v21_read(tmp_path / "a"), "info.json", "fps")


def test_lerobot_v21_episode_without_rows_is_counted(tmp_path):
    make_v21(tmp_path / "a", {0: 6, 1: 5})
    data = tmp_path / "a" / "data" / "chunk-001" / "episode_000001.parquet"
    t = pq.read_table(data)
    pq.write_table(t.slice(0, 0), data)
    reads = v21_read(tmp_path / "a")
    assert [r.rows_in for r in reads] == [6, 5] and [r.n_frames for r in reads] == [6, 0]
    assert {x["reason_code"] for x in qrows(reads)} == {"episode_unusable"}


def test_robot_table_types_gripper_and_cam2base(tmp_path):
    n = 8
    t = pa.table({"t": pa.array(np.arange(n) * 0.1), "x": pa.array(np.linspace(0, 1, n)), "y": pa.array(np.zeros(n)),
                  "z": pa.array(np.zeros(n)), "g": pa.array([i % 2 == 0 for i in range(n)])})
    (tmp_path / "p").mkdir()
    pq.write_table(t, tmp_path / "p" / "arm.parquet")
    opts = {"columns": {"timestamp": "t", "ee_x": "x", "ee_y": "y", "ee_z": "z", "gripper": "g"}}
    reads = read_all(robot_table, SourceSpec("t", "manipulation", "robot_table", tmp_path / "p", opts))
    assert {x["reason_code"] for x in qrows(reads)} <= {"value_type_invalid", "episode_unusable"}
    assert sum(r.n_frames for r in reads) == 0  # a bool gripper is never 1.0

    lines = [json.dumps({"t": i * 0.1, "x": float(i), "y": 0, "z": 0, "g": 0.01}) for i in range(n)]
    lines[2] = json.dumps({"t": 0.2, "x": True, "y": 0, "z": 0, "g": 0.01})
    lines[4] = json.dumps({"t": 0.4, "x": 4.0, "y": 0, "z": 0, "g": -5})
    lines[6] = json.dumps({"t": 1000.0, "x": 6.0, "y": 0, "z": 0, "g": 0.01})
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "log.jsonl").write_text("\n".join(lines) + "\n")
    reads = read_all(robot_table, SourceSpec("t", "manipulation", "robot_table", tmp_path / "j", {**opts, "glob": "*.jsonl"}))
    assert sorted((x["reason_code"], x["line"]) for x in qrows(reads)) == [
        ("gripper_out_of_range", 5), ("timestamp_outlier", 7), ("value_type_invalid", 3)]

    write_csv(tmp_path / "c" / "arm.csv", ["t", "x", "y", "z"], [[i * 0.1, i, 0, 0] for i in range(4)])
    bad = np.eye(4).tolist()
    bad[3][0] = 1.0
    spec = SourceSpec("t", "manipulation", "robot_table", tmp_path / "c",
                      {"columns": {"timestamp": "t", "ee_x": "x", "ee_y": "y", "ee_z": "z"}, "cam2base": bad})
    one_line_error(lambda: read_all(robot_table, spec), "cam2base", "bottom row")
    spec = SourceSpec("t", "manipulation", "robot_table", tmp_path / "c",
                      {"columns": {"timestamp": "t", "ee_x": "x", "ee_y": "y", "ee_z": "z"}, "fps": [1, 2]})
    one_line_error(lambda: read_all(robot_table, spec), "source 't'", "fix the sources file")


def test_robot_table_frame_column_fraction_and_nan(tmp_path):
    n = 8
    rows = [[i * 0.1, i, 0, 0, i] for i in range(n)]
    rows[2][4] = 2.5
    rows[5][4] = "nan"
    write_csv(tmp_path / "arm.csv", ["t", "x", "y", "z", "f"], rows)
    write_video(tmp_path / "arm.mp4", n)
    opts = {"columns": {"timestamp": "t", "ee_x": "x", "ee_y": "y", "ee_z": "z"}, "video": "{stem}.mp4", "frame_column": "f"}
    reads = read_all(robot_table, SourceSpec("t", "manipulation", "robot_table", tmp_path, opts))
    assert sorted((x["reason_code"], x["line"]) for x in qrows(reads)) == [("frame_index_invalid", 4), ("frame_index_invalid", 7)]


# --------------------------------------------------------------------------------------------
# video decoding
# --------------------------------------------------------------------------------------------


def test_decoder_refuses_negative_and_fractional_indices(tmp_path):
    video = write_video(tmp_path / "v.mp4", 12)
    n = count_frames(video)
    for bad in ([-1], [3, -2], [9.7], [float("nan")], [True]):
        with pytest.raises(FrameIndexError):
            list(read_frames_rgb(video, bad))
    assert dict(read_frames_rgb(video, [n, n + 3])) == {}  # beyond the end: not yielded, never wrapped
    with pytest.raises(FrameIndexError, match="beyond"):
        list(read_frames_rgb(video, [n], strict=True))
    (i, last), = read_frames_rgb(video, [n - 1])
    (j, first), = read_frames_rgb(video, [0.0])  # an integral float is the same frame
    assert (i, j) == (n - 1, 0) and not np.array_equal(first, last)
