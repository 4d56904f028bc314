"""Text robustness of the navigation readers and base.py's shared helpers (issue 14):
rotations as real files print them (6 decimals, float32), BOMs, headers recognised by their words,
messages that say what is wrong, an isolated timestamp outlier quarantined alone, SE(3) bottom rows,
paths through symbolic links, and one-line SourceErrors. Inputs are generated here; a few property
tests (hypothesis) damage one line of a valid file and check that exactly that line is blamed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from remot_pipeline.core.ledger import REASON_CODES, QuarantineLog
from remot_pipeline.core.se3 import rotation_defect
from remot_pipeline.sources import SourceError, SourceSpec
from remot_pipeline.sources import euroc, kitti, nerf, pose_table, realestate10k, scannet, sevenscenes, tum
from remot_pipeline.sources.base import ROTATION_TOL, check_timestamps, parse_numeric_lines, resolve_inside

MODULES = {m.FORMAT: m for m in (kitti, euroc, realestate10k, nerf, scannet, sevenscenes, pose_table, tum)}
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BOM = "\ufeff"


def read_all(fmt: str, path: Path, **options):
    spec = SourceSpec("src", "navigation", fmt, path, options)
    reads = [MODULES[fmt].read(r) for r in MODULES[fmt].discover(spec)]
    for r in reads:  # the ledger: every data line is a kept frame or a quarantine row
        assert r.rows_in == r.n_frames + len(r.quarantine), (r.rows_in, r.n_frames, len(r.quarantine))
        assert {row["reason_code"] for row in r.quarantine.table().to_pylist()} <= set(REASON_CODES)
    return reads


def one(fmt: str, path: Path, **options):
    (r,) = read_all(fmt, path, **options)
    return r


def rows_of(r) -> list[dict]:
    return r.quarantine.table().to_pylist()


def codes(r) -> list[tuple[str, int]]:
    return [(row["reason_code"], row["line"]) for row in rows_of(r)]


def rotations(n: int, seed: int) -> np.ndarray:
    return Rotation.random(n, rng=np.random.default_rng(seed)).as_matrix()


def tum_lines(n: int, seed: int = 0, dt: float = 0.1) -> list[str]:
    rng = np.random.default_rng(seed)
    q = Rotation.random(n, rng=rng).as_quat()
    t = rng.normal(size=(n, 3))
    return [" ".join(f"{v:.9f}" for v in (1000.0 + dt * i, *t[i], *q[i])) for i in range(n)]


def write(path: Path, lines: list[str], prefix: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(prefix + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.zeros((6, 8, 3), np.uint8))


# ----------------------------------------------------------------------------- 1. real rotations


def kitti_6_decimals(root: Path, n: int, seed: int = 0) -> np.ndarray:
    r = rotations(n, seed)
    t = np.random.default_rng(seed).normal(size=(n, 3, 1)) * 50
    m = np.concatenate([r, t], axis=2)
    write(root / "poses" / "00.txt", [" ".join(f"{v:.6e}" for v in row.ravel()) for row in m])  # KITTI's own %e, 6 decimals
    return m


def test_tolerance_covers_six_decimals_and_float32_with_margin():
    r = rotations(5000, 1)
    for printed in (np.round(r, 6), np.asarray([[float(f"{v:.6e}") for v in m.ravel()] for m in r]).reshape(-1, 3, 3),
                    r.astype(np.float32).astype(np.float64)):
        err, det = rotation_defect(printed)
        assert max(err.max(), np.abs(det - 1).max()) < ROTATION_TOL / 4
    # genuinely wrong matrices stay far outside
    for bad in (r[0] * 1.001, r[0] @ np.array([[1, 0.002, 0], [0, 1, 0], [0, 0, 1]]), r[0] * [[-1], [1], [1]]):
        err, det = rotation_defect(bad)
        assert max(err, abs(det - 1)) > 50 * ROTATION_TOL


def test_kitti_six_decimal_poses_all_accepted_and_projected(tmp_path):
    m = kitti_6_decimals(tmp_path, 400)
    r = one("kitti", tmp_path)
    assert rows_of(r) == [] and r.n_frames == 400
    c = r.columns["cam2world"]
    err, det = rotation_defect(c[:, :3, :3])
    assert err.max() < 1e-14 and np.abs(det - 1).max() < 1e-14  # re-projected onto SO(3)
    assert 1e-8 < r.max_rotation_correction < 2e-6  # the 6-decimal rounding, reported
    np.testing.assert_allclose(c[:, :3, :3], m[:, :, :3], atol=2e-6)
    np.testing.assert_allclose(c[:, :3, 3], m[:, :, 3], rtol=1e-6)  # %.6e keeps 7 significant digits
    np.testing.assert_array_equal(c[:, 3], np.tile([0, 0, 0, 1.0], (400, 1)))


@pytest.mark.parametrize("damage, code", [
    (lambda m: m * 1.001, "rotation_not_orthonormal"),  # scaled
    (lambda m: m @ np.array([[1, 0.01, 0], [0, 1, 0], [0, 0, 1]]), "rotation_not_orthonormal"),  # skewed
    (lambda m: m * [[-1], [1], [1]], "rotation_not_orthonormal"),  # mirror, det -1
])
def test_kitti_non_rotation_still_rejected(tmp_path, damage, code):
    m = kitti_6_decimals(tmp_path, 12)
    lines = (tmp_path / "poses" / "00.txt").read_text().splitlines()
    bad = np.concatenate([damage(m[5][:, :3]), m[5][:, 3:]], axis=1)
    lines[5] = " ".join(f"{v:.6e}" for v in bad.ravel())
    write(tmp_path / "poses" / "00.txt", lines)
    r = one("kitti", tmp_path)
    assert codes(r) == [(code, 6)] and r.n_frames == 11


def test_nerf_float32_transforms_accepted(tmp_path):
    n = 67
    r32 = rotations(n, 2).astype(np.float32)
    r32 = r32 @ rotations(1, 3).astype(np.float32)[0]  # computed in float32, as instant-ngp stores them
    t32 = np.random.default_rng(4).normal(size=(n, 3)).astype(np.float32)
    frames = []
    for i in range(n):
        m = np.eye(4, dtype=np.float32)
        m[:3, :3], m[:3, 3] = r32[i], t32[i]
        png(tmp_path / "images" / f"{i:04d}.png")
        frames.append({"file_path": f"images/{i:04d}.png", "transform_matrix": [[float(np.float32(v)) for v in row] for row in m]})
    err, _ = rotation_defect(r32.astype(np.float64))
    assert err.max() > 1e-7  # not exact: the float32 arithmetic shows
    (tmp_path / "transforms.json").write_text(json.dumps({"fl_x": 10.0, "w": 8, "h": 6, "frames": frames}))
    r = one("nerf", tmp_path)
    assert rows_of(r) == [] and r.n_frames == n
    assert 0 < r.max_rotation_correction < 1e-6


def test_quaternion_readers_report_a_tiny_correction(tmp_path):
    write(tmp_path / "groundtruth.txt", tum_lines(10))
    r = one("tum", tmp_path / "groundtruth.txt")
    assert r.max_rotation_correction is not None and r.max_rotation_correction < 1e-12


# ----------------------------------------------------------------------------- 2. BOM and headers


def test_bom_and_header_by_words(tmp_path):
    lines = tum_lines(20)
    plain = one("tum", write(tmp_path / "a" / "groundtruth.txt", lines))
    bom = one("tum", write(tmp_path / "b" / "groundtruth.txt", lines, prefix=BOM))
    header = one("tum", write(tmp_path / "c" / "groundtruth.txt", ["timestamp tx ty tz qx qy qz qw", *lines], prefix=BOM))
    for r in (plain, bom, header):
        assert r.rows_in == 20 and r.n_frames == 20 and rows_of(r) == []
        np.testing.assert_array_equal(r.columns["cam2world"], plain.columns["cam2world"])


def test_damaged_first_line_is_quarantined_not_taken_for_a_header(tmp_path):
    lines = tum_lines(20)
    lines[0] = "l" + lines[0][1:]  # a typo in the first data line: 'l000.0 ...'
    r = one("tum", write(tmp_path / "groundtruth.txt", lines, prefix=BOM))
    assert codes(r) == [("malformed_line", 1)] and r.rows_in == 20 and r.n_frames == 19


def test_transforms_json_with_bom_parses_its_frames(tmp_path):
    frames = []
    for i, rot in enumerate(rotations(4, 5)):
        m = np.eye(4)
        m[:3, :3] = rot
        png(tmp_path / f"{i}.png")
        frames.append({"file_path": f"{i}.png", "transform_matrix": m.tolist()})
    (tmp_path / "transforms.json").write_text(BOM + json.dumps({"frames": frames}, indent=1), encoding="utf-8")
    r = one("nerf", tmp_path)
    assert r.n_frames == 4 and rows_of(r) == []


def test_bom_in_every_text_reader(tmp_path):
    """A BOM at the top of each metadata file changes nothing (KITTI, RE10K, EuRoC csvs, pose table)."""
    def add_bom(p: Path):
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())

    kitti_6_decimals(tmp_path / "k", 5)
    write(tmp_path / "k" / "sequences" / "00" / "times.txt", [f"{0.1 * i:.6e}" for i in range(5)])
    before = one("kitti", tmp_path / "k")
    add_bom(tmp_path / "k" / "poses" / "00.txt")
    add_bom(tmp_path / "k" / "sequences" / "00" / "times.txt")
    after = one("kitti", tmp_path / "k")
    assert rows_of(after) == [] and after.n_frames == 5
    np.testing.assert_array_equal(after.columns["cam2world"], before.columns["cam2world"])

    w2c = np.linalg.inv(np.concatenate([np.concatenate([rotations(4, 6), np.ones((4, 3, 1))], 2),
                                        np.tile([[[0, 0, 0, 1.0]]], (4, 1, 1))], 1))
    re_lines = ["https://www.youtube.com/watch?v=QShWPZxTDoE"] + [
        " ".join([str(1000 + 33367 * i), "0.5", "0.8", "0.5", "0.5", "0", "0", *(f"{v:.9f}" for v in w2c[i, :3].ravel())]) for i in range(4)]
    write(tmp_path / "re" / "clip.txt", re_lines, prefix=BOM)
    r = one("realestate10k", tmp_path / "re")
    assert r.n_frames == 4 and rows_of(r) == [] and r.ref.scene_id == "QShWPZxTDoE"

    table = write(tmp_path / "pt" / "log.csv", ["t,x,y,z,qx,qy,qz,qw", *(",".join(l.split()) for l in tum_lines(5))], prefix=BOM)
    cols = {"timestamp": "t", "tx": "x", "ty": "y", "tz": "z", "qx": "qx", "qy": "qy", "qz": "qz", "qw": "qw"}
    r = one("pose_table", table, columns=cols)
    assert r.n_frames == 5 and rows_of(r) == []

    mav = tmp_path / "eu" / "MH_01" / "mav0"
    gt = ["#timestamp, p_x, p_y, p_z, q_w, q_x, q_y, q_z"]
    for i, rot in enumerate(Rotation.random(8, rng=np.random.default_rng(7)).as_quat(scalar_first=True)):
        gt.append(",".join([str(1403636579758555392 + 5_000_000 * i), "0.1", "0.2", "0.3", *(f"{v:.9f}" for v in rot)]))
    write(mav / "state_groundtruth_estimate0" / "data.csv", gt, prefix=BOM)
    write(mav / "cam0" / "data.csv", ["#timestamp [ns],filename", *(f"{1403636579758555392 + 5_000_000 * i},{i}.png" for i in range(4))], prefix=BOM)
    for i in range(4):
        png(mav / "cam0" / "data" / f"{i}.png")
    r = one("euroc", tmp_path / "eu")
    assert r.n_frames == 4 and rows_of(r) == [], rows_of(r)


# ----------------------------------------------------------------------------- 3. messages that tell the truth


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nonfinite_timestamp_is_named_as_such(tmp_path, value):
    lines = tum_lines(10)
    lines[4] = value + lines[4][lines[4].index(" "):]
    r = one("tum", write(tmp_path / "groundtruth.txt", lines))
    assert codes(r) == [("timestamp_nonfinite", 5)] and r.n_frames == 9


def test_nerf_pose_with_wrong_count_or_type(tmp_path):
    frames = []
    for i, rot in enumerate(rotations(6, 8)):
        m = np.eye(4)
        m[:3, :3] = rot
        png(tmp_path / f"{i}.png")
        frames.append({"file_path": f"{i}.png", "transform_matrix": m.tolist()})
    frames[1]["transform_matrix"] = rotations(1, 9)[0].ravel().tolist()  # 9 numbers
    frames[2]["transform_matrix"] = rotations(1, 9)[0].tolist()  # 3x3
    frames[3]["transform_matrix"][0][0] = True
    frames[4]["transform_matrix"][3] = [0, 0, 1, 1]
    (tmp_path / "transforms.json").write_text(json.dumps({"frames": frames}))
    r = one("nerf", tmp_path)
    got = sorted(row["reason_code"] for row in rows_of(r))
    assert got == ["pose_malformed", "pose_malformed", "pose_not_se3", "value_type_invalid"] and r.n_frames == 2


def test_pose_table_bottom_row_bool_and_frame_index(tmp_path):
    names = [f"m{i}" for i in range(16)]
    rows = []
    for i, rot in enumerate(rotations(6, 10)):
        m = np.eye(4)
        m[:3, :3] = rot
        if i == 2:
            m[3] = [0, 0, 0.5, 1]
        rows.append(",".join([str(i * 0.1), *(f"{v:.12f}" for v in m.ravel()), "v.mp4", ["0", "1", "2", "-1", "4.5", "5"][i]]))
    table = write(tmp_path / "t.csv", [",".join(["t", *names, "video", "frame"]), *rows])
    r = one("pose_table", table, columns={"timestamp": "t", "matrix": names}, image_column="video", frame_column="frame")
    got = {(row["reason_code"], row["line"]) for row in rows_of(r)}
    assert ("pose_not_se3", 4) in got and ("frame_index_invalid", 5) in got and ("frame_index_invalid", 6) in got


@pytest.mark.parametrize("fmt, build", [
    ("tum", lambda p: write(p / "groundtruth.txt", ["# timestamp tx ty tz qx qy qz qw"])),
    ("tum", lambda p: write(p / "groundtruth.txt", [], prefix=BOM)),
    ("kitti", lambda p: write(p / "poses" / "00.txt", [""])),
    ("realestate10k", lambda p: write(p / "clip.txt", ["https://www.youtube.com/watch?v=QShWPZxTDoE"])),
    ("nerf", lambda p: write(p / "transforms.json", [BOM])),
    ("nerf", lambda p: write(p / "transforms.json", ['{"frames": []}'])),
    ("euroc", lambda p: write(p / "S" / "mav0" / "state_groundtruth_estimate0" / "data.csv", ["#timestamp, p_x"])),
    ("pose_table", lambda p: write(p / "log.csv", ["t,x,y,z,qx,qy,qz,qw"])),
])
def test_empty_or_header_only_is_one_line_source_error(tmp_path, fmt, build):
    build(tmp_path)
    opts = {"columns": {"timestamp": "t", "tx": "x", "ty": "y", "tz": "z", "qx": "qx", "qy": "qy", "qz": "qz", "qw": "qw"}} \
        if fmt == "pose_table" else {}
    with pytest.raises(SourceError) as err:
        read_all(fmt, tmp_path, **opts)
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path) in msg and "expected" in msg


def test_bad_options_are_one_line_source_errors(tmp_path):
    kitti_6_decimals(tmp_path, 4)
    for opts in ({"fps": "fast"}, {"fps": 0}, {"rotation_tol": None}, {"image_dir": "seq/{sequence}"}):
        with pytest.raises(SourceError) as err:
            read_all("kitti", tmp_path, **opts)
        assert "\n" not in str(err.value) and "option" in str(err.value)


# ----------------------------------------------------------------------------- 4. timestamps


def _ts_check(ts):
    q = QuarantineLog("episode_frames", "navigation", "s")
    n = len(ts)
    keep = check_timestamps(np.asarray(ts, dtype=np.float64), np.ones(n, bool), np.arange(1, n + 1), Path("f"), q, "e")
    return keep, [(r["reason_code"], r["line"]) for r in q.table().to_pylist()]


def test_one_future_timestamp_is_an_outlier_alone(tmp_path):
    lines = tum_lines(20)
    parts = lines[4].split(" ", 1)
    lines[4] = f"{float(parts[0]) + 1000.0:.9f} {parts[1]}"
    r = one("tum", write(tmp_path / "groundtruth.txt", lines))
    assert codes(r) == [("timestamp_outlier", 5)] and r.n_frames == 19


def test_swap_stays_unsorted_and_duplicate_stays_duplicate():
    assert _ts_check([0, 0.1, 0.3, 0.2, 0.4, 0.5])[1] == [("timestamp_unsorted", 4)]
    assert _ts_check([0, 0.1, 0.2, 0.2, 0.3])[1] == [("timestamp_duplicate", 4)]
    # a reset (two recordings concatenated) is not an isolated outlier: the second part is unsorted
    assert {c for c, _ in _ts_check([0, 1, 2, 3, 0.5, 1.5, 2.5])[1]} == {"timestamp_unsorted"}


@FAST
@given(n=st.integers(4, 40), pos=st.data(), jump=st.sampled_from([1000.0, -1000.0, 50.0, -77.0]),
       steps=st.lists(st.floats(0.5, 1.5), min_size=40, max_size=40))
def test_property_single_outlier_is_the_only_row_blamed(n, pos, jump, steps):
    ts = np.cumsum(np.asarray(steps[:n]) * 0.1)
    j = pos.draw(st.integers(0, n - 1))
    if (j == 0 and jump < 0) or (j == n - 1 and jump > 0):
        jump = -jump  # at the ends only a jump that breaks the order is detectable
    ts[j] += jump
    keep, got = _ts_check(ts)
    assert got == [("timestamp_outlier", j + 1)]
    assert keep.sum() == n - 1 and not keep[j]


# ----------------------------------------------------------------------------- 6. symbolic links and paths


def _tum_with_rgb(root: Path, names: list[str]) -> None:
    lines = tum_lines(len(names))
    write(root / "groundtruth.txt", lines)
    write(root / "rgb.txt", [f"{1000.0 + 0.1 * i:.6f} {nm}" for i, nm in enumerate(names)])


def test_symlinks_root_inside_and_escaping(tmp_path):
    real = tmp_path / "real"
    outside = tmp_path / "outside"
    png(outside / "x.png")
    for i in range(4):
        png(real / "rgb" / f"{i}.png")
    (real / "linked").symlink_to(real / "rgb")  # a link that stays inside the root
    (real / "escape.png").symlink_to(outside / "x.png")  # a link out of the root
    _tum_with_rgb(real, ["rgb/0.png", "linked/1.png", "escape.png", str(real / "rgb" / "3.png"), str(outside / "x.png")])
    (tmp_path / "via").symlink_to(real)  # the data folder reached through a link
    for root in (real, tmp_path / "via"):
        r = one("tum", root)
        assert sorted(codes(r)) == [("path_escapes_root", 3), ("path_escapes_root", 5)], codes(r)
        assert r.columns["media_path"] == ["rgb/0.png", "rgb/1.png", "rgb/3.png"]
        assert all((root / m).is_file() for m in r.columns["media_path"])
    assert resolve_inside(tmp_path / "via", "linked/2.png") == (real / "rgb" / "2.png").resolve()
    assert resolve_inside(tmp_path / "via", "escape.png") is None
    assert resolve_inside(tmp_path / "via", "bad\0name") is None


def test_nerf_through_linked_root(tmp_path):
    real = tmp_path / "real"
    frames = []
    for i, rot in enumerate(rotations(3, 11)):
        m = np.eye(4)
        m[:3, :3] = rot
        png(real / "img" / f"{i}.png")
        frames.append({"file_path": f"./img/{i}", "transform_matrix": m.tolist()})
    (real / "transforms.json").write_text(json.dumps({"frames": frames}))
    (tmp_path / "via").symlink_to(real)
    r = one("nerf", tmp_path / "via")
    assert r.n_frames == 3 and r.columns["media_path"] == ["img/0.png", "img/1.png", "img/2.png"]


# ----------------------------------------------------------------------------- property: one damaged line


DAMAGE = {
    "letters": ("malformed_line", lambda line: "x" + line[1:]),
    "short": ("malformed_line", lambda line: " ".join(line.split()[:7])),
    "long": ("malformed_line", lambda line: line + " 1.0"),
    "nan_pose": ("nan_pose", lambda line: " ".join(line.split()[:4] + ["nan"] * 4)),
    "nan_time": ("timestamp_nonfinite", lambda line: "nan " + line.split(" ", 1)[1]),
    "far_quat": ("quat_not_unit", lambda line: " ".join(line.split()[:4] + ["3", "0", "0", "0"])),
    "non_utf8": ("malformed_line", lambda line: line[:3] + "\udcff" + line[4:]),
}


@FAST
@given(n=st.integers(3, 30), data=st.data(), kind=st.sampled_from(sorted(DAMAGE)), bom=st.booleans(),
       header=st.booleans())
def test_property_tum_one_damaged_line_is_the_only_row_blamed(tmp_path_factory, n, data, kind, bom, header):
    root = tmp_path_factory.mktemp("tum")
    lines = tum_lines(n, seed=n)
    j = data.draw(st.integers(0, n - 1))
    code, damage = DAMAGE[kind]
    lines[j] = damage(lines[j])
    top = ["# TUM trajectory", "timestamp tx ty tz qx qy qz qw"] if header else []
    text = (BOM if bom else "") + "\n".join(top + lines) + "\n"
    (root / "groundtruth.txt").write_bytes(text.encode("utf-8", errors="surrogateescape"))
    r = one("tum", root / "groundtruth.txt")
    assert r.rows_in == n == r.n_frames + len(r.quarantine)
    assert codes(r) == [(code, j + 1 + len(top))]


@FAST
@given(n=st.integers(3, 25), data=st.data(), bom=st.booleans())
def test_property_kitti_one_damaged_line(tmp_path_factory, n, data, bom):
    root = tmp_path_factory.mktemp("kitti")
    kitti_6_decimals(root, n, seed=n)
    path = root / "poses" / "00.txt"
    lines = path.read_text().splitlines()
    j = data.draw(st.integers(0, n - 1))
    kind = data.draw(st.sampled_from(["letters", "short", "nan"]))
    lines[j] = {"letters": "pose " + lines[j], "short": " ".join(lines[j].split()[:9]), "nan": " ".join(["nan"] * 12)}[kind]
    write(path, lines, prefix=BOM if bom else "")
    r = one("kitti", root)
    assert codes(r) == [("nan_pose" if kind == "nan" else "malformed_line", j + 1)]
    assert r.rows_in == n and r.n_frames == n - 1


def test_parse_numeric_lines_counts_every_data_line(tmp_path):
    p = write(tmp_path / "f.txt", ["# comment", "a b c", "1 2 3", "", "1 2", "4 5 6"], prefix=BOM)
    q = QuarantineLog("episode_frames", "navigation", "s")
    values, lines = parse_numeric_lines(p, 3, q, "e")
    assert lines.tolist() == [3, 6] and [r["line"] for r in q.table().to_pylist()] == [5]
    q = QuarantineLog("episode_frames", "navigation", "s")
    values, lines = parse_numeric_lines(p, 3, q, "e", allow_header=False)  # headerless formats: the word line is a bad row
    assert lines.tolist() == [3, 6] and [r["line"] for r in q.table().to_pylist()] == [2, 5]


def test_absolute_image_path_in_rgb_txt_never_crashes(tmp_path):
    png(tmp_path / "in" / "rgb" / "0.png")
    png(tmp_path / "in" / "rgb" / "1.png")
    _tum_with_rgb(tmp_path / "in", ["/etc/passwd", str(tmp_path / "in" / "rgb" / "1.png"), "rgb/0.png"])
    r = one("tum", tmp_path / "in")
    assert ("path_escapes_root", 1) in codes(r) and r.n_frames == 2
    assert os.sep not in r.columns["media_path"][0][:1]  # stored relative to the root


def test_kitti_pose_file_as_path_hashes_its_images_beside_the_root(tmp_path):
    kitti_6_decimals(tmp_path, 4)
    for i in range(4):
        png(tmp_path / "sequences" / "00" / "image_2" / f"{i:06d}.png")
    r = one("kitti", tmp_path / "poses" / "00.txt")
    assert r.n_frames == 4 and len(r.ref.input_sha256()) == 64  # inputs outside poses/ do not crash the hash


def test_euroc_camera_csv_absolute_name_and_nan_time(tmp_path):
    mav = tmp_path / "S" / "mav0"
    gt = ["#timestamp, p_x, p_y, p_z, q_w, q_x, q_y, q_z"]
    for i, rot in enumerate(Rotation.random(8, rng=np.random.default_rng(12)).as_quat(scalar_first=True)):
        gt.append(",".join([str(10**18 + 5_000_000 * i), "0", "0", "0", *(f"{v:.9f}" for v in rot)]))
    write(mav / "state_groundtruth_estimate0" / "data.csv", gt)
    cam = [f"{10**18 + 5_000_000 * i},{i}.png" for i in range(5)]
    cam[1] = f"{10**18 + 5_000_000},/etc/passwd"
    cam[3] = "nan,3.png"
    write(mav / "cam0" / "data.csv", ["#timestamp [ns],filename", *cam])
    for i in range(5):
        png(mav / "cam0" / "data" / f"{i}.png")
    r = one("euroc", tmp_path)
    assert sorted(codes(r)) == [("path_escapes_root", 3), ("timestamp_nonfinite", 5)] and r.n_frames == 3


def test_pose_table_bad_option_types_are_one_line(tmp_path):
    table = write(tmp_path / "log.csv", ["t,x,y,z,qx,qy,qz,qw", *(",".join(l.split()) for l in tum_lines(4))])
    for opts in ({"columns": ["t"]}, {"columns": {"timestamp": "t", "matrix": "m"}},
                 {"columns": {"timestamp": "t", "tx": "x", "ty": "y", "tz": "z", "quat": ["qx", "qy", "qz", "qw"]}, "delimiter": ";;"}):
        with pytest.raises(SourceError) as err:
            read_all("pose_table", table, **opts)
        assert "\n" not in str(err.value)


# --- the generic pose table takes intrinsics -----------------------------------------------------

@pytest.mark.parametrize("declared, files, expected", [
    ([500, 510, 320.5, 240.25], {}, (500, 510, 320.5, 240.25)),
    ({"fx": 500, "fy": 510, "cx": 320.5, "cy": 240.25}, {}, (500, 510, 320.5, 240.25)),
    ("K.txt", {"K.txt": "500 0 320.5\n0 510 240.25\n0 0 1\n"}, (500, 510, 320.5, 240.25)),
    ("calib/K.txt", {"calib/K.txt": "\ufeff[[500, 0, 320.5], [0, 510, 240.25], [0, 0, 1]]"}, (500, 510, 320.5, 240.25)),
    ("cam.json", {"cam.json": '{"fl_x": 500, "fl_y": 510, "cx": 320.5, "cy": 240.25, "w": 640}'}, (500, 510, 320.5, 240.25)),
    ("cam.json", {"cam.json": '{"K": [[500, 0, 320.5], [0, 510, 240.25], [0, 0, 1]]}'}, (500, 510, 320.5, 240.25)),
])
def test_pose_table_takes_intrinsics_as_values_or_a_file(tmp_path, declared, files, expected):
    from tests.test_sources_navigation import PT_OPTIONS, write_pose_table

    from remot_pipeline.sources import SourceSpec, reader

    path, _ = write_pose_table(tmp_path)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    spec = SourceSpec("rig", "navigation", "pose_table", path, {**PT_OPTIONS, "intrinsics": declared})
    (ref,) = reader("pose_table").discover(spec)
    assert reader("pose_table").read(ref).intrinsics_px == pytest.approx(expected)


@pytest.mark.parametrize("declared, files, message", [
    ([500, 510, 320], {}, r"intrinsics must be \[fx, fy, cx, cy\] in pixels"),
    ([-500, 510, 320, 240], {}, r"need finite values and fx, fy > 0"),
    ({"fx": 500, "fy": 510}, {}, r"lacks \['cx', 'cy'\]"),
    ("missing.txt", {}, r"'missing.txt' is not a file inside"),
    ("../outside.txt", {}, r"'../outside.txt' is not a file inside"),
    ("K.txt", {"K.txt": "500 0 320\n0 510 240\n"}, r"K.txt: expected the 9 numbers of a 3x3 camera matrix|not a camera matrix"),
    ("K.txt", {"K.txt": "500 0 320\n0 510 240\n1 0 1\n"}, r"K.txt: not a camera matrix"),
    ("cam.json", {"cam.json": '{"focal": 5}'}, r"cam.json: holds none of fx/fy/cx/cy"),
    (True, {}, r"is a bool"),
])
def test_bad_pose_table_intrinsics_are_one_line(tmp_path, declared, files, message):
    from tests.test_sources_navigation import PT_OPTIONS, write_pose_table

    from remot_pipeline.sources import SourceError, SourceSpec, reader

    path, _ = write_pose_table(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    spec = SourceSpec("rig", "navigation", "pose_table", path, {**PT_OPTIONS, "intrinsics": declared})
    (ref,) = reader("pose_table").discover(spec)
    with pytest.raises(SourceError, match=message) as info:
        reader("pose_table").read(ref)
    assert "\n" not in str(info.value)
