"""The synthetic world: on-disk formats, determinism, and rendered motion vs. metadata.

The motion checks read only the written files (poses via scipy, frames via PyAV) and measure
dense optical flow with OpenCV, so they test the renderer against its metadata independently.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import av
import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.spatial.transform import Rotation

from remot_pipeline.synthetic import WorldConfig, generate_world
from remot_pipeline.synthetic.manipulation import GRIPPER_OPEN_M
from remot_pipeline.synthetic.navigation import PITCH_LIMIT_RAD

SMALL = WorldConfig(seed=7, episodes_per_domain=2, frames_per_episode=40)
# Long enough that every episode runs through each kind of motion primitive at least once.
MOTION = WorldConfig(seed=0, episodes_per_domain=3, frames_per_episode=240)
YAW_PAIR_GAP = 2  # frames between the two images of a camera-yaw pair (~5-20 px of flow)
OBJECT_PAIR_GAP = 2
# Small moving objects: only pairs whose metadata predicts a clear but trackable image shift.
OBJECT_SHIFT_PX = (2.5, 12.0)
MIN_PAIRS = 3  # each motion case must be checked on at least this many pairs


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> tuple[pathlib.Path, dict[str, list[pathlib.Path]]]:
    root = tmp_path_factory.mktemp("small_world")
    return root, generate_world(root, SMALL)


@pytest.fixture(scope="module")
def motion_world(tmp_path_factory) -> dict[str, list[pathlib.Path]]:
    return generate_world(tmp_path_factory.mktemp("motion_world"), MOTION)


# ---------------------------------------------------------------- helpers (independent of the renderer)


def decode_gray(path: pathlib.Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


def video_shape(path: pathlib.Path) -> tuple[int, int, int]:
    """(frames, height, width) by decoding every frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        shapes = [(f.height, f.width, f.format.name) for f in container.decode(stream)]
    assert {s[2] for s in shapes} == {"yuv420p"}
    return len(shapes), shapes[0][0], shapes[0][1]


def dense_flow(image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
    """Dense optical flow (H, W, 2) in pixels from a to b (OpenCV DIS, robust to 20+ px shifts)."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(image_a, image_b, None)


def project_px(points_world: np.ndarray, cam2world: np.ndarray, k: dict) -> np.ndarray:
    """Pinhole projection (N, 2) of world points (N, 3) for an OpenCV-axes camera."""
    world2cam = np.linalg.inv(cam2world)
    p = points_world @ world2cam[:3, :3].T + world2cam[:3, 3]
    return np.stack([k["fx"] * p[:, 0] / p[:, 2] + k["cx"], k["fy"] * p[:, 1] / p[:, 2] + k["cy"]], -1)


def read_tum_groundtruth(path: pathlib.Path) -> np.ndarray:
    rows = [line.split() for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return np.array(rows, dtype=float)  # (N, 8): timestamp tx ty tz qx qy qz qw


def read_sim_log(path: pathlib.Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return lines[0], lines[1:]


def sha256_tree(root: pathlib.Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()
    }


def non_overlapping_pairs(n_frames: int, gap: int) -> list[tuple[int, int]]:
    return [(i, i + gap) for i in range(0, n_frames - gap, gap)]


# ---------------------------------------------------------------- 1. formats


def test_generate_world_returns_the_documented_paths(small_world):
    root, paths = small_world
    assert set(paths) == {"navigation", "manipulation", "simulation"}
    assert [p.name for p in paths["navigation"]] == ["nav_000", "nav_001"]
    assert paths["manipulation"] == [root / "manipulation" / "synthetic_arm"]
    assert [p.name for p in paths["simulation"]] == ["sim_000", "sim_001"]


def test_navigation_tum_files(small_world):
    _, paths = small_world
    cfg = SMALL
    for episode in paths["navigation"]:
        for name in ("groundtruth.txt", "rgb.txt", "rgb.mp4", "camera.json"):
            assert (episode / name).is_file()
        gt_text = (episode / "groundtruth.txt").read_text().splitlines()
        assert gt_text[0].startswith("#") and any("timestamp tx ty tz qx qy qz qw" in line for line in gt_text if line[0] == "#")
        gt = read_tum_groundtruth(episode / "groundtruth.txt")
        assert gt.shape == (cfg.frames_per_episode, 8)
        np.testing.assert_allclose(np.linalg.norm(gt[:, 4:8], axis=1), 1.0, atol=1e-8)
        np.testing.assert_allclose(np.diff(gt[:, 0]), 1.0 / cfg.fps, atol=2e-6)
        assert gt[0, 0] >= 1_700_000_000.0
        rotations = Rotation.from_quat(gt[:, 4:8]).as_matrix()  # scipy: xyzw
        np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-8)
        # camera z (forward) stays within the pitch limit (50 deg) of horizontal, camera y (down) points down-ish
        assert np.all(np.abs(rotations[:, 2, 2]) <= np.sin(PITCH_LIMIT_RAD) + 1e-6)
        assert np.all(rotations[:, 2, 1] < 0.0)

        rgb = [line.split() for line in (episode / "rgb.txt").read_text().splitlines() if not line.startswith("#")]
        assert [name for _, name in rgb] == ["rgb.mp4"] * cfg.frames_per_episode
        np.testing.assert_array_equal(np.array([t for t, _ in rgb], float), gt[:, 0])

        camera = json.loads((episode / "camera.json").read_text())
        assert camera == {
            "fx": 0.8 * cfg.width_px, "fy": 0.8 * cfg.width_px, "cx": cfg.width_px / 2, "cy": cfg.height_px / 2,
            "width": cfg.width_px, "height": cfg.height_px,
        }  # fmt: skip
        assert video_shape(episode / "rgb.mp4") == (cfg.frames_per_episode, cfg.height_px, cfg.width_px)


def test_manipulation_lerobot_v3_dataset(small_world):
    _, paths = small_world
    cfg, dataset = SMALL, paths["manipulation"][0]
    info = json.loads((dataset / "meta/info.json").read_text())
    n_total = cfg.episodes_per_domain * cfg.frames_per_episode
    assert info["codebase_version"] == "v3.0" and info["robot_type"] == "remot_synthetic_arm"
    assert (info["fps"], info["total_episodes"], info["total_frames"], info["total_tasks"]) == (15, 2, n_total, 1)
    assert info["features"]["observation.state"]["names"] == [
        "ee_x_m", "ee_y_m", "ee_z_m", "ee_rx_rad", "ee_ry_rad", "ee_rz_rad", "gripper_width_m",
    ]  # fmt: skip
    video_feature = info["features"]["observation.images.front"]
    assert video_feature["dtype"] == "video" and video_feature["shape"] == [cfg.height_px, cfg.width_px, 3]
    assert video_feature["info"]["video.codec"] == "h264" and video_feature["info"]["video.pix_fmt"] == "yuv420p"
    for key, dtype in [("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"), ("index", "int64"), ("task_index", "int64")]:
        assert info["features"][key]["dtype"] == dtype and info["features"][key]["shape"] == [1]
    camera = info["remot"]["cameras"]["observation.images.front"]
    assert info["remot"]["state_frame"] == "robot_base"
    cam2base = np.array(camera["cam2base"])
    assert cam2base.shape == (4, 4)
    np.testing.assert_allclose(cam2base[:3, :3] @ cam2base[:3, :3].T, np.eye(3), atol=1e-12)

    tasks = pq.read_table(dataset / "meta/tasks.parquet").to_pydict()
    assert tasks["task_index"] == [0] and len(tasks["task"]) == 1

    data = pq.read_table(dataset / info["data_path"].format(chunk_index=0, file_index=0))
    assert data.column_names == ["observation.state", "timestamp", "frame_index", "episode_index", "index", "task_index"]
    assert data.num_rows == n_total
    state = np.array(data["observation.state"].to_pylist(), dtype=np.float32)
    assert state.shape == (n_total, 7) and str(data.schema.field("timestamp").type) == "float"
    np.testing.assert_array_equal(data["index"].to_numpy(), np.arange(n_total))
    frame_index = data["frame_index"].to_numpy()
    np.testing.assert_allclose(data["timestamp"].to_numpy(), (frame_index / cfg.fps).astype(np.float32))
    assert np.all((state[:, 6] >= 0.0) & (state[:, 6] <= GRIPPER_OPEN_M + 1e-7))

    episodes = pq.read_table(dataset / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["episode_index"] for e in episodes] == [0, 1]
    for e in episodes:
        assert e["length"] == cfg.frames_per_episode and e["tasks"] == tasks["task"]
        assert e["dataset_to_index"] - e["dataset_from_index"] == e["length"]
        rows = data.filter(data["episode_index"].to_numpy() == e["episode_index"])
        assert rows["index"][0].as_py() == e["dataset_from_index"]
        key = "videos/observation.images.front"
        assert e[f"{key}/from_timestamp"] == pytest.approx(e["dataset_from_index"] / cfg.fps)
        assert e[f"{key}/to_timestamp"] == pytest.approx(e["dataset_to_index"] / cfg.fps)
    video = dataset / info["video_path"].format(video_key="observation.images.front", chunk_index=0, file_index=0)
    assert video_shape(video) == (n_total, cfg.height_px, cfg.width_px)


def test_simulation_log_and_video(small_world):
    _, paths = small_world
    cfg = SMALL
    for episode in paths["simulation"]:
        header, frames = read_sim_log(episode / "log.jsonl")
        assert header == {
            "type": "header", "format": "remot-sim-log", "version": 1, "fps": cfg.fps,
            "width": cfg.width_px, "height": cfg.height_px,
            "intrinsics": {"fx": 0.8 * cfg.width_px, "fy": 0.8 * cfg.width_px, "cx": cfg.width_px / 2, "cy": cfg.height_px / 2},
            "video": "video.mp4", "world_frame": "z_up", "camera_axes": "opencv",
        }  # fmt: skip
        assert [f["frame_index"] for f in frames] == list(range(cfg.frames_per_episode))
        assert all(f["type"] == "frame" and f["timestamp_s"] == pytest.approx(f["frame_index"] / cfg.fps) for f in frames)
        colours = [o["color_name"] for o in frames[0]["objects"]]
        assert 2 <= len(colours) <= 4 and len(set(colours)) == len(colours)
        for f in frames:
            cam2world = np.array(f["cam2world"]).reshape(4, 4)
            np.testing.assert_allclose(cam2world[:3, :3] @ cam2world[:3, :3].T, np.eye(3), atol=1e-12)
            for o in f["objects"]:
                assert set(o) == {"object_id", "color_name", "color_rgb", "shape", "size_m", "obj2world"}
                assert o["shape"] == "cube" and len(o["obj2world"]) == 16 and len(o["color_rgb"]) == 3
                assert np.array(o["obj2world"]).reshape(4, 4)[2, 3] == pytest.approx(o["size_m"] / 2)  # on the floor
        assert video_shape(episode / header["video"]) == (cfg.frames_per_episode, cfg.height_px, cfg.width_px)


# ---------------------------------------------------------------- 2. determinism


def test_same_config_gives_byte_identical_files(small_world, tmp_path):
    root, _ = small_world
    generate_world(tmp_path, SMALL)
    first, second = sha256_tree(root), sha256_tree(tmp_path)
    assert len(first) == 2 * 4 + 5 + 2 * 2
    assert first == second


def test_different_seed_gives_different_files(small_world, tmp_path):
    root, _ = small_world
    other = WorldConfig(**{**SMALL.__dict__, "seed": SMALL.seed + 1})
    generate_world(tmp_path, other)
    first, second = sha256_tree(root), sha256_tree(tmp_path)
    assert first.keys() == second.keys()
    differing = {name for name in first if first[name] != second[name]}
    assert all(name in differing for name in first if name.endswith((".mp4", "groundtruth.txt", "log.jsonl")))


# ---------------------------------------------------------------- 3. rendered motion agrees with metadata


def _check_flow_pairs(cases: list[tuple[float, float, str]]) -> None:
    """cases: (measured median flow dx, dx predicted from metadata, label), all predicted one way.

    Every pair must flow the predicted way with at least 20 % of the predicted shift, and the
    typical pair must match the prediction's magnitude (median ratio within 0.75-1.3).
    """
    assert len(cases) >= MIN_PAIRS, f"only {len(cases)} pairs found"
    ratios = np.array([measured / predicted for measured, predicted, _ in cases])
    bad = [(round(m, 2), round(p, 2), label) for (m, p, label), r in zip(cases, ratios) if r < 0.2]
    assert not bad, f"flow disagrees with metadata on {len(bad)}/{len(cases)} pairs: {bad}"
    assert 0.75 <= np.median(ratios) <= 1.3, f"median measured/predicted flow {np.median(ratios):.2f}"


def _yaw_pairs(cam2world: np.ndarray, objects_static: np.ndarray) -> list[tuple[int, int, float]]:
    """Pairs with a pure-ish camera yaw: (i, j, yaw_left_deg), from poses only (scipy)."""
    pairs = []
    for i, j in non_overlapping_pairs(len(cam2world), YAW_PAIR_GAP):
        rotvec_deg = Rotation.from_matrix(cam2world[i, :3, :3].T @ cam2world[j, :3, :3]).as_rotvec(degrees=True)
        yaw_left_deg = -rotvec_deg[1]  # rotation about camera -y (up) turns the view to the left
        translation_m = np.linalg.norm(cam2world[j, :3, 3] - cam2world[i, :3, 3])
        if abs(yaw_left_deg) >= 2.0 and abs(rotvec_deg[0]) <= 0.5 and translation_m <= 0.01 and objects_static[i, j]:
            pairs.append((i, j, yaw_left_deg))
    return pairs


def _yaw_flow_cases(video: pathlib.Path, cam2world: np.ndarray, objects_static, fx: float, name: str):
    frames = decode_gray(video)
    cases = []
    for i, j, yaw_left_deg in _yaw_pairs(cam2world, objects_static):
        flow_dx = float(np.median(dense_flow(frames[i], frames[j])[..., 0]))
        cases.append((flow_dx, fx * np.tan(np.deg2rad(yaw_left_deg)), f"{name}:{i}-{j}"))
    return cases


def test_navigation_yaw_left_flows_right_and_yaw_right_flows_left(motion_world):
    cases = []
    for episode in motion_world["navigation"]:
        gt = read_tum_groundtruth(episode / "groundtruth.txt")
        cam2world = np.tile(np.eye(4), (len(gt), 1, 1))
        cam2world[:, :3, :3] = Rotation.from_quat(gt[:, 4:8]).as_matrix()
        cam2world[:, :3, 3] = gt[:, 1:4]
        fx = json.loads((episode / "camera.json").read_text())["fx"]
        always_static = np.ones((len(gt), len(gt)), bool)
        cases += _yaw_flow_cases(episode / "rgb.mp4", cam2world, always_static, fx, episode.name)
    # yaw left (expected dx > 0): content flows right; yaw right: flows left; both must occur
    _check_flow_pairs([c for c in cases if c[1] > 0])
    _check_flow_pairs([c for c in cases if c[1] < 0])


def _sim_arrays(episode: pathlib.Path):
    header, frames = read_sim_log(episode / "log.jsonl")
    cam2world = np.array([f["cam2world"] for f in frames]).reshape(-1, 4, 4)
    obj2world = np.array([[o["obj2world"] for o in f["objects"]] for f in frames]).reshape(len(frames), -1, 4, 4)
    sizes_m = np.array([o["size_m"] for o in frames[0]["objects"]])
    return header, cam2world, obj2world, sizes_m


def test_simulation_camera_pan_flows_opposite_to_yaw(motion_world):
    cases = []
    for episode in motion_world["simulation"]:
        header, cam2world, obj2world, _ = _sim_arrays(episode)
        flat = obj2world.reshape(len(obj2world), -1)
        objects_static = np.all(flat[:, None] == flat[None], axis=-1)
        cases += _yaw_flow_cases(episode / header["video"], cam2world, objects_static, header["intrinsics"]["fx"], episode.name)
    _check_flow_pairs([c for c in cases if c[1] > 0])
    _check_flow_pairs([c for c in cases if c[1] < 0])


def _cube_corners_world(obj2world: np.ndarray, size_m: float) -> np.ndarray:
    signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
    return (signs * size_m / 2) @ obj2world[:3, :3].T + obj2world[:3, 3]


def test_simulation_object_moving_right_flows_right_with_static_camera(motion_world):
    cases = []
    for episode in motion_world["simulation"]:
        header, cam2world, obj2world, sizes_m = _sim_arrays(episode)
        k = header["intrinsics"]
        frames = decode_gray(episode / header["video"])
        for i, j in non_overlapping_pairs(len(cam2world), OBJECT_PAIR_GAP):
            if not np.array_equal(cam2world[i], cam2world[j]):
                continue
            moved = np.flatnonzero(np.any(obj2world[i] != obj2world[j], axis=(1, 2)))
            if len(moved) != 1:
                continue
            m = moved[0]
            centre_i, centre_j = project_px(np.stack([obj2world[i, m, :3, 3], obj2world[j, m, :3, 3]]), cam2world[i], k)
            dx, dy = centre_j - centre_i
            # Region: the moving cube's projected bounding box, clipped to the image; skip the pair
            # if a nearer object overlaps it or less than half of it is on screen.
            boxes = [project_px(_cube_corners_world(obj2world[i, n], sizes_m[n]), cam2world[i], k) for n in range(len(sizes_m))]
            lo, hi = np.floor(boxes[m].min(0)).astype(int), np.ceil(boxes[m].max(0)).astype(int)
            depth = np.linalg.norm(obj2world[i, :, :3, 3] - cam2world[i, :3, 3], axis=1)
            occluded = any(
                np.all(boxes[n].min(0) < hi) and np.all(boxes[n].max(0) > lo) for n in range(len(boxes)) if depth[n] < depth[m]
            )
            clip_lo, clip_hi = np.maximum(lo, 0), np.minimum(hi, [header["width"] - 1, header["height"] - 1])
            on_screen = np.prod(np.maximum(clip_hi - clip_lo, 0)) >= 0.5 * np.prod(hi - lo)
            if not OBJECT_SHIFT_PX[0] <= abs(dx) <= OBJECT_SHIFT_PX[1] or abs(dx) < 2.0 * abs(dy) or occluded or not on_screen:
                continue
            lo, hi = clip_lo, clip_hi
            flow = dense_flow(frames[i], frames[j])[lo[1] : hi[1] + 1, lo[0] : hi[0] + 1, 0]
            cases.append((float(np.median(flow)), float(dx), f"{episode.name}:{i}-{j}:obj{m}"))
    _check_flow_pairs([c for c in cases if c[1] > 0])  # moving right in view -> flows right
    _check_flow_pairs([c for c in cases if c[1] < 0])  # moving left -> flows left


# The rendered gripper body (wrist) sits about 0.1 m above the tool centre point in the state.
WRIST_ABOVE_TCP_M = 0.1


def test_manipulation_ee_moving_image_right_flows_right(motion_world):
    dataset = motion_world["manipulation"][0]
    info = json.loads((dataset / "meta/info.json").read_text())
    camera = info["remot"]["cameras"]["observation.images.front"]
    cam2base = np.array(camera["cam2base"])
    data = pq.read_table(dataset / "data/chunk-000/file-000.parquet")
    state = np.array(data["observation.state"].to_pylist())
    episode_index = data["episode_index"].to_numpy()
    frames = decode_gray(dataset / "videos/observation.images.front/chunk-000/file-000.mp4")
    assert len(frames) == len(state)
    wrist_px = project_px(state[:, :3] + [0.0, 0.0, WRIST_ABOVE_TCP_M], cam2base, camera)
    height, width = frames[0].shape
    cases = []
    for i, j in non_overlapping_pairs(len(state), OBJECT_PAIR_GAP):
        if episode_index[i] != episode_index[j] or abs(state[j, 6] - state[i, 6]) > 1e-4:
            continue
        dx, dy = wrist_px[j] - wrist_px[i]
        if not OBJECT_SHIFT_PX[0] <= abs(dx) <= OBJECT_SHIFT_PX[1] or abs(dx) < 2.0 * abs(dy):
            continue
        x, y = np.round(wrist_px[i]).astype(int)
        if not (10 <= x < width - 10 and 8 <= y < height - 8):
            continue
        window = dense_flow(frames[i], frames[j])[y - 8 : y + 9, x - 10 : x + 11, 0]
        cases.append((float(np.median(window)), float(dx), f"frame {i}-{j}"))
    _check_flow_pairs([c for c in cases if c[1] > 0])
    _check_flow_pairs([c for c in cases if c[1] < 0])


def test_manipulation_base_plus_y_projects_to_image_right(small_world):
    """The documented camera convention: moving the EE along base +y moves it right in the image."""
    _, paths = small_world
    camera = json.loads((paths["manipulation"][0] / "meta/info.json").read_text())["remot"]["cameras"]["observation.images.front"]
    points = np.array([[0.45, -0.1, 0.1], [0.45, 0.1, 0.1]])
    px = project_px(points, np.array(camera["cam2base"]), camera)
    assert px[1, 0] - px[0, 0] > 20.0 and abs(px[1, 1] - px[0, 1]) < 1.0


# ---------------------------------------------------------------- renderer / geometry units


def test_floor_crossing_the_camera_plane_renders_below_the_horizon_only():
    """A floor extending behind the camera is clipped at the near plane, not mirrored above."""
    from remot_pipeline.core.se3 import invert as invert_pose
    from remot_pipeline.synthetic.geometry import cam2world_from_ypr, intrinsics_matrix, make_pose
    from remot_pipeline.synthetic.render import box_solid, make_texture, render

    texture = np.maximum(make_texture(np.random.default_rng(0), 64, 64), 1)  # never pure black
    floor = box_solid((200.0, 200.0, 0.01), texture, make_pose(np.eye(3), (0.0, 0.0, -0.005)))
    cam2world = cam2world_from_ypr(np.array([[0.0, 0.0, 1.0]]), np.zeros(1), np.zeros(1), np.zeros(1))[0]
    image = render(invert_pose(cam2world), intrinsics_matrix(64, 48), 64, 48, [], [floor])
    covered = image.max(axis=2) > 0
    assert covered[26:].all() and not covered[:23].any()  # horizon at cy = 24
