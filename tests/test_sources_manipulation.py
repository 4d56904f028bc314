"""Readers for LeRobot v2.1, UMI (LeRobot v1), generic robot tables and simulator pose tables:
healthy generated examples against independent oracles, the simulator convention mappings,
the two real samples, and a corpus of malformed inputs (every row kept or quarantined once)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.spatial.transform import Rotation

from data_contracts import conform
from remot_pipeline.core import se3
from remot_pipeline.core.ledger import REASON_CODES
from remot_pipeline.sources import lerobot_v21, robot_table, sim_conventions, umi_v1
from remot_pipeline.sources.base import SourceError, SourceSpec, to_frames_arrow
from remot_pipeline.sources.sim_conventions import (
    carla_object_to_world,
    carla_rotation_ue,
    carla_to_opencv,
    habitat_object_to_world,
    habitat_to_opencv,
    opencv_to_carla,
    opencv_to_habitat,
)
from remot_pipeline.synthetic.video import Mp4Writer
from tests.conftest import real_path

MODULES = {m.FORMAT: m for m in (lerobot_v21, umi_v1, robot_table, sim_conventions)}
EE_NAMES = ["ee_x_m", "ee_y_m", "ee_z_m", "ee_rx_rad", "ee_ry_rad", "ee_rz_rad", "gripper_width_m"]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def write_video(path: Path, n: int, fps: float = 10, w: int = 64, h: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Mp4Writer(path, fps, w, h) as out:
        for i in range(n):
            frame = np.zeros((h, w, 3), np.uint8)
            frame[:, : (i * 7) % w + 1] = (40 + 13 * i) % 256
            out.write(frame)
    return path


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def ingest(fmt: str, root: Path, options: dict | None = None, domain: str = "manipulation"):
    """discover + read; every read balances and carries only known reason codes with locators."""
    spec = SourceSpec("src", domain, fmt, root, options or {})
    module = MODULES[fmt]
    refs = module.discover(spec)
    assert len({r.episode_key for r in refs}) == len(refs)
    reads = []
    for ref in refs:
        assert all(Path(f).is_file() for f in ref.input_files)
        ref.input_sha256()
        r = module.read(ref)
        assert r.rows_in == r.n_frames + len(r.quarantine), (ref.episode_key, r.rows_in, r.n_frames, len(r.quarantine))
        q = r.quarantine.table().to_pylist()
        assert all(x["reason_code"] in REASON_CODES and x["file"] and x["line"] and x["episode_id"] == ref.episode_id for x in q)
        if r.n_frames:
            assert r.columns["timestamp_s"][0] == 0.0 and np.all(np.diff(r.columns["timestamp_s"]) > 0)
            np.testing.assert_array_equal(r.columns["frame_index"], np.arange(r.n_frames))
            conform(to_frames_arrow(r, "train"), "frames")  # the canonical contract accepts the columns
        reads.append(r)
    return refs, reads


def reasons(reads) -> set[str]:
    return {x["reason_code"] for r in reads for x in r.quarantine.table().to_pylist()}


# --------------------------------------------------------------------------------------------
# generated datasets
# --------------------------------------------------------------------------------------------


def ee_state(n: int, seed: int) -> np.ndarray:
    """(n, 7): a smooth EE path, a rotation vector and a gripper width."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)
    pos = np.stack([0.3 + 0.1 * t, -0.2 + 0.05 * np.sin(3 * t), 0.25 + 0.02 * t], 1) + rng.normal(0, 1e-3, (n, 3))
    rot = np.stack([0.1 * t, -0.2 * t, 0.3 + 0.1 * t], 1)
    grip = 0.08 - 0.05 * t
    return np.concatenate([pos, rot, grip[:, None]], 1).astype(np.float32)


def make_v21(root: Path, lengths: dict[int, int], *, names=None, nested=True, fps=10, chunks_size=1,
             video_frames: dict[int, int] | None = None, data_path=None, video_path=None, version="v2.1",
             edit: Callable[[int, dict], None] | None = None, state_fn=ee_state) -> dict[int, np.ndarray]:
    """A LeRobot v2.1 dataset; ``edit(episode, columns)`` may damage the columns before writing."""
    names = EE_NAMES if names is None else names
    data_path = data_path or "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    video_path = video_path or "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
    (root / "meta").mkdir(parents=True, exist_ok=True)
    states, start = {}, 0
    for ep, n in lengths.items():
        state = state_fn(n, ep)
        states[ep] = state
        cols = {"observation.state": state, "timestamp": (np.arange(n) / fps).astype(np.float32),
                "frame_index": np.arange(n), "episode_index": np.full(n, ep), "index": np.arange(start, start + n),
                "task_index": np.zeros(n, np.int64)}
        start += n
        if edit:
            edit(ep, cols)
        chunk = ep // chunks_size
        k = cols["observation.state"].shape[1]
        table = pa.table({
            "observation.state": pa.FixedSizeListArray.from_arrays(pa.array(cols["observation.state"].ravel(), pa.float32()), k),
            **{c: pa.array(v) for c, v in cols.items() if c != "observation.state"},
        })
        data = root / data_path.format(episode_chunk=chunk, episode_index=ep)
        data.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, data)
        vrel = video_path.format(episode_chunk=chunk, episode_index=ep, video_key="observation.images.top")
        if ".." not in vrel:
            write_video(root / vrel, (video_frames or {}).get(ep, n), fps)
    info = {
        "codebase_version": version, "robot_type": "test_arm", "fps": fps, "chunks_size": chunks_size,
        "total_episodes": len(lengths), "data_path": data_path, "video_path": video_path,
        "features": {
            "observation.state": {"dtype": "float32", "shape": [len(names)], "names": [names] if nested else names},
            "observation.images.top": {"dtype": "video", "shape": [48, 64, 3], "names": ["height", "width", "channel"],
                                       "info": {"video.height": 48, "video.width": 64, "video.codec": "h264"}},
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        },
    }
    (root / "meta" / "info.json").write_text(json.dumps(info))
    (root / "meta" / "episodes.jsonl").write_text(
        "".join(json.dumps({"episode_index": ep, "tasks": ["pick"], "length": n}) + "\n" for ep, n in lengths.items()))
    return states


UMI_HEADER = ["index", "episode_index", "frame_index", "timestamp_s", "eef_pos_x_m", "eef_pos_y_m", "eef_pos_z_m",
              "eef_rotvec_x_rad", "eef_rotvec_y_rad", "eef_rotvec_z_rad", "gripper_width_m", "video_path", "video_timestamp_s"]


def umi_rows(n: int, fps: float = 10) -> list[list]:
    s = ee_state(n, 7).astype(np.float64)
    return [[i, 0, i, i / fps, *s[i].tolist(), "videos/observation.image_episode_000000.mp4", i / fps] for i in range(n)]


def make_umi(root: Path, n: int = 12, video_frames: int | None = None, edit: Callable[[list], None] | None = None,
             arrow: bool = False) -> list[list]:
    (root / "meta_data").mkdir(parents=True, exist_ok=True)
    (root / "meta_data" / "info.json").write_text(json.dumps({"fps": 10, "video": 1}))
    write_video(root / "videos" / "observation.image_episode_000000.mp4", n if video_frames is None else video_frames)
    rows = umi_rows(n)
    if edit:
        edit(rows)
    write_csv(root / "episode_000000_flat.csv", UMI_HEADER, rows)
    if arrow:
        good = [r for r in rows if len(r) == len(UMI_HEADER)]
        table = pa.table({
            "observation.image": pa.array([{"path": r[11], "timestamp": float(r[12])} for r in good],
                                          pa.struct([("path", pa.string()), ("timestamp", pa.float32())])),
            "observation.state": pa.FixedSizeListArray.from_arrays(
                pa.array([float(v) for r in good for v in r[4:11]], pa.float32()), 7),
            "episode_index": pa.array([int(r[1]) for r in good]),
            "frame_index": pa.array([int(r[2]) for r in good]),
            "timestamp": pa.array([float(r[3]) for r in good], pa.float32()),
            "index": pa.array([int(r[0]) for r in good]),
        })
        (root / "train").mkdir(exist_ok=True)
        with pa.ipc.new_stream(str(root / "train" / "data-00000-of-00001.arrow"), table.schema) as w:
            w.write_table(table)
    return rows


TABLE_OPTIONS = {
    "columns": {"timestamp": "t_ms", "ee_x": "x", "ee_y": "y", "ee_z": "z", "ee_quat": ["qw", "qx", "qy", "qz"],
                "gripper": "grip_mm"},
    "quat_order": "wxyz", "timestamp_unit": "ms", "gripper_unit": "mm", "episode_column": "run",
    "video": "videos/{episode}.mp4", "video_fps": 10,
}
TABLE_HEADER = ["run", "t_ms", "x", "y", "z", "qw", "qx", "qy", "qz", "grip_mm"]


def table_rows(run: str, n: int, seed: int, t0_ms: float = 1000.0) -> list[list]:
    rng = np.random.default_rng(seed)
    quat_xyzw = Rotation.random(n, random_state=seed).as_quat()
    pos = rng.normal(0, 0.2, (n, 3))
    grip = rng.uniform(10, 80, n)
    return [[run, t0_ms + 100.0 * i, *pos[i], quat_xyzw[i, 3], *quat_xyzw[i, :3], grip[i]] for i in range(n)]


def make_table(root: Path, runs: dict[str, int], edit: Callable[[list], None] | None = None,
               video_frames: dict[str, int] | None = None) -> list[list]:
    rows = [r for k, (run, n) in enumerate(runs.items()) for r in table_rows(run, n, k)]
    if edit:
        edit(rows)
    write_csv(root / "logs" / "arm.csv", TABLE_HEADER, rows)
    for run, n in runs.items():
        write_video(root / "logs" / "videos" / f"{run}.mp4", (video_frames or {}).get(run, n))
    return rows


CARLA_HEADER = ["timestamp_s", "x", "y", "z", "pitch", "yaw", "roll", "car_x", "car_y", "car_z", "car_pitch", "car_yaw",
                "car_roll", "frame"]


def carla_rows(n: int, seed: int = 3) -> list[list]:
    rng = np.random.default_rng(seed)
    pyr = np.stack([rng.uniform(-30, 30, n), np.linspace(-170, 170, n), rng.uniform(-20, 20, n)], 1)
    loc = rng.normal(0, 10, (n, 3))
    car = rng.normal(0, 10, (n, 3))
    car_pyr = np.stack([np.zeros(n), rng.uniform(-180, 180, n), np.zeros(n)], 1)
    return [[0.05 * i, *loc[i], *pyr[i], *car[i], *car_pyr[i], i] for i in range(n)]


CARLA_OPTIONS = {
    "convention": "carla", "fov_deg": 90.0, "video": "{stem}.mp4", "frame_column": "frame",
    "objects": [{"object_id": "car", "color_name": "red", "position": ["car_x", "car_y", "car_z"],
                 "rotation": ["car_pitch", "car_yaw", "car_roll"]}],
}


def make_carla(root: Path, n: int = 10, edit: Callable[[list], None] | None = None, video_frames: int | None = None) -> list[list]:
    rows = carla_rows(n)
    if edit:
        edit(rows)
    write_csv(root / "town01" / "ep0.csv", CARLA_HEADER, rows)
    write_video(root / "town01" / "ep0.mp4", n if video_frames is None else video_frames, fps=20)
    return rows


HABITAT_OPTIONS = {
    "convention": "habitat", "quat_order": "wxyz", "fps": 5,
    "columns": {"timestamp": "t", "position": ["cam.position[0]", "cam.position[1]", "cam.position[2]"],
                "rotation": ["cam.rotation[0]", "cam.rotation[1]", "cam.rotation[2]", "cam.rotation[3]"]},
    "objects": [{"object_id": "chair", "color_name": "blue", "position": [f"objects.chair.position[{i}]" for i in range(3)],
                 "rotation": [f"objects.chair.rotation[{i}]" for i in range(4)]}],
}


def habitat_records(n: int, seed: int = 5) -> list[dict]:
    rng = np.random.default_rng(seed)
    q = Rotation.random(n, random_state=seed).as_quat()  # xyzw
    qo = Rotation.random(n, random_state=seed + 1).as_quat()
    return [{"t": 0.2 * i, "cam": {"position": rng.normal(0, 2, 3).tolist(), "rotation": [q[i, 3], *q[i, :3]]},
             "objects": {"chair": {"position": rng.normal(0, 2, 3).tolist(), "rotation": [qo[i, 3], *qo[i, :3]]}}}
            for i in range(n)]


def make_habitat(root: Path, n: int = 8, edit: Callable[[list], None] | None = None) -> list:
    lines = [json.dumps(r) for r in habitat_records(n)]
    if edit:
        edit(lines)
    (root / "scene_a").mkdir(parents=True, exist_ok=True)
    (root / "scene_a" / "poses.jsonl").write_text("\n".join(lines) + "\n")
    return lines


# --------------------------------------------------------------------------------------------
# healthy examples against oracles
# --------------------------------------------------------------------------------------------


def test_lerobot_v21_maps_nested_names_to_ee_and_gripper(tmp_path):
    states = make_v21(tmp_path / "arm", {0: 12, 1: 9})
    refs, reads = ingest("lerobot_v21", tmp_path / "arm")
    assert [r.episode_key for r in refs] == ["arm__episode_000000", "arm__episode_000001"]
    assert not reasons(reads)
    for ep, r in zip((0, 1), reads):
        s = states[ep].astype(np.float64)
        np.testing.assert_array_equal(r.columns["ee_pos_base_m"], s[:, :3])
        np.testing.assert_array_equal(r.columns["ee_rotvec_base_rad"], s[:, 3:6])
        np.testing.assert_array_equal(r.columns["gripper_width_m"], s[:, 6])
        np.testing.assert_array_equal(r.columns["media_frame_index"], np.arange(len(s)))
        assert r.columns["media_path"][0] == f"videos/chunk-{ep:03d}/observation.images.top/episode_{ep:06d}.mp4"
        assert r.signals == ["ee_pose", "gripper", "video"] and r.note is None
        assert (r.fps, r.width_px, r.height_px) == (10.0, 64, 48)
        assert "joint_state" not in r.columns


def test_lerobot_v21_state_mapping_option_and_joint_space_note(tmp_path):
    names = [f"joint_{i}" for i in range(7)]
    states = make_v21(tmp_path / "a", {3: 6}, names=names, nested=False)
    _, (r,) = ingest("lerobot_v21", tmp_path / "a")
    assert r.note.startswith("joint-space only") and "joint_0" in r.note
    assert r.signals == ["joint_state", "video"] and r.columns.get("ee_pos_base_m") is None
    np.testing.assert_array_equal(r.columns["joint_state"], states[3].astype(np.float64))
    mapping = {"ee_pos_base_m": [4, 5, 6], "gripper_width_m": 0}
    _, (r,) = ingest("lerobot_v21", tmp_path / "a", {"state_mapping": mapping})
    assert r.note is None
    np.testing.assert_array_equal(r.columns["ee_pos_base_m"], states[3][:, 4:7].astype(np.float64))
    np.testing.assert_array_equal(r.columns["gripper_width_m"], states[3][:, 0].astype(np.float64))


def test_umi_csv_and_arrow_agree_with_the_raw_numbers(tmp_path):
    rows = make_umi(tmp_path / "umi", n=15, arrow=True)
    raw = np.array([r[4:11] for r in rows], dtype=np.float64)
    got = {}
    for table in ("csv", "arrow"):
        refs, (r,) = ingest("umi_v1", tmp_path / "umi", {"table": table})
        assert refs[0].episode_key == "umi__episode_000000" and not reasons([r])
        assert r.columns["cam2world"] is None and r.signals == ["ee_pose", "gripper", "video"]
        np.testing.assert_array_equal(r.columns["media_frame_index"], np.arange(15))
        got[table] = r
    np.testing.assert_array_equal(got["csv"].columns["ee_pos_base_m"], raw[:, :3])
    np.testing.assert_allclose(got["arrow"].columns["ee_pos_base_m"], raw[:, :3], rtol=1e-6)  # float32 in arrow
    np.testing.assert_allclose(got["arrow"].columns["gripper_width_m"], raw[:, 6], rtol=1e-6)
    length = np.linalg.norm(np.diff(raw[:, :3], axis=0), axis=1).sum()
    assert umi_v1.ee_path_length_m(got["csv"]) == pytest.approx(length)


def test_robot_table_quaternions_units_episodes_and_video(tmp_path):
    rows = make_table(tmp_path, {"a": 8, "b": 6})
    refs, reads = ingest("robot_table", tmp_path, TABLE_OPTIONS)
    assert [r.episode_key for r in refs] == ["logs__arm__a", "logs__arm__b"] and not reasons(reads)
    for run, r in zip("ab", reads):
        raw = np.array([x[1:] for x in rows if x[0] == run], dtype=np.float64)
        np.testing.assert_allclose(r.columns["timestamp_s"], (raw[:, 0] - raw[0, 0]) / 1000.0)
        np.testing.assert_array_equal(r.columns["ee_pos_base_m"], raw[:, 1:4])
        oracle = Rotation.from_quat(raw[:, 4:8], scalar_first=True).as_rotvec()
        np.testing.assert_allclose(r.columns["ee_rotvec_base_rad"], oracle, atol=1e-9)
        np.testing.assert_allclose(r.columns["gripper_width_m"], raw[:, 8] / 1000.0)
        assert r.columns["media_path"][0] == f"logs/videos/{run}.mp4"
        np.testing.assert_array_equal(r.columns["media_frame_index"], np.arange(len(raw)))
        assert (r.width_px, r.height_px) == (64, 48)


def test_robot_table_parquet_list_columns_frame_column_and_fixed_camera(tmp_path):
    n = 7
    s = ee_state(n, 1).astype(np.float64)
    (tmp_path / "d").mkdir()
    pq.write_table(pa.table({"stamp": np.arange(n) * 0.1, "frame": np.arange(n) + 2,
                             "state": pa.FixedSizeListArray.from_arrays(pa.array(s.ravel()), 7)}), tmp_path / "d" / "ep.parquet")
    write_video(tmp_path / "d" / "cam.mp4", n + 2)
    cam2base = np.eye(4)
    cam2base[:3, 3] = [1.0, 0.0, 0.5]
    opts = {"columns": {"timestamp": "stamp", **{k: f"state[{i}]" for i, k in enumerate(["ee_x", "ee_y", "ee_z", "ee_rx", "ee_ry", "ee_rz", "gripper"])}},
            "video": "cam.mp4", "frame_column": "frame", "cam2base": cam2base.tolist(), "intrinsics": {"fx": 50, "fy": 50, "cx": 32, "cy": 24}}
    _, (r,) = ingest("robot_table", tmp_path, opts)
    np.testing.assert_array_equal(r.columns["ee_rotvec_base_rad"], s[:, 3:6])
    np.testing.assert_array_equal(r.columns["media_frame_index"], np.arange(n) + 2)
    np.testing.assert_array_equal(r.columns["cam2world"], np.broadcast_to(cam2base, (n, 4, 4)))
    assert r.intrinsics_px == (50.0, 50.0, 32.0, 24.0) and r.signals == ["camera_pose", "ee_pose", "gripper", "video"]


def test_sim_pose_table_carla_csv_against_carla_forward_vectors(tmp_path):
    rows = make_carla(tmp_path, n=10)
    refs, (r,) = ingest("sim_pose_table", tmp_path, CARLA_OPTIONS, domain="simulation")
    assert refs[0].episode_key == "town01__ep0" and not reasons([r])
    raw = np.array(rows, dtype=np.float64)
    loc, pyr = raw[:, 1:4], raw[:, 4:7]
    p, y = np.radians(pyr[:, 0]), np.radians(pyr[:, 1])
    forward_ue = np.stack([np.cos(p) * np.cos(y), np.cos(p) * np.sin(y), np.sin(p)], 1)  # carla.Rotation.get_forward_vector
    target_world = (loc + 5.0 * forward_ue) * [1, -1, 1]  # right-handed world: y flipped
    cam = r.columns["cam2world"]
    in_cam = np.einsum("nij,nj->ni", se3.invert(cam)[:, :3, :3], target_world) + se3.invert(cam)[:, :3, 3]
    np.testing.assert_allclose(in_cam, np.tile([0, 0, 5.0], (len(raw), 1)), atol=1e-9)
    car = np.array([o[0]["obj2world"] for o in r.columns["objects"]]).reshape(-1, 4, 4)
    np.testing.assert_allclose(car[:, :3, 3], raw[:, 7:10] * [1, -1, 1])
    assert r.columns["objects"][0][0]["object_id"] == "car" and r.columns["objects"][0][0]["color_name"] == "red"
    assert r.intrinsics_px == pytest.approx((32.0, 32.0, 32.0, 24.0)) and r.fps == pytest.approx(20.0)
    np.testing.assert_array_equal(r.columns["media_frame_index"], np.arange(10))


def test_sim_pose_table_habitat_jsonl_against_scipy(tmp_path):
    records = [json.loads(x) for x in make_habitat(tmp_path)]
    _, (r,) = ingest("sim_pose_table", tmp_path, HABITAT_OPTIONS, domain="simulation")
    assert not reasons([r]) and r.signals == ["camera_pose", "objects"] and r.columns["media_path"] is None
    w = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)
    for rec, cam in zip(records, r.columns["cam2world"]):
        t_h = np.array(rec["cam"]["position"])
        rot_h = Rotation.from_quat(rec["cam"]["rotation"], scalar_first=True).as_matrix()
        ahead, up = t_h + rot_h @ [0, 0, -3.0], t_h + rot_h @ [0, 1.0, 0]  # OpenGL camera: looks along -z, y up
        to_cam = se3.invert(cam)
        np.testing.assert_allclose(to_cam[:3, :3] @ (w @ ahead) + to_cam[:3, 3], [0, 0, 3.0], atol=1e-9)
        np.testing.assert_allclose(to_cam[:3, :3] @ (w @ up) + to_cam[:3, 3], [0, -1.0, 0], atol=1e-9)  # OpenCV y is down
    chair = np.array(r.columns["objects"][2][0]["obj2world"]).reshape(4, 4)
    np.testing.assert_allclose(chair[:3, 3], w @ records[2]["objects"]["chair"]["position"])


# --------------------------------------------------------------------------------------------
# simulator conventions: worked examples, round trips, determinants
# --------------------------------------------------------------------------------------------


def test_habitat_identity_camera_looks_along_minus_z_habitat():
    cam = habitat_to_opencv(np.array([[1.0, 2.0, 3.0]]), np.array([[0.0, 0.0, 0.0, 1.0]]))[0]
    w = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)  # R_x(+90 deg): y-up -> z-up
    np.testing.assert_allclose(cam[:3, 2], w @ [0, 0, -1])  # OpenCV forward = the converted -z_habitat ...
    np.testing.assert_allclose(cam[:3, 2], [0, 1, 0])  # ... which is +y in the z-up world
    np.testing.assert_allclose(cam[:3, 1], [0, 0, -1])  # image down = world down
    np.testing.assert_allclose(cam[:3, 0], [1, 0, 0])
    np.testing.assert_allclose(cam[:3, 3], [1.0, -3.0, 2.0])  # (x, y, z)_hab -> (x, -z, y)


def test_carla_yaw_plus_90_faces_world_minus_y():
    cam = carla_to_opencv(np.array([1.0, 2.0, 3.0]), np.array([0.0, 90.0, 0.0]))
    # UE yaw +90 turns right, towards +y_UE; the right-handed world flips y, so forward is -y.
    np.testing.assert_allclose(cam[:3, 2], [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(cam[:3, 1], [0, 0, -1], atol=1e-12)  # image down = world down
    np.testing.assert_allclose(cam[:3, 0], [-1, 0, 0], atol=1e-12)  # facing -y, the right-hand side is -x
    np.testing.assert_allclose(cam[:3, 3], [1.0, -2.0, 3.0])
    ident = carla_to_opencv(np.zeros(3), np.zeros(3))
    np.testing.assert_allclose(ident[:3, :3], [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12)  # forward +x, right -y


@pytest.mark.parametrize("before, after, expected", [
    ([0.0, -20.0, 0.0], [10.0, -20.0, 0.0], [10, 0, 0]),  # pitch +10: look up -> +rotvec_x (pitch_up)
    ([0.0, -20.0, 0.0], [0.0, -10.0, 0.0], [0, 10, 0]),  # yaw +10: turn right -> +rotvec_y (yaw_left = -10)
    ([5.0, -20.0, 0.0], [5.0, -20.0, 10.0], [0, 0, 10]),  # roll +10: right side down -> +rotvec_z (clockwise)
])
def test_carla_pitch_yaw_roll_become_pitch_up_yaw_right_roll_clockwise(before, after, expected):
    """CARLA angle changes, seen as the motion between the two OpenCV cameras (in the first one's axes)."""
    a = carla_to_opencv(np.zeros(3), np.array(before))
    b = carla_to_opencv(np.zeros(3), np.array(after))
    rotvec = np.degrees(se3.matrix_to_rotvec(se3.relative(a, b)[:3, :3]))
    np.testing.assert_allclose(rotvec, expected, atol=1e-9)


def test_habitat_turn_left_is_yaw_left():
    """A Habitat camera turning +15 deg about its up axis (counter-clockwise from above) turns left."""
    q0 = Rotation.from_euler("y", 30, degrees=True)
    q1 = Rotation.from_euler("y", 45, degrees=True)
    a, b = habitat_to_opencv(np.zeros((2, 3)), np.stack([q0.as_quat(), q1.as_quat()]))
    rotvec = np.degrees(se3.matrix_to_rotvec(se3.relative(a, b)[:3, :3]))
    np.testing.assert_allclose(rotvec, [0, -15.0, 0], atol=1e-9)  # yaw_left_deg = -rotvec_y = +15


def test_carla_matrix_matches_scipy_intrinsic_zyx():
    pyr = np.random.default_rng(0).uniform(-180, 180, (200, 3))
    oracle = Rotation.from_euler("ZYX", np.stack([pyr[:, 1], -pyr[:, 0], -pyr[:, 2]], 1), degrees=True).as_matrix()
    np.testing.assert_allclose(carla_rotation_ue(pyr), oracle, atol=1e-12)


def test_round_trips_and_determinants_over_random_batches():
    rng = np.random.default_rng(1)
    n = 2000
    loc = rng.normal(0, 50, (n, 3))
    pyr = np.stack([rng.uniform(-89.9, 89.9, n), rng.uniform(-179.9, 179.9, n), rng.uniform(-179.9, 179.9, n)], 1)
    cams = carla_to_opencv(loc, pyr)
    loc2, pyr2 = opencv_to_carla(cams)
    np.testing.assert_allclose(loc2, loc, atol=1e-9)
    np.testing.assert_allclose(pyr2, pyr, atol=1e-7)
    np.testing.assert_allclose(carla_to_opencv(*opencv_to_carla(cams)), cams, atol=1e-12)
    q = Rotation.random(n, random_state=2).as_quat()
    hab = habitat_to_opencv(loc, q)
    pos2, q2 = opencv_to_habitat(hab)
    np.testing.assert_allclose(pos2, loc, atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(q2 * q, axis=1)), 1.0, atol=1e-12)  # q and -q are one rotation
    np.testing.assert_allclose(habitat_to_opencv(pos2, q2), hab, atol=1e-12)
    for m in (cams, hab, carla_object_to_world(loc, pyr), habitat_object_to_world(loc, q)):
        err, det = se3.rotation_defect(m[:, :3, :3])
        assert err.max() < 1e-12 and np.allclose(det, 1.0, atol=1e-12)
    np.testing.assert_allclose(carla_object_to_world(np.zeros(3), np.zeros(3)), np.eye(4), atol=1e-15)
    np.testing.assert_allclose(habitat_object_to_world(np.zeros(3), [0, 0, 0, 1.0]), np.eye(4), atol=1e-15)


# --------------------------------------------------------------------------------------------
# real samples
# --------------------------------------------------------------------------------------------


def test_real_unitree_g1_lerobot_v21_joint_space_with_av1_video():
    from remot_pipeline.sources.video import read_frames_rgb

    root = real_path("unitree_g1_lerobot_v21_subset")
    refs, reads = ingest("lerobot_v21", root)
    assert [r.episode_key for r in refs] == ["unitree_g1_lerobot_v21_subset__episode_000001",
                                             "unitree_g1_lerobot_v21_subset__episode_000002"]
    assert [r.n_frames for r in reads] == [393, 343] and not reasons(reads)
    for r in reads:
        assert r.note.startswith("joint-space only") and "kLeftShoulderPitch" in r.note
        assert r.signals == ["joint_state", "video"] and r.columns["joint_state"].shape[1] == 26
        assert (r.fps, r.width_px, r.height_px) == (30.0, 640, 480)
        np.testing.assert_array_equal(r.columns["media_frame_index"], np.arange(r.n_frames))
    video = root / reads[1].columns["media_path"][0]
    ((index, rgb),) = list(read_frames_rgb(video, [5]))
    assert index == 5 and rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8 and rgb.std() > 1.0


@pytest.mark.parametrize("table", ["csv", "arrow"])
def test_real_umi_cup_in_the_wild(table):
    root = real_path("umi_cup_in_the_wild_lerobot_v1")
    _, (r,) = ingest("umi_v1", root, {"table": table})
    assert r.n_frames == 400 and r.rows_in == 400 and not reasons([r])
    assert umi_v1.ee_path_length_m(r) == pytest.approx(1.50, abs=0.01)
    g = np.asarray(r.columns["gripper_width_m"])
    assert g.min() == pytest.approx(0.056, abs=5e-4) and g[0] == pytest.approx(0.081, abs=5e-4)
    assert g.max() == pytest.approx(0.085, abs=5e-4)  # reopened wider after the place (frame 351)
    assert r.columns["cam2world"] is None and (r.fps, r.width_px, r.height_px) == (10.0, 224, 224)
    assert r.columns["media_frame_index"][-1] == 399


# --------------------------------------------------------------------------------------------
# bad-input corpus
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    fmt: str
    build: Callable[[Path], dict | None]  # writes the source under the path, returns its options
    expect: str | frozenset  # reason codes, or "SourceError:<substring>"
    rows_in: int | None = None  # total input rows, when known


def _set_state(ep_row_col_value):
    ep0, row, col, value = ep_row_col_value

    def edit(ep, cols):
        if ep == ep0:
            cols["observation.state"] = cols["observation.state"].copy()
            cols["observation.state"][row, col] = value
    return edit


def _set_ts(ep0, row, value):
    def edit(ep, cols):
        if ep == ep0:
            cols["timestamp"] = cols["timestamp"].copy()
            cols["timestamp"][row] = value
    return edit


def _v21(**kw):
    def build(root):
        make_v21(root, {0: 10, 1: 8}, **kw)
    return build


def _v21_then(after, **kw):
    def build(root):
        make_v21(root, {0: 10, 1: 8}, **kw)
        after(root)
    return build


def _drop_parquet(root):
    (root / "data/chunk-001/episode_000001.parquet").unlink()


def _truncate_video(root):
    v = root / "videos/chunk-000/observation.images.top/episode_000000.mp4"
    v.write_bytes(v.read_bytes()[: v.stat().st_size // 3])


def _corrupt_parquet(root):
    (root / "data/chunk-000/episode_000000.parquet").write_bytes(b"PAR1 this is not parquet")


def _unlink_video(root):
    (root / "videos/chunk-001/observation.images.top/episode_000001.mp4").unlink()


def _bad_jsonl(root):
    p = root / "meta" / "episodes.jsonl"
    p.write_text(p.read_text() + '{"episode_index": oops}\n')


def _umi(edit=None, video_frames=None):
    def build(root):
        make_umi(root, n=12, edit=edit, video_frames=video_frames)
        return {"table": "csv"}
    return build


def _umi_malformed(rows):
    rows[3] = rows[3][:6]  # truncated line
    rows[5][4] = "abc"  # text in eef_pos_x_m


def _table(edit=None, video_frames=None, options=None):
    def build(root):
        make_table(root, {"a": 8, "b": 6}, edit=edit, video_frames=video_frames)
        return {**TABLE_OPTIONS, **(options or {})}
    return build


def _row_set(i, col, value):
    def edit(rows):
        rows[i][TABLE_HEADER.index(col)] = value
    return edit


def _carla(edit=None, video_frames=None, options=None):
    def build(root):
        make_carla(root, n=10, edit=edit, video_frames=video_frames)
        return {**CARLA_OPTIONS, **(options or {})}
    return build


def _carla_set(i, col, value):
    def edit(rows):
        rows[i][CARLA_HEADER.index(col)] = value
    return edit


def _habitat(edit):
    def build(root):
        make_habitat(root, n=8, edit=edit)
        return HABITAT_OPTIONS
    return build


def _habitat_broken_json(lines):
    lines[2] = lines[2][:25]
    lines[4] = "[1, 2, 3]"


def _habitat_nan(lines):
    rec = json.loads(lines[1])
    rec["cam"]["position"][0] = None  # JSON null -> NaN
    lines[1] = json.dumps(rec)
    rec = json.loads(lines[3])
    rec["cam"]["rotation"] = [2.0, 0.0, 0.0, 0.0]  # |q| = 2
    lines[3] = json.dumps(rec)


def _all_but_one_bad(rows):
    for i in range(1, len(rows)):
        rows[i][CARLA_HEADER.index("pitch")] = "nan"


E = frozenset
CORPUS: list[Case] = [
    # LeRobot v2.1
    Case("v21_nan_ee_state_row", "lerobot_v21", _v21(edit=_set_state((0, 4, 1, np.nan))), E({"nan_pose"}), 18),
    Case("v21_nan_gripper", "lerobot_v21", _v21(edit=_set_state((1, 2, 6, np.inf))), E({"nan_value"}), 18),
    Case("v21_listed_episode_without_parquet", "lerobot_v21", _v21_then(_drop_parquet), E({"data_file_missing"}), 18),
    Case("v21_unreadable_parquet", "lerobot_v21", _v21_then(_corrupt_parquet), E({"data_file_unreadable"}), 18),
    Case("v21_video_shorter_than_episode", "lerobot_v21", _v21(video_frames={0: 7}), E({"video_short"}), 18),
    Case("v21_missing_video", "lerobot_v21", _v21_then(_unlink_video), E({"video_missing"}), 18),
    Case("v21_video_template_escapes_root", "lerobot_v21",
         _v21(video_path="../../{video_key}/episode_{episode_index:06d}.mp4"), E({"path_escapes_root"}), 18),
    Case("v21_truncated_mp4", "lerobot_v21", _v21_then(_truncate_video), E({"video_unreadable"}), 18),
    Case("v21_unsorted_timestamps", "lerobot_v21", _v21(edit=_set_ts(0, 5, 0.05)), E({"timestamp_unsorted"}), 18),
    Case("v21_duplicate_timestamps", "lerobot_v21", _v21(edit=_set_ts(1, 3, 0.2)), E({"timestamp_duplicate"}), 18),
    Case("v21_malformed_episodes_jsonl", "lerobot_v21", _v21_then(_bad_jsonl), "SourceError:episodes.jsonl: line 3"),
    Case("v21_is_really_v3", "lerobot_v21", _v21(version="v3.0"), "SourceError:declare format lerobot_v3"),
    Case("v21_data_template_escapes_root", "lerobot_v21",
         _v21(data_path="../outside/episode_{episode_index:06d}.parquet"), "SourceError:data_path"),
    # UMI (LeRobot v1)
    Case("umi_malformed_rows", "umi_v1", _umi(edit=_umi_malformed), E({"malformed_line"}), 12),
    Case("umi_video_short", "umi_v1", _umi(video_frames=9), E({"video_short"}), 12),
    Case("umi_no_fps", "umi_v1", lambda root: (_umi()(root), (root / "meta_data" / "info.json").unlink(), {"table": "csv"})[-1],
         "SourceError:meta_data/info.json: missing"),
    # robot_table
    Case("table_missing_declared_column", "robot_table", _table(options={"columns": {**TABLE_OPTIONS["columns"], "ee_z": "zz"}}),
         "SourceError:declared column 'zz' (end-effector position)"),
    Case("table_gripper_nan", "robot_table", _table(edit=_row_set(2, "grip_mm", "nan")), E({"nan_value"}), 14),
    Case("table_gripper_empty_and_pose_nan", "robot_table",
         _table(edit=lambda rows: (_row_set(1, "grip_mm", "")(rows), _row_set(9, "x", "NaN")(rows))), E({"nan_value", "nan_pose"}), 14),
    Case("table_quaternion_not_unit", "robot_table", _table(edit=_row_set(4, "qw", 3.0)), E({"quat_not_unit"}), 14),
    Case("table_duplicate_and_unsorted", "robot_table",
         _table(edit=lambda rows: (_row_set(3, "t_ms", rows[2][1])(rows), _row_set(10, "t_ms", 0.0)(rows))),
         E({"timestamp_duplicate", "timestamp_unsorted"}), 14),
    Case("table_video_short", "robot_table", _table(video_frames={"b": 4}), E({"video_short"}), 14),
    # sim_pose_table
    Case("carla_text_in_number_field", "sim_pose_table", _carla(edit=_carla_set(3, "yaw", "north")), E({"malformed_line"}), 10),
    Case("carla_video_escapes_root", "sim_pose_table", _carla(options={"video": "../../../etc/ep0.mp4"}), E({"path_escapes_root"}), 10),
    Case("carla_video_short", "sim_pose_table", _carla(video_frames=6), E({"video_short"}), 10),
    Case("carla_negative_frame_index", "sim_pose_table", _carla(edit=_carla_set(2, "frame", -1)), E({"frame_index_invalid"}), 10),
    Case("carla_one_healthy_row_left", "sim_pose_table", _carla(edit=_all_but_one_bad), E({"nan_pose", "episode_unusable"}), 10),
    Case("carla_bad_convention", "sim_pose_table", _carla(options={"convention": "unity"}), "SourceError:convention 'unity'"),
    Case("habitat_broken_json_lines", "sim_pose_table", _habitat(_habitat_broken_json), E({"malformed_line"}), 8),
    Case("habitat_null_position_and_long_quaternion", "sim_pose_table", _habitat(_habitat_nan), E({"nan_pose", "quat_not_unit"}), 8),
]


# The corpus above runs with every other malformed input in tests/test_malformed_corpus.py.


def test_generated_sources_pass_ingestion_and_the_episodes_contract(tmp_path):
    """Through the registry, the readers feed ingest_episodes unchanged."""
    from remot_pipeline.core.ingest import ingest_episodes
    from remot_pipeline.sources import READERS

    for fmt, module in MODULES.items():
        assert READERS[fmt].discover is module.discover and READERS[fmt].read is module.read
    make_v21(tmp_path / "v21", {0: 6, 1: 5}, names=[f"j{i}" for i in range(7)])
    make_umi(tmp_path / "umi", n=6)
    make_table(tmp_path / "table", {"a": 5, "b": 4})
    make_carla(tmp_path / "carla", n=6)
    specs = [SourceSpec("v21", "manipulation", "lerobot_v21", tmp_path / "v21"),
             SourceSpec("umi", "manipulation", "umi_v1", tmp_path / "umi"),
             SourceSpec("table", "manipulation", "robot_table", tmp_path / "table", TABLE_OPTIONS),
             SourceSpec("carla", "simulation", "sim_pose_table", tmp_path / "carla", CARLA_OPTIONS)]
    refs = [ref for s in specs for ref in MODULES[s.format].discover(s)]
    episodes, frames = ingest_episodes(refs, 0.34)
    assert frames.balanced() and frames.rows_quarantined == 0 and frames.rows_out == 11 + 6 + 9 + 6
    by_id = {e["episode_id"]: e for e in episodes.to_pylist()}
    assert by_id["v21/v21__episode_000000"]["note"].startswith("joint-space only")
    assert by_id["umi/umi__episode_000000"]["signals"] == ["ee_pose", "gripper", "video"]
    assert by_id["carla/town01__ep0"]["signals"] == ["camera_pose", "objects", "video"]


def test_robot_table_single_file_and_jsonl_records(tmp_path):
    path = write_csv(tmp_path / "one.csv", ["t", "x", "y", "z"], [[i * 0.5, i, 0, 0] for i in range(4)])
    _, (r,) = ingest("robot_table", path, {"columns": {"timestamp": "t", "ee_x": "x", "ee_y": "y", "ee_z": "z"}})
    assert r.n_frames == 4 and r.fps == pytest.approx(2.0) and r.columns["media_path"] is None
    assert r.signals == ["ee_pose"]
    lines = [json.dumps({"t": i * 0.5, "arm": {"p": [i, 0, 0]}, "g": 0.01 * i}) for i in range(5)]
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "log.jsonl").write_text("\n".join(lines[:2] + ['{"t": 9}'] + lines[2:]) + "\n")
    opts = {"glob": "*.jsonl", "columns": {"timestamp": "t", "ee_x": "arm.p[0]", "ee_y": "arm.p[1]", "ee_z": "arm.p[2]", "gripper": "g"}}
    _, (r,) = ingest("robot_table", tmp_path / "j", opts)
    assert r.n_frames == 5 and [x["line"] for x in r.quarantine.table().to_pylist()] == [3]
    assert reasons([r]) == {"malformed_line"}  # a record without the pose keys
