"""Source readers on the synthetic world and on real samples, plus the quarantine quirks."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from remot_pipeline.core.ingest import assign_splits, ingest_episodes
from remot_pipeline.core.ledger import REASON_CODES
from remot_pipeline.sources import SourceError, SourceSpec, load_sources_yaml, reader
from remot_pipeline.sources.base import associate_timestamps, resolve_inside
from tests.conftest import SMALL, real_path

FORMATS = {"navigation": "tum", "manipulation": "lerobot_v3", "simulation": "remot_sim_jsonl"}


def ingest(root: Path, domain: str, name: str = "src"):
    spec = SourceSpec(name, domain, FORMATS[domain], root)
    refs = reader(spec.format).discover(spec)
    return refs, ingest_episodes(refs, 0.34)


@pytest.mark.parametrize("domain", sorted(FORMATS))
def test_synthetic_world_ingests_cleanly(small_world, domain):
    refs, (episodes, frames) = ingest(small_world / domain, domain)
    assert len(refs) == SMALL["episodes_per_domain"]
    assert frames.rows_quarantined == 0 and frames.balanced()
    assert frames.rows_out == SMALL["episodes_per_domain"] * SMALL["frames_per_episode"]
    assert set(episodes.column("split").to_pylist()) == {"train", "test"}
    t = frames.table
    if domain != "manipulation":
        cam = np.asarray(t.column("cam2world").to_pylist()).reshape(-1, 4, 4)
        np.testing.assert_allclose(np.swapaxes(cam[:, :3, :3], 1, 2) @ cam[:, :3, :3], np.broadcast_to(np.eye(3), (len(cam), 3, 3)), atol=1e-6)
    else:
        assert t.column("ee_pos_base_m").null_count == 0 and t.column("gripper_width_m").null_count == 0
    ts = np.asarray(t.column("timestamp_s").to_pylist())
    assert ts.min() == 0.0


def copy_episode(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def corrupt_tum(world: Path, tmp: Path) -> Path:
    """A TUM source with one healthy and several broken episodes."""
    root = tmp / "nav_src"
    nav = sorted((world / "navigation").iterdir())
    for i, ep in enumerate(nav):
        copy_episode(ep, root / f"healthy_{i}")
    bad = copy_episode(nav[1], root / "nan_and_dupes")
    lines = (bad / "groundtruth.txt").read_text().splitlines()
    data_idx = [i for i, l in enumerate(lines) if not l.startswith("#")]
    parts = lines[data_idx[5]].split()
    lines[data_idx[5]] = " ".join(parts[:1] + ["nan"] + parts[2:])  # NaN pose
    lines[data_idx[7]] = lines[data_idx[6]]  # duplicated timestamp
    parts = lines[data_idx[9]].split()
    lines[data_idx[9]] = " ".join(parts[:4] + ["0.9", "0.9", "0.9", "0.9"])  # |q| = 1.8
    lines[data_idx[11]] = "1.0 2.0 3.0"  # malformed
    (bad / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    trunc = copy_episode(nav[2], root / "truncated_video")
    data = (trunc / "rgb.mp4").read_bytes()
    (trunc / "rgb.mp4").write_bytes(data[: len(data) // 3])
    esc = copy_episode(nav[0], root / "escapes_root")
    txt = (esc / "rgb.txt").read_text().replace("rgb.mp4", "../../../etc/passwd")
    (esc / "rgb.txt").write_text(txt)
    return root


def test_corrupt_tum_files_are_quarantined_with_reasons_and_nothing_is_lost(small_world, tmp_path):
    root = corrupt_tum(small_world, tmp_path)
    refs, (episodes, frames) = ingest(root, "navigation")
    assert frames.balanced(), frames.ledger()
    q = frames.quarantine.to_pylist()
    reasons = {r["reason_code"] for r in q}
    assert {"nan_pose", "timestamp_duplicate", "quat_not_unit", "malformed_line", "video_unreadable", "path_escapes_root"} <= reasons
    assert reasons <= set(REASON_CODES)
    by_ep = {}
    for r in q:
        by_ep.setdefault(r["episode_id"], set()).add(r["reason_code"])
    assert by_ep["src/escapes_root"] == {"path_escapes_root"}
    assert by_ep["src/truncated_video"] == {"video_unreadable"}
    assert all(r["file"] and r["line"] for r in q if r["reason_code"] in {"nan_pose", "quat_not_unit", "malformed_line"})
    # Healthy data survives: the healthy episode whole, the damaged-rows episode minus its bad rows.
    ok = set(episodes.column("episode_id").to_pylist())
    healthy = {f"src/healthy_{i}" for i in range(len(ok) - 1)}
    assert ok == healthy | {"src/nan_and_dupes"}
    n, k = SMALL["frames_per_episode"], SMALL["episodes_per_domain"]
    assert frames.rows_out == k * n + (n - 4) and frames.rows_in == (k + 3) * n


def test_video_shorter_than_metadata_quarantines_the_missing_frames(small_world, tmp_path):
    ep = copy_episode(sorted((small_world / "simulation").iterdir())[0], tmp_path / "sim" / "ep")
    lines = (ep / "log.jsonl").read_text().splitlines()
    rec = json.loads(lines[-1])  # log one frame more than the video holds, one step later
    rec["frame_index"] += 1
    rec["timestamp_s"] += rec["timestamp_s"] - json.loads(lines[-2])["timestamp_s"]
    (ep / "log.jsonl").write_text("\n".join(lines + [json.dumps(rec)]) + "\n")
    _, (_, frames) = ingest(tmp_path / "sim", "simulation")
    assert [r["reason_code"] for r in frames.quarantine.to_pylist()] == ["video_short"]
    assert frames.balanced()


def test_missing_lerobot_video_quarantines_every_row_of_the_dataset(small_world, tmp_path):
    ds = tmp_path / "arm"
    shutil.copytree(small_world / "manipulation" / "synthetic_arm", ds)
    for p in (ds / "videos").rglob("*.mp4"):
        p.unlink()
    _, (episodes, frames) = ingest(ds, "manipulation")
    assert episodes.num_rows == 0 and frames.rows_out == 0
    assert {r["reason_code"] for r in frames.quarantine.to_pylist()} == {"video_missing"}
    assert frames.balanced()


def test_unusable_source_is_one_clear_line(tmp_path):
    spec = SourceSpec("gone", "navigation", "tum", tmp_path / "does_not_exist")
    with pytest.raises(SourceError) as err:
        reader("tum").discover(spec)
    msg = str(err.value)
    assert "does_not_exist" in msg and "fix" in msg and "\n" not in msg
    (tmp_path / "ds" / "meta").mkdir(parents=True)
    (tmp_path / "ds" / "meta" / "info.json").write_text("{not json")
    with pytest.raises(SourceError, match=r"info.json: invalid JSON"):
        reader("lerobot_v3").discover(SourceSpec("bad", "manipulation", "lerobot_v3", tmp_path / "ds"))


def test_sources_yaml(tmp_path):
    (tmp_path / "s.yaml").write_text("sources:\n  - {name: a, domain: navigation, format: tum, path: rel/dir}\n")
    (spec,) = load_sources_yaml(tmp_path / "s.yaml")
    assert spec.path == (tmp_path / "rel" / "dir").resolve()
    (tmp_path / "t.yaml").write_text("sources:\n  - {name: a, domain: navigation, format: kitti9, path: x}\n")
    with pytest.raises(SourceError, match=r"t.yaml: source a: unknown format 'kitti9' \(did you mean `kitti`\?\)"):
        load_sources_yaml(tmp_path / "t.yaml")
    (tmp_path / "u.yaml").write_text("sources:\n  - {name: a, domain: space, format: tum, path: x}\n")
    with pytest.raises(SourceError, match="domain 'space'"):
        load_sources_yaml(tmp_path / "u.yaml")


def test_resolve_inside_refuses_escapes(tmp_path):
    assert resolve_inside(tmp_path, "a/b.mp4") == (tmp_path / "a" / "b.mp4").resolve()
    assert resolve_inside(tmp_path, "../../etc/passwd") is None
    assert resolve_inside(tmp_path, "/etc/passwd") is None


def test_associate_timestamps_tolerance():
    ref = np.array([0.0, 1.0, 2.0])
    np.testing.assert_array_equal(associate_timestamps(np.array([0.01, 0.6, 1.98, 5.0]), ref, 0.05), [0, -1, 2, -1])


def test_split_is_deterministic_disjoint_and_never_empty():
    ids = [f"s/e{i}" for i in range(10)]
    a, b = assign_splits(ids, 0.25), assign_splits(list(reversed(ids)), 0.25)
    assert a == b
    assert sum(v == "test" for v in a.values()) == 3
    assert assign_splits(["x", "y"], 0.25) in ({"x": "test", "y": "train"}, {"x": "train", "y": "test"})


def test_real_tum_fr2_desk_ingests_pose_rows_with_its_tracking_gap():
    from remot_pipeline.core.ledger import QuarantineLog
    from remot_pipeline.core.motion import PairConfig, candidate_pairs
    from remot_pipeline.sources.tum import read_groundtruth

    path = real_path("tum_rgbd_evo", "fr2_desk_groundtruth.txt")
    q = QuarantineLog("test", "navigation")
    ts, cam2world, keep, lines, rows_in = read_groundtruth(path, q, "fr2_desk")
    assert rows_in == 20957 and int(keep.sum()) + len(q) == rows_in
    gap = np.diff(ts[keep]).max()
    assert 11.5 < gap < 12.5
    a, b, filtered = candidate_pairs(ts[keep] - ts[keep][0], PairConfig(1, 300, 50, 20.0, 0.5))
    spans = (ts[keep][np.maximum(a, b)] - ts[keep][np.minimum(a, b)])
    # No kept pair spans the 12 s dropout, and the rule reports what it removed.
    t_gap = ts[keep][np.argmax(np.diff(ts[keep]))]
    lo, hi = np.minimum(ts[keep][a], ts[keep][b]), np.maximum(ts[keep][a], ts[keep][b])
    assert not np.any((lo <= t_gap) & (hi > t_gap + 1.0))
    assert filtered["spans_tracking_gap"] > 0 and spans.max() < 20.0


def test_real_tum_trajectories_ingest_as_pose_only_episodes():
    # fr2/desk really holds one repeated timestamp (1311868229.576): it is quarantined, not lost.
    for name, rows, reasons in (("freiburg1_xyz-groundtruth.txt", 3000, []),
                                ("fr2_desk_groundtruth.txt", 20957, ["timestamp_duplicate"])):
        path = real_path("tum_rgbd_evo", name)
        refs, (episodes, frames) = ingest(path, "navigation", name="tum_real")
        assert len(refs) == 1 and frames.rows_in == rows and frames.balanced()
        assert frames.quarantine.column("reason_code").to_pylist() == reasons
        (ep,) = episodes.to_pylist()
        assert ep["signals"] == ["camera_pose"] and frames.table.column("media_path").null_count == frames.rows_out


def test_video_longer_than_metadata_and_mixed_separators(small_world, tmp_path):
    ep = copy_episode(sorted((small_world / "navigation").iterdir())[0], tmp_path / "nav" / "ep")
    gt = (ep / "groundtruth.txt").read_text().splitlines()
    rgb = (ep / "rgb.txt").read_text().splitlines()
    data = [l for l in gt if not l.startswith("#")][:-10]  # metadata lists 10 frames fewer than the video holds
    mixed = [l.replace(" ", ",", 2).replace(" ", "\t", 1) if i % 3 == 0 else l for i, l in enumerate(data)]
    (ep / "groundtruth.txt").write_text("# timestamp tx ty tz qx qy qz qw\n" + "\n".join(mixed) + "\n")
    (ep / "rgb.txt").write_text("\n".join(rgb[:-10]) + "\n")
    _, (_, frames) = ingest(tmp_path / "nav", "navigation")
    assert frames.rows_quarantined == 0 and frames.rows_out == SMALL["frames_per_episode"] - 10
