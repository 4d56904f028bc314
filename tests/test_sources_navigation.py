"""Navigation readers (kitti, euroc, realestate10k, nerf, scannet, sevenscenes, pose_table):
healthy generated examples against independent scipy oracles, the real RealEstate10K clips,
and a bad-input corpus (``CORPUS``) where every case must end in its reason code (or a
one-line SourceError) with every input row accounted for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.spatial.transform import RigidTransform, Rotation

from remot_pipeline.core.ingest import ingest_episodes
from remot_pipeline.sources import READERS, SourceError, SourceSpec
from remot_pipeline.sources import euroc, kitti, nerf, pose_table, realestate10k, scannet, sevenscenes
from remot_pipeline.synthetic.video import Mp4Writer
from tests.conftest import real_path

MODULES = {m.FORMAT: m for m in (kitti, euroc, realestate10k, nerf, scannet, sevenscenes, pose_table)}
GL_TO_CV = RigidTransform.from_rotation(Rotation.from_euler("x", np.pi))  # diag(1, -1, -1) as a rigid motion


# ----------------------------------------------------------------------------- generators


def rigid(n: int, seed: int) -> np.ndarray:
    """``n`` random rigid transforms (n, 4, 4) from scipy."""
    rng = np.random.default_rng(seed)
    return RigidTransform.from_components(rng.normal(size=(n, 3)) * 2.0, Rotation.random(n, rng=rng)).as_matrix()


def num(v: float) -> str:
    return f"{float(v):.17g}"


def write_rows(path: Path, rows, sep: str = " ", header: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = [header] if header else []
    text += [sep.join(num(v) if not isinstance(v, str) else v for v in row) for row in rows]
    path.write_text("\n".join(text) + "\n")
    return path


def png(path: Path, w: int = 8, h: int = 6) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = (np.random.default_rng(len(str(path))).integers(0, 255, (h, w, 3))).astype(np.uint8)
    assert cv2.imwrite(str(path), img)


def mp4(path: Path, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Mp4Writer(path, 10.0, 32, 32) as w:
        for i in range(n):
            w.write(np.full((32, 32, 3), 20 * i % 255, np.uint8))


def edit_line(path: Path, line_no: int, text: str | None) -> None:
    """Replace (or with None delete) 1-based line ``line_no``."""
    lines = path.read_text().splitlines()
    if text is None:
        del lines[line_no - 1]
    else:
        lines[line_no - 1] = text
    path.write_text("\n".join(lines) + "\n")


def write_kitti(root: Path, n: int = 6, times: bool = True, images: bool = True, seed: int = 0) -> np.ndarray:
    t = rigid(n, seed)
    write_rows(root / "poses" / "00.txt", t[:, :3, :].reshape(n, 12))
    if times:
        write_rows(root / "sequences" / "00" / "times.txt", (0.05 + 0.1 * np.arange(n))[:, None])
    for i in range(n if images else 0):
        png(root / "sequences" / "00" / "image_2" / f"{i:06d}.png")
    return t


EUROC_T0 = 1403636579758555392  # ns; beyond float64's exact integers


def write_euroc(root: Path, seq: str = "MH_01_easy", n_gt: int = 60, camera: bool = True, sensor: bool = True, seed: int = 1):
    mav = root / seq / "mav0"
    rng = np.random.default_rng(seed)
    ns = EUROC_T0 + 5_000_000 * np.arange(n_gt, dtype=np.int64)
    p, q_wxyz = rng.normal(size=(n_gt, 3)), Rotation.random(n_gt, rng=rng).as_quat(scalar_first=True)
    header = "#timestamp, p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], q_RS_w [], q_RS_x [], q_RS_y [], q_RS_z [], " \
             "v_RS_R_x [m s^-1], v_RS_R_y [m s^-1], v_RS_R_z [m s^-1], b_w_RS_S_x [rad s^-1], b_w_RS_S_y [rad s^-1], " \
             "b_w_RS_S_z [rad s^-1], b_a_RS_S_x [m s^-2], b_a_RS_S_y [m s^-2], b_a_RS_S_z [m s^-2]"
    write_rows(mav / "state_groundtruth_estimate0" / "data.csv",
               [[str(t), *p[i], *q_wxyz[i], *np.zeros(9)] for i, t in enumerate(ns)], sep=",", header=header)
    t_bs = rigid(1, seed + 10)[0]
    if camera:
        cam_ns = ns[::10] + 1000  # 20 Hz, 1 us after a ground-truth sample
        write_rows(mav / "cam0" / "data.csv", [[str(t), f"{t}.png"] for t in cam_ns], sep=",", header="#timestamp [ns],filename")
        for t in cam_ns:
            png(mav / "cam0" / "data" / f"{t}.png", 12, 8)
        if sensor:
            data = ", ".join(num(v) for v in t_bs.ravel())
            (mav / "cam0" / "sensor.yaml").write_text(
                "sensor_type: camera\ncomment: VI-Sensor cam0\nT_BS:\n  cols: 4\n  rows: 4\n"
                f"  data: [{data}]\nrate_hz: 20\nresolution: [12, 8]\ncamera_model: pinhole\n"
                "intrinsics: [458.654, 457.296, 367.215, 248.375] #fu, fv, cu, cv\n")
    return mav, t_bs


def write_re10k(root: Path, clip: str = "0a1b2c3d4e5f", n: int = 8, seed: int = 2) -> Path:
    c2w = rigid(n, seed)
    w2c = np.linalg.inv(c2w)
    rows = [[str(1_000_000 + 33_367 * i), 0.47, 0.84, 0.5, 0.5, 0.0, 0.0, *w2c[i, :3, :].ravel()] for i in range(n)]
    path = write_rows(root / f"{clip}.txt", rows)
    path.write_text("https://www.youtube.com/watch?v=QShWPZxTDoE\n" + path.read_text())
    return path


def write_nerf(root: Path, n: int = 5, time: bool = False, seed: int = 3) -> dict:
    c2w_gl = rigid(n, seed)
    order = np.random.default_rng(seed).permutation(n)  # the JSON lists frames out of order
    frames = []
    for i in order:
        png(root / "images" / f"frame_{i + 1:05d}.png", 10, 8)
        fr = {"file_path": f"./images/frame_{i + 1:05d}", "transform_matrix": c2w_gl[i].tolist()}
        if time:
            fr["time"] = float(i) / (n - 1)
        frames.append(fr)
    doc = {"fl_x": 11.0, "fl_y": 12.0, "cx": 5.0, "cy": 4.0, "w": 10, "h": 8, "frames": frames}
    (root / "transforms.json").write_text(json.dumps(doc, indent=2))
    return {"c2w_gl": c2w_gl, "doc": doc}


def write_scannet(root: Path, ids=(0, 1, 2, 5, 10, 12), seed: int = 4, color: bool = True) -> np.ndarray:
    t = rigid(len(ids), seed)
    scan = root / "scene0007_01"
    for k, i in enumerate(ids):
        write_rows(scan / "pose" / f"{i}.txt", t[k])
        if color:
            png(scan / "color" / f"{i}.jpg", 16, 12)
    write_rows(scan / "intrinsic" / "intrinsic_color.txt", [[1170.2, 0, 647.8, 0], [0, 1170.2, 483.8, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    return t


def write_7scenes(root: Path, n: int = 5, seed: int = 5) -> np.ndarray:
    t = rigid(n, seed)
    seq = root / "chess" / "seq-01"
    for i in range(n):
        write_rows(seq / f"frame-{i:06d}.pose.txt", t[i], sep="\t")
        png(seq / f"frame-{i:06d}.color.png")
    return t


PT_OPTIONS = dict(columns={"timestamp": "t_ms", "tx": "x", "ty": "y", "tz": "z", "quat": ["qw", "qx", "qy", "qz"]},
                  quat_order="wxyz", convention="world2cam", axes="opengl", timestamp_unit="ms", image_column="img")


def write_pose_table(root: Path, n: int = 6, seed: int = 6) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(seed)
    t, q_wxyz = rng.normal(size=(n, 3)), Rotation.random(n, rng=rng).as_quat(scalar_first=True)
    rows = []
    for i in range(n):
        png(root / "frames" / f"{i}.png")
        rows.append([str(100 + 40 * i), *t[i], *q_wxyz[i], f"frames/{i}.png"])
    path = write_rows(root / "log.csv", rows, sep=",", header="t_ms,x,y,z,qw,qx,qy,qz,img")
    return path, np.hstack([t, q_wxyz])


# ----------------------------------------------------------------------------- reading


@pytest.fixture
def registered():
    """The readers are in the registry that ingest_episodes uses."""
    for fmt, m in MODULES.items():
        assert READERS[fmt].read is m.read and READERS[fmt].discover is m.discover


def read_all(fmt: str, path: Path, **options):
    spec = SourceSpec("src", "navigation", fmt, path, options)
    refs = MODULES[fmt].discover(spec)
    reads = [MODULES[fmt].read(r) for r in refs]
    for r in reads:
        assert r.rows_in == r.n_frames + len(r.quarantine), (r.ref.episode_id, r.rows_in, r.n_frames, len(r.quarantine))
    return reads


def one(fmt: str, path: Path, **options):
    (r,) = read_all(fmt, path, **options)
    return r


def quarantine(r) -> list[dict]:
    return r.quarantine.table().to_pylist()


def assert_clean(r, n: int) -> None:
    assert quarantine(r) == [] and r.n_frames == n
    c = r.columns
    np.testing.assert_array_equal(c["frame_index"], np.arange(n))
    assert c["timestamp_s"][0] == 0.0 and np.all(np.diff(c["timestamp_s"]) > 0)
    assert c["cam2world"].shape == (n, 4, 4) and c["cam2world"].dtype == np.float64


# ----------------------------------------------------------------------------- healthy examples vs oracles


def test_kitti_3x4_cam2world_times_and_images(tmp_path, registered):
    write_kitti(tmp_path)
    raw = np.loadtxt(tmp_path / "poses" / "00.txt").reshape(-1, 3, 4)
    oracle = RigidTransform.from_matrix(np.concatenate([raw, np.tile([[[0, 0, 0, 1.0]]], (len(raw), 1, 1))], 1)).as_matrix()
    r = one("kitti", tmp_path)
    assert_clean(r, 6)
    np.testing.assert_allclose(r.columns["cam2world"], oracle, atol=1e-9)
    np.testing.assert_allclose(r.columns["timestamp_s"], 0.1 * np.arange(6), atol=1e-12)
    assert r.columns["media_path"][3] == "sequences/00/image_2/000003.png" and (r.width_px, r.height_px) == (8, 6)
    assert r.ref.episode_key == "00" and r.signals == ["camera_pose", "images"]
    assert "cam0 pose stands for image_2" in r.note  # no calib.txt to move it
    episodes, frames = ingest_episodes([r.ref], 0.3)
    assert frames.balanced() and frames.rows_out == 6


def test_kitti_without_times_uses_fps_and_calib_moves_pose_to_cam2(tmp_path):
    t = write_kitti(tmp_path, times=False, images=False)
    p2 = np.array([[700.0, 0, 600, 44.9], [0, 710, 180, 0.2], [0, 0, 1, 0.003]])
    (tmp_path / "sequences" / "00").mkdir(parents=True)
    (tmp_path / "sequences" / "00" / "calib.txt").write_text("P0: " + " ".join(["1"] * 12) + "\nP2: " + " ".join(num(v) for v in p2.ravel()) + "\n")
    r = one("kitti", tmp_path, fps=20)
    np.testing.assert_allclose(r.columns["timestamp_s"], np.arange(6) / 20)
    offset = np.linalg.solve(p2[:, :3], p2[:, 3])  # cam0 origin in cam2
    expected = (RigidTransform.from_matrix(t) * RigidTransform.from_translation(-offset)).as_matrix()
    np.testing.assert_allclose(r.columns["cam2world"], expected, atol=1e-9)
    assert r.intrinsics_px == (700.0, 710.0, 600.0, 180.0) and r.columns["media_path"] is None


def test_euroc_w_first_quaternion_ns_times_and_t_bs(tmp_path, registered):
    mav, t_bs = write_euroc(tmp_path)
    raw = np.loadtxt(mav / "state_groundtruth_estimate0" / "data.csv", delimiter=",", comments="#")
    body = RigidTransform.from_components(raw[:, 1:4], Rotation.from_quat(raw[:, 4:8], scalar_first=True))
    oracle = (body[::10] * RigidTransform.from_matrix(t_bs)).as_matrix()
    r = one("euroc", tmp_path)
    assert_clean(r, 6)
    np.testing.assert_allclose(r.columns["cam2world"], oracle, atol=1e-9)
    np.testing.assert_allclose(r.columns["timestamp_s"], 0.05 * np.arange(6), rtol=0, atol=1e-12)  # float64 ns would err by 2.6e-7
    assert r.columns["media_path"][0] == f"MH_01_easy/mav0/cam0/data/{EUROC_T0 + 1000}.png"
    assert r.intrinsics_px == (458.654, 457.296, 367.215, 248.375) and (r.width_px, r.height_px) == (12, 8)
    assert r.ref.scene_id == "MH" and r.note is None
    assert ingest_episodes([r.ref], 0.3)[1].balanced()


def test_euroc_without_sensor_yaml_or_camera_says_body_pose(tmp_path):
    write_euroc(tmp_path / "a", sensor=False)
    r = one("euroc", tmp_path / "a")
    assert "body (IMU) pose" in r.note and r.n_frames == 6
    mav, _ = write_euroc(tmp_path / "b", camera=False)
    raw = np.loadtxt(mav / "state_groundtruth_estimate0" / "data.csv", delimiter=",", comments="#")
    r = one("euroc", tmp_path / "b")
    assert "pose-only" in r.note and r.columns["media_path"] is None and r.n_frames == 60
    body = RigidTransform.from_components(raw[:, 1:4], Rotation.from_quat(raw[:, 4:8], scalar_first=True)).as_matrix()
    np.testing.assert_allclose(r.columns["cam2world"], body, atol=1e-9)


def test_realestate10k_inverts_world2cam(tmp_path, registered):
    path = write_re10k(tmp_path)
    raw = np.loadtxt(path, skiprows=1)
    w2c = np.concatenate([raw[:, 7:].reshape(-1, 3, 4), np.tile([[[0, 0, 0, 1.0]]], (len(raw), 1, 1))], 1)
    r = one("realestate10k", tmp_path)
    assert_clean(r, 8)
    np.testing.assert_allclose(r.columns["cam2world"], RigidTransform.from_matrix(w2c).inv().as_matrix(), atol=1e-9)
    assert r.intrinsics_px is None and r.columns["media_path"] is None and "arbitrary" in r.note
    assert r.ref.scene_id == "QShWPZxTDoE"
    r = one("realestate10k", tmp_path, width=640, height=360)
    np.testing.assert_allclose(r.intrinsics_px, (0.47 * 640, 0.84 * 360, 320, 180))


def test_realestate10k_with_video(tmp_path, registered):
    write_re10k(tmp_path, clip="clipA")
    mp4(tmp_path / "videos" / "clipA.mp4", 8)
    r = one("realestate10k", tmp_path, video_dir="videos")
    assert_clean(r, 8)
    assert r.columns["media_path"] == ["videos/clipA.mp4"] * 8
    np.testing.assert_array_equal(r.columns["media_frame_index"], np.arange(8))
    assert (r.width_px, r.height_px) == (32, 32) and r.intrinsics_px[0] == pytest.approx(0.47 * 32)
    assert r.signals == ["camera_pose", "video"]
    assert ingest_episodes([r.ref], 0.3)[1].balanced()
    mp4(tmp_path / "full" / "clipA.mp4", 15)  # the whole source video at 10 fps: frame = round(t_s * 10)
    r = one("realestate10k", tmp_path, video_dir="full", video_frames="timestamp")
    np.testing.assert_array_equal(r.columns["media_frame_index"], np.rint((1.0 + 0.033367 * np.arange(8)) * 10))


def test_real_realestate10k_clips_ingest_cleanly(registered):
    folder = real_path("realestate10k_cameractrl")
    reads = read_all("realestate10k", folder)
    assert len(reads) == 10
    for r in reads:
        assert quarantine(r) == [] and r.n_frames == 16
    episodes, frames = ingest_episodes([r.ref for r in reads], 0.3)
    assert frames.rows_quarantined == 0 and frames.rows_out == 160 and frames.balanced()
    r = reads[0]
    raw = np.loadtxt(folder / r.ref.episode_path, skiprows=1)
    w2c = np.concatenate([raw[:, 7:].reshape(-1, 3, 4), np.tile([[[0, 0, 0, 1.0]]], (16, 1, 1))], 1)
    tf = RigidTransform.from_matrix(w2c)
    oracle = (tf[0] * tf[5].inv()).as_matrix()  # inv(c2w_0) @ c2w_5 = w2c_0 @ inv(w2c_5)
    c = r.columns["cam2world"]
    np.testing.assert_allclose(np.linalg.inv(c[0]) @ c[5], oracle, atol=1e-9)


def test_nerf_axes_conversions():
    t = rigid(7, 9).reshape(7, 4, 4)
    np.testing.assert_allclose(nerf.opencv_to_opengl(nerf.opengl_to_opencv(t)), t, atol=1e-15)
    np.testing.assert_allclose(nerf.opengl_to_opencv(nerf.opencv_to_opengl(t)), t, atol=1e-15)
    cv = nerf.opengl_to_opencv(t)
    np.testing.assert_allclose(cv[:, :3, 2], -t[:, :3, 2])  # OpenCV forward (+z) = OpenGL -z, in world
    np.testing.assert_allclose(cv[:, :3, 1], -t[:, :3, 1])  # OpenCV down = OpenGL -y (up)
    np.testing.assert_allclose(cv[:, :3, 3], t[:, :3, 3])  # same camera centre
    assert nerf.opengl_to_opencv(t[0]).shape == (4, 4)


def test_nerf_opengl_to_opencv_sorted_by_name(tmp_path, registered):
    g = write_nerf(tmp_path)
    r = one("nerf", tmp_path)
    assert_clean(r, 5)
    oracle = (RigidTransform.from_matrix(g["c2w_gl"]) * GL_TO_CV).as_matrix()
    np.testing.assert_allclose(r.columns["cam2world"], oracle, atol=1e-9)
    assert r.columns["media_path"] == [f"images/frame_{i:05d}.png" for i in range(1, 6)]
    assert r.intrinsics_px == (11.0, 12.0, 5.0, 4.0) and (r.width_px, r.height_px) == (10, 8)
    assert "ordered by file name" in r.note and r.fps == 30.0
    assert ingest_episodes([r.ref], 0.3)[1].balanced()


def test_nerf_time_field_and_camera_angle(tmp_path):
    g = write_nerf(tmp_path, time=True)
    doc = json.loads((tmp_path / "transforms.json").read_text())
    for k in ("fl_x", "fl_y", "cx", "cy"):
        del doc[k]
    doc["camera_angle_x"] = 2 * np.arctan(5 / 11.0)
    (tmp_path / "transforms.json").write_text(json.dumps(doc))
    r = one("nerf", tmp_path, time_scale_s=2.0)
    np.testing.assert_allclose(r.columns["timestamp_s"], np.arange(5) * 0.5)
    np.testing.assert_allclose(r.columns["cam2world"], (RigidTransform.from_matrix(g["c2w_gl"]) * GL_TO_CV).as_matrix(), atol=1e-9)
    np.testing.assert_allclose(r.intrinsics_px, (11.0, 11.0, 5.0, 4.0))
    assert r.note is None


def test_scannet_numeric_order_and_intrinsics(tmp_path, registered):
    t = write_scannet(tmp_path)
    r = one("scannet", tmp_path)
    assert_clean(r, 6)
    np.testing.assert_allclose(r.columns["cam2world"], RigidTransform.from_matrix(t).as_matrix(), atol=1e-9)
    np.testing.assert_allclose(r.columns["timestamp_s"], np.array([0, 1, 2, 5, 10, 12]) / 30)
    assert r.columns["media_path"][-1] == "scene0007_01/color/12.jpg"
    assert r.intrinsics_px == (1170.2, 1170.2, 647.8, 483.8) and r.ref.scene_id == "scene0007"
    scan = tmp_path / "scene0007_01"
    (scan / "pose" / "20.txt").write_text("\n".join(" ".join(f"{v:.6f}" for v in row) for row in rigid(1, 20)[0]))
    png(scan / "color" / "20.jpg", 16, 12)
    r = one("scannet", tmp_path)  # files print 6 decimals: within the default rotation_tol, projected onto SO(3)
    assert r.n_frames == 7 and not quarantine(r)
    np.testing.assert_allclose(np.swapaxes(r.columns["cam2world"][:, :3, :3], 1, 2) @ r.columns["cam2world"][:, :3, :3],
                               np.broadcast_to(np.eye(3), (7, 3, 3)), atol=1e-12)
    assert ingest_episodes([r.ref], 0.3)[1].balanced()


def test_sevenscenes_sequence_episode(tmp_path, registered):
    t = write_7scenes(tmp_path)
    r = one("sevenscenes", tmp_path)
    assert_clean(r, 5)
    np.testing.assert_allclose(r.columns["cam2world"], RigidTransform.from_matrix(t).as_matrix(), atol=1e-9)
    assert r.ref.scene_id == "chess" and r.ref.episode_key == "chess__seq-01" and r.fps == 30.0
    assert r.columns["media_path"][1] == "chess/seq-01/frame-000001.color.png"
    assert ingest_episodes([r.ref], 0.3)[1].balanced()


def test_pose_table_wxyz_world2cam_opengl_ms(tmp_path, registered):
    _, raw = write_pose_table(tmp_path)
    w2c_gl = RigidTransform.from_components(raw[:, :3], Rotation.from_quat(raw[:, 3:], scalar_first=True))
    oracle = (w2c_gl.inv() * GL_TO_CV).as_matrix()
    r = one("pose_table", tmp_path / "log.csv", **PT_OPTIONS)
    assert_clean(r, 6)
    np.testing.assert_allclose(r.columns["cam2world"], oracle, atol=1e-9)
    np.testing.assert_allclose(r.columns["timestamp_s"], 0.04 * np.arange(6))
    assert r.columns["media_path"][2] == "frames/2.png"
    assert ingest_episodes([r.ref], 0.3)[1].balanced()


def test_pose_table_parquet_matrix_and_episode_column(tmp_path, registered):
    t = rigid(8, 11)
    names = [f"m{i}{j}" for i in range(4) for j in range(4)]
    cols = {"ep": ["a"] * 4 + ["b"] * 4, "t_ns": pa.array(EUROC_T0 + 10_000_000 * np.arange(8) % 40_000_000, pa.int64())}
    cols.update({nm: t[:, k // 4, k % 4] for k, nm in enumerate(names)})
    pq.write_table(pa.table(cols), tmp_path / "poses.parquet")
    reads = read_all("pose_table", tmp_path, columns={"timestamp": "t_ns", "matrix": names}, timestamp_unit="ns", episode_column="ep")
    assert [r.ref.episode_key for r in reads] == ["poses__a", "poses__b"]
    assert [r.ref.episode_path for r in reads] == ["poses.parquet#ep=a", "poses.parquet#ep=b"]
    for r, part in zip(reads, (t[:4], t[4:])):
        assert_clean(r, 4)
        np.testing.assert_allclose(r.columns["cam2world"], RigidTransform.from_matrix(part).as_matrix(), atol=1e-9)
        np.testing.assert_allclose(r.columns["timestamp_s"], 0.01 * np.arange(4), atol=1e-12)
        assert r.columns["media_path"] is None
    assert ingest_episodes([r.ref for r in reads], 0.3)[1].balanced()


# ----------------------------------------------------------------------------- the bad-input corpus


@dataclass(frozen=True)
class Case:
    id: str
    format: str
    build: Callable[[Path], tuple[Path, dict]]  # writes the files, returns (source path, options)
    expect: str  # a reason code, or "SourceError: <substring>"
    at: tuple[str, int] | None = None  # (file suffix, line) of the first row with that code


def _kitti(mutate: Callable[[Path], None], **kw) -> Callable:
    def build(root: Path):
        write_kitti(root, **kw)
        mutate(root)
        return root, {}
    return build


def _euroc(mutate: Callable[[Path], None], **kw) -> Callable:
    def build(root: Path):
        write_euroc(root, **kw)
        mutate(root / "MH_01_easy" / "mav0")
        return root, {}
    return build


def _re10k(mutate: Callable[[Path], None], **options) -> Callable:
    def build(root: Path):
        write_re10k(root, clip="clip")
        mutate(root)
        return root, options
    return build


def _nerf(mutate: Callable[[dict, Path], None]) -> Callable:
    def build(root: Path):
        doc = write_nerf(root)["doc"]
        mutate(doc, root)
        (root / "transforms.json").write_text(json.dumps(doc, indent=2))
        return root, {}
    return build


def _scannet(mutate: Callable[[Path], None]) -> Callable:
    def build(root: Path):
        write_scannet(root)
        mutate(root / "scene0007_01")
        return root, {}
    return build


def _7scenes(mutate: Callable[[Path], None]) -> Callable:
    def build(root: Path):
        write_7scenes(root)
        mutate(root / "chess" / "seq-01")
        return root, {}
    return build


def _table(mutate: Callable[[Path], None], **options) -> Callable:
    def build(root: Path):
        path, _ = write_pose_table(root)
        mutate(root)
        return path, {**PT_OPTIONS, **options}
    return build


def _gt(mav: Path) -> Path:
    return mav / "state_groundtruth_estimate0" / "data.csv"


def _set_field(path: Path, line_no: int, field: int, value: str, sep: str = ",") -> None:
    parts = path.read_text().splitlines()[line_no - 1].split(sep)
    parts[field] = value
    edit_line(path, line_no, sep.join(parts))


def _swap_lines(path: Path, a: int, b: int) -> None:
    lines = path.read_text().splitlines()
    lines[a - 1], lines[b - 1] = lines[b - 1], lines[a - 1]
    path.write_text("\n".join(lines) + "\n")


def _truncate_line(path: Path, line_no: int, k: int) -> None:
    edit_line(path, line_no, " ".join(path.read_text().splitlines()[line_no - 1].split()[:k]))


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def _reflect(m: np.ndarray) -> np.ndarray:
    m = m.copy()
    m[:3, 0] *= -1.0  # det -1: a mirror, not a rotation
    return m


def _scale_line(path: Path, line_no: int, first: int, k: int, factor: float, sep: str = " ") -> None:
    parts = path.read_text().splitlines()[line_no - 1].split(sep)
    for j in range(first, first + k):
        parts[j] = num(float(parts[j]) * factor)
    edit_line(path, line_no, sep.join(parts))


def _nerf_truncated(root: Path):
    write_nerf(root)
    (root / "transforms.json").write_text('{"frames": [ {"file_path": ')
    return root, {}


def _parquet_with_null(root: Path):
    names = ("tx", "ty", "tz", "qx", "qy", "qz", "qw")
    cols = {"t": [0.0, 0.1, 0.2], **{k: [0.0, 0.0, 0.0] for k in names}, "qw": [1.0, 1.0, 1.0]}
    cols["tx"] = [0.0, None, 1.0]
    pq.write_table(pa.table(cols), root / "p.parquet")
    return root, {"columns": {"timestamp": "t", **{k: k for k in names}}}


CORPUS: list[Case] = [
    # KITTI
    Case("kitti_line_with_11_floats", "kitti", _kitti(lambda r: _truncate_line(r / "poses/00.txt", 3, 11)), "malformed_line",
         at=("poses/00.txt", 3)),
    Case("kitti_times_shorter_than_poses", "kitti", _kitti(lambda r: edit_line(r / "sequences/00/times.txt", 6, None)), "malformed_line"),
    Case("kitti_times_longer_than_poses", "kitti", _kitti(lambda r: _append(r / "sequences/00/times.txt", "0.65")), "malformed_line",
         at=("sequences/00/times.txt", 7)),
    Case("kitti_nan_pose", "kitti", _kitti(lambda r: edit_line(r / "poses/00.txt", 2, " ".join(["nan"] * 12))), "nan_pose"),
    Case("kitti_reflection", "kitti",
         _kitti(lambda r: edit_line(r / "poses/00.txt", 4, " ".join(num(v) for v in _reflect(rigid(1, 7)[0])[:3].ravel()))),
         "rotation_not_orthonormal"),
    Case("kitti_missing_image", "kitti", _kitti(lambda r: (r / "sequences/00/image_2/000002.png").unlink()), "video_missing"),
    Case("kitti_unsorted_times", "kitti", _kitti(lambda r: _swap_lines(r / "sequences/00/times.txt", 3, 4)), "timestamp_unsorted",
         at=("sequences/00/times.txt", 4)),
    Case("kitti_no_pose_file", "kitti", _kitti(lambda r: (r / "poses/00.txt").rename(r / "poses/00.bak")),
         "SourceError: holds no KITTI pose file"),
    # EuRoC
    Case("euroc_quaternion_far_from_unit", "euroc", _euroc(lambda m: _scale_line(_gt(m), 12, 4, 4, 1.8, ",")), "quat_not_unit",
         at=("state_groundtruth_estimate0/data.csv", 12)),
    Case("euroc_unsorted_ns_timestamps", "euroc", _euroc(lambda m: _swap_lines(_gt(m), 20, 21)), "timestamp_unsorted"),
    Case("euroc_duplicate_timestamp", "euroc",
         _euroc(lambda m: _set_field(_gt(m), 31, 0, _gt(m).read_text().splitlines()[29].split(",")[0])), "timestamp_duplicate"),
    Case("euroc_pose_only_nan", "euroc", _euroc(lambda m: _set_field(_gt(m), 5, 2, "nan"), camera=False), "nan_pose"),
    Case("euroc_camera_frame_without_pose", "euroc",  # a ground-truth dropout of 30 ms around camera frame 2
         _euroc(lambda m: [edit_line(_gt(m), 20, None) for _ in range(5)]), "no_matching_frame", at=("cam0/data.csv", 4)),
    Case("euroc_image_escapes_root", "euroc", _euroc(lambda m: _set_field(m / "cam0/data.csv", 3, 1, "../../../../../../etc/passwd")),
         "path_escapes_root"),
    Case("euroc_bad_sensor_yaml", "euroc", _euroc(lambda m: (m / "cam0/sensor.yaml").write_text("T_BS: {data: [1, 2, 3]}\n")),
         "malformed_line"),
    Case("euroc_camera_line_without_filename", "euroc", _euroc(lambda m: edit_line(m / "cam0/data.csv", 5, "1403636579900000000")),
         "malformed_line"),
    Case("euroc_no_groundtruth", "euroc", _euroc(lambda m: _gt(m).unlink()), "SourceError: state_groundtruth_estimate0"),
    # RealEstate10K
    Case("re10k_row_with_18_numbers", "realestate10k", _re10k(lambda r: _truncate_line(r / "clip.txt", 4, 18)), "malformed_line",
         at=("clip.txt", 4)),
    Case("re10k_non_orthonormal_rotation", "realestate10k", _re10k(lambda r: _scale_line(r / "clip.txt", 5, 7, 3, 1.1)),
         "rotation_not_orthonormal"),
    Case("re10k_duplicate_timestamp", "realestate10k",
         _re10k(lambda r: _set_field(r / "clip.txt", 6, 0, (r / "clip.txt").read_text().splitlines()[4].split()[0], " ")),
         "timestamp_duplicate"),
    Case("re10k_video_shorter_than_rows", "realestate10k", _re10k(lambda r: mp4(r / "v" / "clip.mp4", 5), video_dir="v"), "video_short"),
    Case("re10k_video_truncated", "realestate10k",
         _re10k(lambda r: (mp4(r / "v" / "clip.mp4", 8), (r / "v/clip.mp4").write_bytes((r / "v/clip.mp4").read_bytes()[:300])),
                video_dir="v"), "video_unreadable"),
    Case("re10k_video_missing", "realestate10k", _re10k(lambda r: None, video_dir="v"), "video_missing"),
    Case("re10k_video_dir_escapes", "realestate10k", _re10k(lambda r: None, video_dir="../../elsewhere"), "path_escapes_root"),
    # NeRF
    Case("nerf_file_path_escapes_root", "nerf", _nerf(lambda d, r: d["frames"][1].update(file_path="../../etc/passwd")), "path_escapes_root"),
    Case("nerf_missing_image", "nerf", _nerf(lambda d, r: d["frames"][2].update(file_path="./images/nope")), "video_missing"),
    Case("nerf_nan_transform", "nerf", _nerf(lambda d, r: d["frames"][0]["transform_matrix"][1].__setitem__(2, float("nan"))), "nan_pose", at=("transforms.json", 9)),
    Case("nerf_frame_without_transform", "nerf", _nerf(lambda d, r: d["frames"][3].pop("transform_matrix")), "malformed_line"),
    Case("nerf_bottom_row_not_0001", "nerf", _nerf(lambda d, r: d["frames"][4]["transform_matrix"].__setitem__(3, [0, 0, 1, 1])),
         "pose_not_se3"),
    Case("nerf_invalid_json", "nerf", lambda r: _nerf_truncated(r), "malformed_line"),
    Case("nerf_no_transforms", "nerf", lambda r: (r, {}), "SourceError: holds no transforms"),
    # ScanNet
    Case("scannet_minus_inf_pose", "scannet", _scannet(lambda s: write_rows(s / "pose/5.txt", [["-inf"] * 4] * 4)), "nan_pose", at=("pose/5.txt", 1)),
    Case("scannet_reflection_det_minus_1", "scannet", _scannet(lambda s: write_rows(s / "pose/2.txt", _reflect(rigid(1, 8)[0]))),
         "rotation_not_orthonormal"),
    Case("scannet_pose_with_3_lines", "scannet", _scannet(lambda s: write_rows(s / "pose/10.txt", rigid(1, 8)[0][:3])), "malformed_line", at=("pose/10.txt", 4)),
    Case("scannet_missing_color", "scannet", _scannet(lambda s: (s / "color/1.jpg").unlink()), "video_missing"),
    Case("scannet_duplicate_frame_number", "scannet",
         _scannet(lambda s: write_rows(s / "pose/01.txt", rigid(1, 8)[0])), "timestamp_duplicate"),
    # 7-Scenes
    Case("7scenes_pose_file_with_3_rows", "sevenscenes", _7scenes(lambda s: edit_line(s / "frame-000002.pose.txt", 4, None)),
         "malformed_line"),
    Case("7scenes_non_numeric", "sevenscenes", _7scenes(lambda s: edit_line(s / "frame-000001.pose.txt", 2, "a b c d")), "malformed_line", at=("frame-000001.pose.txt", 2)),
    Case("7scenes_nan_pose", "sevenscenes", _7scenes(lambda s: edit_line(s / "frame-000003.pose.txt", 1, "nan nan nan nan")), "nan_pose"),
    Case("7scenes_missing_color", "sevenscenes", _7scenes(lambda s: (s / "frame-000000.color.png").unlink()), "video_missing"),
    Case("7scenes_one_healthy_frame_left", "sevenscenes",
         _7scenes(lambda s: [edit_line(s / f"frame-{i:06d}.pose.txt", 1, "nan nan nan nan") for i in range(1, 5)]),
         "episode_unusable"),
    # pose_table
    Case("table_missing_declared_column", "pose_table",
         _table(lambda r: None, columns={**PT_OPTIONS["columns"], "tz": "height"}), "SourceError: declared column(s) ['height'] not found"),
    Case("table_wxyz_declared_with_3_names", "pose_table",
         _table(lambda r: None, columns={**PT_OPTIONS["columns"], "quat": ["qw", "qx", "qy"]}), "SourceError: `columns.quat` names 3"),
    Case("table_unknown_quat_order", "pose_table", _table(lambda r: None, quat_order="zyxw"), "SourceError: quat_order='zyxw'"),
    Case("table_wxyz_quaternion_far_from_unit", "pose_table", _table(lambda r: _scale_line(r / "log.csv", 3, 4, 4, 0.3, ",")),
         "quat_not_unit"),
    Case("table_non_numeric_cell", "pose_table", _table(lambda r: _set_field(r / "log.csv", 4, 2, "n/a")), "malformed_line"),
    Case("table_ragged_row", "pose_table", _table(lambda r: edit_line(r / "log.csv", 5, "260,1,2")), "malformed_line", at=("log.csv", 5)),
    Case("table_image_escapes_root", "pose_table", _table(lambda r: _set_field(r / "log.csv", 2, 8, "../../../etc/passwd")),
         "path_escapes_root"),
    Case("table_unsorted_ms", "pose_table", _table(lambda r: _set_field(r / "log.csv", 6, 0, "150")), "timestamp_unsorted"),
    Case("table_parquet_null_cell", "pose_table", lambda r: _parquet_with_null(r), "malformed_line"),
]


# The corpus above runs with every other malformed input in tests/test_malformed_corpus.py.


def test_every_module_declares_its_format():
    for fmt, m in MODULES.items():
        assert m.FORMAT == fmt and callable(m.discover) and callable(m.read)


def test_missing_source_is_one_line(tmp_path):
    for fmt, m in MODULES.items():
        opts = {"columns": PT_OPTIONS["columns"]} if fmt == "pose_table" else {}
        with pytest.raises(SourceError) as err:
            m.discover(SourceSpec("gone", "navigation", fmt, tmp_path / "nope", opts))
        assert "nope" in str(err.value) and "fix" in str(err.value) and "\n" not in str(err.value)
