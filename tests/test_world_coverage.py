"""The synthetic world covers every labelled attribute, and the new motion columns are exact.

Coverage runs the pure core (readers -> ingest -> motion pairs -> labels), no Dagster, on a world
generated with the default seed, frame count and rate (so the same episode scripts as the
default world) but fewer episodes and a small frame size (the labels depend on the metadata only).
Every episode must show both values of every labelled attribute in forward pairs (the ones
triplets are built from), which makes both splits complete whatever the split assignment.
The magnitudes must spread over most of each band, so that no single constant answers the
numeric questions well. ``python tests/test_world_coverage.py`` prints the attribute x value x
split table of the default world.

The oracles compare ``object_yaw_ccw_deg`` and ``ee_roll_image_cw_deg`` with scipy's
``Rotation`` over random batches (hypothesis draws the seeds and sizes).
"""

from __future__ import annotations

import collections
import pathlib
import sys
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from data_contracts import conform
from data_contracts.fields import FIELDS, MOTION
from data_contracts.tables import CONTRACTS
from remot_pipeline.core.ingest import ingest_episodes
from remot_pipeline.core.labels import ATTRIBUTES, CATEGORICAL_DOMAINS, DEFAULT_BANDS, STILLNESS_DOMAINS, label_pairs
from remot_pipeline.core.motion import PairConfig, ee_roll_image_cw_deg, episode_motion_pairs, object_motion, object_yaw_ccw_deg
from remot_pipeline.sources import reader
from remot_pipeline.sources.base import SourceSpec
from remot_pipeline.synthetic import WorldConfig, generate_world
from remot_pipeline.synthetic.manipulation import CAM2BASE
from remot_train.scoring import constant_answer_baseline

# The readers the pipeline uses for the embedded world (remot_pipeline.defs.assets.SYNTHETIC_FORMATS).
FORMATS = {"navigation": "tum", "manipulation": "lerobot_v3", "simulation": "remot_sim_jsonl"}
COVERAGE = WorldConfig(episodes_per_domain=4, width_px=64, height_px=48)
TEST_FRACTION = 0.25  # the pipeline's default
MAX_CONSTANT_MRA = 0.6


def expected_values(domain: str) -> set[tuple[str, str]]:
    """Every (attribute, value) the domain's labels can take."""
    out = {(a.name, v) for a in ATTRIBUTES[domain] if a.labelled for v in a.values}
    if domain in STILLNESS_DOMAINS:
        out |= {("camera_motion", "stationary"), ("camera_motion", "moving")}
    if domain in CATEGORICAL_DOMAINS:
        out |= {("phase", p) for p in ("approach", "grasp", "lift", "place")} | {("gripper", "holding")}
    return out


def world_labels(root: pathlib.Path, domain: str) -> tuple[pa.Table, pa.Table]:
    """``(motion pairs, labelled pairs)`` of one domain of a generated world, through the pure core."""
    spec = SourceSpec(f"synthetic_{domain}", domain, FORMATS[domain], root / domain)
    refs = reader(spec.format).discover(spec)
    _, frames = ingest_episodes(refs, TEST_FRACTION)
    table = frames.table
    motions, labels = [], []
    for eid in sorted(set(table.column("episode_id").to_pylist())):
        f = table.filter(pc.equal(table.column("episode_id"), eid)).sort_by("frame_index")
        m = episode_motion_pairs(f, PairConfig()).table
        motions.append(m)
        labels.append(label_pairs(m, domain).table)
    return pa.concat_tables(motions), pa.concat_tables(labels)


def coverage_table(labelled: pa.Table) -> dict[tuple[str, str, str], dict]:
    """(attribute, value, split) -> forward pairs, episodes, |magnitude| min / median / max."""
    rows = [r for r in labelled.select(["episode_id", "split", "frame_index_a", "frame_index_b", "attribute", "value",
                                        "magnitude"]).to_pylist() if r["frame_index_b"] > r["frame_index_a"]]
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["attribute"], r["value"], r["split"])].append(r)
    out = {}
    for key, rs in groups.items():
        mags = np.abs([r["magnitude"] for r in rs])
        out[key] = {"pairs": len(rs), "episodes": len({r["episode_id"] for r in rs}),
                    "min": float(mags.min()), "median": float(np.median(mags)), "max": float(mags.max())}
    return out


@pytest.fixture(scope="module")
def coverage_world(tmp_path_factory) -> dict[str, tuple[pa.Table, pa.Table]]:
    root = tmp_path_factory.mktemp("coverage_world")
    generate_world(root, COVERAGE)
    return {d: world_labels(root, d) for d in FORMATS}


@pytest.mark.parametrize("domain", list(FORMATS))
def test_every_episode_shows_both_values_of_every_labelled_attribute(coverage_world, domain):
    _, labelled = coverage_world[domain]
    forward = [r for r in labelled.select(["episode_id", "split", "frame_index_a", "frame_index_b", "attribute",
                                           "value"]).to_pylist() if r["frame_index_b"] > r["frame_index_a"]]
    want = expected_values(domain)
    per_episode = collections.defaultdict(set)
    per_split = collections.defaultdict(set)
    for r in forward:
        per_episode[r["episode_id"]].add((r["attribute"], r["value"]))
        per_split[r["split"]].add((r["attribute"], r["value"]))
    assert len(per_episode) == COVERAGE.episodes_per_domain
    missing = {e: sorted(want - got) for e, got in per_episode.items() if want - got}
    assert not missing, f"episodes without some labelled value: {missing}"
    assert set(per_split) == {"train", "test"}
    assert all(want <= got for got in per_split.values())


@pytest.mark.parametrize("domain", list(FORMATS))
def test_magnitudes_spread_inside_the_band(coverage_world, domain):
    """Not all at the band edge: every directional value reaches at least 1.3x its band minimum,
    and every attribute's magnitudes spread over most of its band (the largest at least 3x the
    minimum), so that no single constant answers its numeric questions well."""
    table = coverage_table(coverage_world[domain][1])
    for attr in ATTRIBUTES[domain]:
        lo, hi = DEFAULT_BANDS[attr.family]
        for value in attr.values:
            cells = [c for (a, v, _), c in table.items() if (a, v) == (attr.name, value)]
            top = max(c["max"] for c in cells)
            assert lo * 1.3 <= top <= hi, f"{domain}/{attr.name}={value}: largest |m| {top:.3g}, band ({lo}, {hi})"
        top = max(c["max"] for (a, _, _), c in table.items() if a == attr.name)
        assert top >= 3.0 * lo, f"{domain}/{attr.name}: largest |m| {top:.3g} < 3 x band minimum {lo}"


@pytest.mark.parametrize("domain", list(FORMATS))
def test_no_constant_answers_the_magnitudes_well(coverage_world, domain):
    """The best single constant's mean relative accuracy on an attribute's labelled magnitudes
    (what a model ignoring the images scores on its numeric blanks) stays at most
    :data:`MAX_CONSTANT_MRA`: magnitudes spread log-uniformly over a 4-5x range score ~0.4 (a
    world with a 1.5-2x spread scored 0.65-0.85)."""
    _, labelled = coverage_world[domain]
    rows = [r for r in labelled.select(["frame_index_a", "frame_index_b", "attribute", "value", "magnitude"]).to_pylist()
            if r["frame_index_b"] > r["frame_index_a"] and r["value"] != "holding"]
    scores = {}
    for attr in ATTRIBUTES[domain]:
        if attr.labelled:
            m = np.abs([r["magnitude"] for r in rows if r["attribute"] == attr.name])
            scores[attr.name] = round(float(constant_answer_baseline(m, m)["test_mra"]), 3)
    assert max(scores.values()) <= MAX_CONSTANT_MRA, scores


def test_an_episode_does_not_depend_on_the_number_of_episodes(tmp_path):
    """Episode plans are stratified over blocks of episodes, not over the world: the first
    episodes of a smaller world are those of a larger one (so the coverage world's episodes are
    the default world's)."""
    small = WorldConfig(episodes_per_domain=1, frames_per_episode=60, width_px=32, height_px=24)
    generate_world(tmp_path / "one", small)
    generate_world(tmp_path / "two", replace(small, episodes_per_domain=2))
    for name in ("navigation/nav_000/groundtruth.txt", "simulation/sim_000/log.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    data = "manipulation/synthetic_arm/data/chunk-000/file-000.parquet"
    one, two = (pq.read_table(tmp_path / w / data).column("observation.state").to_pylist() for w in ("one", "two"))
    assert one == two[: len(one)]


def test_gripper_changes_are_at_least_the_visible_band_minimum(coverage_world):
    """Every labelled open / close is at least 4 cm, and every episode's strokes exceed 5 cm."""
    assert DEFAULT_BANDS["gripper_m"][0] == pytest.approx(0.04)
    motion, labelled = coverage_world["manipulation"]
    grip = labelled.filter(pc.is_in(labelled.column("value"), pa.array(["opening", "closing"])))
    assert pc.min(pc.abs(grip.column("magnitude"))).as_py() >= 0.04
    for eid in set(motion.column("episode_id").to_pylist()):
        m = motion.filter(pc.equal(motion.column("episode_id"), eid))
        assert pc.max(pc.abs(m.column("gripper_delta_m"))).as_py() >= 0.05


def test_wrist_rotation_pairs_turn_about_the_optical_axis(coverage_world):
    """The labelled in-image rotations are (almost) pure turns about the camera axis: visible as such."""
    motion, labelled = coverage_world["manipulation"]
    ids = labelled.filter(pc.equal(labelled.column("attribute"), "wrist_rotation")).column("pair_id")
    pairs = motion.filter(pc.is_in(motion.column("pair_id"), ids))
    roll = np.abs(pairs.column("ee_roll_image_cw_deg").to_numpy())
    assert len(roll) > 0 and roll.min() >= 10.0
    # The end effector barely translates while it turns (the dominance margin saw to the rest).
    disp = np.linalg.norm(np.stack(pairs.column("ee_disp_base_m").to_pylist()), axis=1)
    assert np.median(disp) < 0.02


def test_object_rotation_pairs_are_spins_in_place_of_the_named_cube(coverage_world):
    motion, labelled = coverage_world["simulation"]
    rot = labelled.filter(pc.equal(labelled.column("attribute"), "object_rotation"))
    assert set(rot.column("value").to_pylist()) == {"counterclockwise", "clockwise"}
    assert rot.column("object_color").null_count == 0
    pairs = motion.filter(pc.is_in(motion.column("pair_id"), rot.column("pair_id")))
    disp = np.linalg.norm(np.stack(pairs.column("object_disp_a_m").to_pylist()), axis=1)
    assert np.median(disp) < 0.05  # spins in place (a pair may also span some of a slide)


# ---------------------------------------------------------------- contracts


def test_new_motion_fields_are_registered_with_units_and_frames():
    for name, unit in (("object_yaw_ccw_deg", "deg"), ("ee_roll_image_cw_deg", "deg")):
        field = FIELDS[name]
        assert field.unit == unit and field.frame and field.nullable
        assert name in CONTRACTS["motion_pairs"].columns
        assert name in MOTION.names
    assert "ee_wrist_rot_deg" not in FIELDS


# ---------------------------------------------------------------- oracles (scipy)


def _random_rotations(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return Rotation.random(n, random_state=seed).as_matrix().reshape(shape + (3, 3))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_frames=st.integers(2, 12), n_objects=st.integers(1, 4), n_pairs=st.integers(1, 30))
def test_object_yaw_matches_scipy(seed, n_frames, n_objects, n_pairs):
    rng = np.random.default_rng(seed)
    obj2world = np.tile(np.eye(4), (n_frames, n_objects, 1, 1))
    obj2world[..., :3, :3] = _random_rotations(seed, (n_frames, n_objects))
    obj2world[..., :3, 3] = rng.normal(size=(n_frames, n_objects, 3))
    a, b = rng.integers(0, n_frames, n_pairs), rng.integers(0, n_frames, n_pairs)
    got = object_yaw_ccw_deg(obj2world, a, b)
    rel = Rotation.from_matrix((obj2world[b, :, :3, :3] @ np.swapaxes(obj2world[a, :, :3, :3], -1, -2)).reshape(-1, 3, 3))
    far_from_half_turn = rel.magnitude() < np.pi - 1e-3  # the axis sign is arbitrary at exactly 180 deg
    want = rel.as_rotvec(degrees=True)[:, 2].reshape(n_pairs, n_objects)
    np.testing.assert_allclose(got.ravel()[far_from_half_turn], want.ravel()[far_from_half_turn], atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), start_deg=st.floats(-180, 180), turn_deg=st.floats(-170, 170))
def test_object_yaw_of_a_turn_about_the_vertical_is_the_turn(seed, start_deg, turn_deg):
    """A cube turning about world +z by ``turn`` (counterclockwise from above when positive)."""
    cams = np.tile(np.eye(4), (2, 1, 1))
    cams[:, :3, :3] = _random_rotations(seed, (2,))  # the camera turns too: it must not matter
    obj = np.tile(np.eye(4), (2, 1, 1, 1))
    obj[:, 0, :3, :3] = Rotation.from_euler("z", [[start_deg], [start_deg + turn_deg]], degrees=True).as_matrix()
    moved, disp, yaw = object_motion(cams, obj, np.array([0]), np.array([1]))
    assert yaw[0] == pytest.approx(turn_deg, abs=1e-6) and moved[0] == 0
    np.testing.assert_allclose(disp, 0.0, atol=1e-12)


def test_object_yaw_worked_example_counterclockwise_from_above():
    """+90 deg about +z takes the cube's +x face to +y: seen from above (x right, y up), counterclockwise."""
    obj = np.tile(np.eye(4), (2, 1, 1, 1))
    obj[1, 0, :3, :3] = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    face_x = obj[1, 0, :3, :3] @ [1.0, 0.0, 0.0]
    np.testing.assert_allclose(face_x, [0.0, 1.0, 0.0], atol=1e-12)  # from (1, 0) to (0, 1): a left turn
    assert object_yaw_ccw_deg(obj, np.array([0]), np.array([1]))[0, 0] == pytest.approx(90.0)


def test_the_object_that_moved_most_counts_a_spin():
    """A cube spinning 30 deg in place outranks a neighbour sliding 0.2 m; a 0.5 m slide outranks a 5 deg spin."""
    cams = np.tile(np.eye(4), (3, 1, 1))
    obj = np.tile(np.eye(4), (3, 2, 1, 1))
    obj[1, 0, :3, :3] = Rotation.from_euler("z", 30, degrees=True).as_matrix()  # frame 1: cube 0 spun
    obj[1, 1, :3, 3] = [0.2, 0.0, 0.0]  # cube 1 slid 0.2 m
    obj[2, 0, :3, :3] = Rotation.from_euler("z", 5, degrees=True).as_matrix()  # frame 2: cube 0 spun 5 deg
    obj[2, 1, :3, 3] = [0.5, 0.0, 0.0]  # cube 1 slid 0.5 m
    moved, disp, yaw = object_motion(cams, obj, np.array([0, 0]), np.array([1, 2]))
    assert moved.tolist() == [0, 1]
    assert yaw[0] == pytest.approx(30.0) and yaw[1] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(disp[1], [0.5, 0.0, 0.0], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_frames=st.integers(2, 12), n_pairs=st.integers(1, 30), fixed=st.booleans())
def test_ee_roll_image_matches_scipy(seed, n_frames, n_pairs, fixed):
    """The turn a->b written in camera a's axes (R_c^T R_b R_a^T R_c): its rotation vector's z component."""
    rng = np.random.default_rng(seed)
    cam2world = np.tile(np.eye(4), (n_frames, 1, 1))
    cam2world[:, :3, :3] = _random_rotations(seed + 1, (1 if fixed else n_frames,))
    ee_rotvec = Rotation.from_matrix(_random_rotations(seed, (n_frames,))).as_rotvec()
    a, b = rng.integers(0, n_frames, n_pairs), rng.integers(0, n_frames, n_pairs)
    got = ee_roll_image_cw_deg(cam2world, ee_rotvec, a, b)
    r_a, r_b = Rotation.from_rotvec(ee_rotvec[a]).as_matrix(), Rotation.from_rotvec(ee_rotvec[b]).as_matrix()
    c = cam2world[a, :3, :3]
    rel_cam = Rotation.from_matrix(np.swapaxes(c, -1, -2) @ r_b @ np.swapaxes(r_a, -1, -2) @ c)
    ok = rel_cam.magnitude() < np.pi - 1e-3
    np.testing.assert_allclose(got[ok], rel_cam.as_rotvec(degrees=True)[ok, 2], atol=1e-6)


def _project(points_base: np.ndarray, cam2base: np.ndarray, f: float = 200.0) -> np.ndarray:
    """Pinhole pixels (u right, v down) of base-frame points for an OpenCV-axes camera."""
    p = (points_base - cam2base[:3, 3]) @ cam2base[:3, :3]
    return f * p[:, :2] / p[:, 2:3]


@pytest.mark.parametrize("turn_deg", [-30.0, 30.0])
def test_ee_roll_image_worked_example_is_clockwise_on_screen(turn_deg):
    """Turning the gripper about the synthetic arm camera's optical axis by +30 deg: a finger to the
    gripper's image-right swings down in the image (right -> down is clockwise with v pointing down),
    and the column reads +30; -30 swings it up and reads -30."""
    axis = CAM2BASE[:3, 2]
    tcp = np.array([0.4, 0.0, 0.2])
    r_a = np.eye(3)
    r_b = Rotation.from_rotvec(np.deg2rad(turn_deg) * axis).as_matrix()
    finger = np.array([0.0, 0.05, 0.0])  # base +y: image right
    uv = _project(np.stack([tcp, tcp + r_a @ finger, tcp + r_b @ finger]), CAM2BASE)
    before, after = uv[1] - uv[0], uv[2] - uv[0]
    assert before[0] > 0 and abs(before[1]) < 1e-6  # to the right, level
    screen_turn_deg = np.degrees(np.arctan2(after[1], after[0]) - np.arctan2(before[1], before[0]))
    assert np.sign(after[1]) == np.sign(turn_deg)  # down (v grows) for clockwise
    assert screen_turn_deg == pytest.approx(turn_deg, abs=1.0)
    cams = np.stack([CAM2BASE, CAM2BASE])
    rotvecs = Rotation.from_matrix(np.stack([r_a, r_b])).as_rotvec()
    assert ee_roll_image_cw_deg(cams, rotvecs, np.array([0]), np.array([1]))[0] == pytest.approx(turn_deg)


# ---------------------------------------------------------------- phases need time


def _closing_gripper_frames(n: int = 20, fps: float = 10.0) -> pa.Table:
    """A still end effector whose gripper closes steadily from 10 cm to 2 cm."""
    widths = np.linspace(0.10, 0.02, n)
    rows = [dict(episode_id="e", domain="manipulation", split="train", frame_index=i, timestamp_s=i / fps,
                 cam2world=CAM2BASE.ravel().tolist(), ee_pos_base_m=[0.4, 0.0, 0.1], ee_rotvec_base_rad=[0.0, 0.0, 0.0],
                 gripper_width_m=float(widths[i]), objects=None, media_path="v.mp4", media_frame_index=i)
            for i in range(n)]
    return conform(pa.Table.from_pylist(rows), "frames")


@pytest.mark.parametrize("min_phase_s", [0.6, 1.0])
def test_a_pair_gets_a_phase_only_when_it_lasts_min_phase_s(min_phase_s):
    cfg = PairConfig(min_offset=2, max_offset=14, offset_step=2, max_dt_s=10.0, max_frame_gap_s=1.0, min_phase_s=min_phase_s)
    pairs = episode_motion_pairs(_closing_gripper_frames(), cfg).table.to_pylist()
    forward = [p for p in pairs if p["frame_index_b"] > p["frame_index_a"]]
    short = [p for p in forward if p["dt_s"] < min_phase_s - 1e-9]
    long = [p for p in forward if p["dt_s"] >= min_phase_s - 1e-9]
    assert short and long
    assert all(p["phase"] is None for p in short)
    assert {p["phase"] for p in long} == {"grasp"}
    assert PairConfig().min_phase_s == pytest.approx(0.6)


# ---------------------------------------------------------------- the default world's table


def main() -> None:
    import tempfile
    import time

    config = WorldConfig()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_world(pathlib.Path(tmp), config)
        print(f"generate_world({config}): {time.perf_counter() - start:.1f} s")
        for domain in FORMATS:
            _, labelled = world_labels(pathlib.Path(tmp), domain)
            table = coverage_table(labelled)
            print(f"\n{domain} (forward labelled pairs: pairs / episodes / |magnitude| min, median, max)")
            print(f"  {'attribute':22s} {'value':17s} {'train':>38s} {'test':>38s}")
            for attribute, value in sorted(expected_values(domain)):
                cells = []
                for split in ("train", "test"):
                    c = table.get((attribute, value, split))
                    cells.append("0" if c is None else
                                 f"{c['pairs']:5d} / {c['episodes']} ep / {c['min']:.3g}, {c['median']:.3g}, {c['max']:.3g}")
                print(f"  {attribute:22s} {value:17s} {cells[0]:>38s} {cells[1]:>38s}")


if __name__ == "__main__":
    sys.exit(main())
