"""Malformed-input cases for the line-based navigation formats: TUM RGB-D (``groundtruth.txt`` +
``rgb.txt`` + ``rgb.mp4`` + ``camera.json``), KITTI odometry (``poses/00.txt`` + ``times.txt`` +
images), EuRoC MAV (ground-truth and camera ``data.csv``, ns clocks) and RealEstate10K (one
``<clip>.txt`` of 19 numbers a line, after a URL line).

The healthy sources (``tests.corpus.healthy``):

* tum: ``nav_000/groundtruth.txt`` (3 comment lines, data lines 4-19: 16 poses at 15 Hz from Unix
  time 1700000000), ``nav_000/rgb.txt`` (3 comment lines, lines 4-19 name ``rgb.mp4``, 16 frames);
* kitti: ``poses/00.txt`` (lines 1-6), ``sequences/00/times.txt`` (lines 1-6, 0.05 s + 0.1 s k),
  ``sequences/00/image_2/00000k.png``;
* euroc: ``MH_01_easy/mav0/state_groundtruth_estimate0/data.csv`` (``#`` header, lines 2-61: 60
  poses at 200 Hz), ``cam0/data.csv`` (header, lines 2-7: 6 frames, 1 us after ground-truth lines
  2, 12, ..., 52), ``cam0/data/<ns>.png``, ``cam0/sensor.yaml``;
* realestate10k: ``0a1b2c3d4e5f.txt`` (line 1 the URL, lines 2-9: 8 frames 33,367 us apart from
  1 s).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.corpus import Blamed, Case, Clean, Codes, Fails, damaged, edits

# ------------------------------------------------------------------------------ helpers ---


def _nav(root: Path) -> Path:
    return root / "nav_000"


def _gt_tum(root: Path) -> Path:
    return _nav(root) / "groundtruth.txt"


def _rgb(root: Path) -> Path:
    return _nav(root) / "rgb.txt"


def _poses(root: Path) -> Path:
    return root / "poses" / "00.txt"


def _times(root: Path) -> Path:
    return root / "sequences" / "00" / "times.txt"


def _mav(root: Path) -> Path:
    return root / "MH_01_easy" / "mav0"


def _gt_euroc(root: Path) -> Path:
    return _mav(root) / "state_groundtruth_estimate0" / "data.csv"


def _cam(root: Path) -> Path:
    return _mav(root) / "cam0" / "data.csv"


def _clip(root: Path) -> Path:
    return root / "0a1b2c3d4e5f.txt"


GT = "state_groundtruth_estimate0/data.csv"
CAM = "cam0/data.csv"
CLIP = "0a1b2c3d4e5f.txt"


def _scale(path: Path, line: int, fields: range, factor: float, sep: str | None = None) -> None:
    """Multiply the given fields of one line by ``factor``."""
    for j in fields:
        edits.set_field(path, line, j, repr(float(edits.get_field(path, line, j, sep)) * factor), sep)


def _shift(path: Path, line: int, field: int, by, sep: str | None = None) -> None:
    """Add ``by`` to a number (an exact int stays an int, as EuRoC's ns clocks)."""
    value = edits.get_field(path, line, field, sep)
    new = int(value) + by if isinstance(by, int) and value.lstrip("-").isdigit() else f"{float(value) + by:.6f}"
    edits.set_field(path, line, field, new, sep)


def _strip_comments(path: Path) -> None:
    Path(path).write_text("".join(ln + "\n" for ln in edits.lines(path) if ln.strip() and not ln.startswith("#")))


def _crlf(path: Path) -> None:
    Path(path).write_bytes(Path(path).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def _insert(path: Path, line_no: int, text: str) -> None:
    """Insert ``text`` as line ``line_no`` (1-based; the old line moves down)."""
    ls = edits.lines(path)
    ls.insert(line_no - 1, text)
    Path(path).write_text("\n".join(ls))


def _append(path: Path, text: str) -> None:
    body = Path(path).read_text()
    Path(path).write_text(body + ("" if body.endswith("\n") else "\n") + text + "\n")


def _append_field(path: Path, line: int, value: str, sep: str | None = None) -> None:
    text = edits.lines(path)[line - 1]
    edits.set_line(path, line, text + (" " if sep is None else sep) + value)


def _mp4(path: Path, n: int, fps: float = 10.0) -> None:
    import numpy as np

    from remot_pipeline.synthetic.video import Mp4Writer

    path.parent.mkdir(parents=True, exist_ok=True)
    with Mp4Writer(path, fps, 32, 32) as w:
        for i in range(n):
            w.write(np.full((32, 32, 3), 10 * i % 255, np.uint8))


def _truncate(path: Path, keep_bytes: int = 300) -> None:
    Path(path).write_bytes(Path(path).read_bytes()[:keep_bytes])


def _each(*fns):
    """Apply several damages in turn."""
    def damage(root, path):
        for fn in fns:
            fn(root, path)
    return damage


# ---------------------------------------------------------------------------------- TUM ---

def _tum_extra_frame(root: Path, path: Path) -> None:
    """A 17th pose and a 17th rgb.txt line, for a video of 16 frames."""
    gt, rgb = _gt_tum(root), _rgb(root)
    last = edits.lines(gt)[18].split()
    _append(gt, " ".join([f"{float(last[0]) + 1 / 15:.6f}", *last[1:]]))
    _append(rgb, f"{float(last[0]) + 1 / 15:.6f} rgb.mp4")


def _tum_absolute_video(outside: bool):
    def damage(root: Path, path: Path) -> None:
        video = _nav(root) / "rgb.mp4"
        if outside:
            keep = root.parent / "elsewhere" / "rgb.mp4"
            keep.parent.mkdir()
            shutil.move(video, keep)
            video = keep
        rgb = _rgb(root)
        rgb.write_text(rgb.read_text().replace(" rgb.mp4", f" {video.resolve()}"))
    return damage


TUM = [
    # 1. frame index: rgb.txt line i is the video's frame i
    Case("tum/rgb_txt_lists_more_frames_than_the_video", 1, "tum", damaged("tum", _tum_extra_frame),
         Blamed("video_short", at=("rgb.mp4", 20))),
    Case("tum/video_reencoded_shorter", 1, "tum", damaged("tum", lambda r, p: _mp4(_nav(r) / "rgb.mp4", 10)),
         Blamed("video_short", n=6, at=("rgb.mp4", 14))),
    # one video named two ways: line 19 is still frame 15, past a 15-frame video (frame 14 is not reused)
    Case("tum/rgb_txt_names_the_video_two_ways", 1, "tum",
         damaged("tum", _each(lambda r, p: _mp4(_nav(r) / "rgb.mp4", 15), lambda r, p: edits.set_field(_rgb(r), 4, 1, "./rgb.mp4"))),
         Blamed("video_short", at=("rgb.mp4", 19))),
    # a damaged rgb.txt line keeps its frame: its pose finds no frame, and the last line is still frame
    # 15, past a 15-frame video (two rows, two codes; never the frame before it)
    Case("tum/rgb_txt_damaged_line_keeps_its_frame", 1, "tum",
         damaged("tum", _each(lambda r, p: _mp4(_nav(r) / "rgb.mp4", 15), lambda r, p: edits.set_field(_rgb(r), 5, 0, "17000000x0.066667"))),
         Codes(frozenset({"no_matching_frame", "video_short"}))),
    # 2. structural damage
    Case("tum/groundtruth_empty", 2, "tum", damaged("tum", lambda r, p: _gt_tum(r).write_text("")),
         Fails("groundtruth.txt: no data line")),
    Case("tum/groundtruth_comments_only", 2, "tum",
         damaged("tum", lambda r, p: _gt_tum(r).write_text("".join(ln + "\n" for ln in edits.lines(_gt_tum(r))[:3]))),
         Fails("groundtruth.txt: no data line")),
    Case("tum/rgb_txt_header_only", 2, "tum", damaged("tum", lambda r, p: _rgb(r).write_text("timestamp filename\n")),
         Fails("rgb.txt: no frame line")),
    Case("tum/camera_json_truncated", 2, "tum", damaged("tum", lambda r, p: _truncate(_nav(r) / "camera.json", 20)),
         Fails("camera.json: not a camera file")),
    Case("tum/camera_json_is_a_list", 2, "tum", damaged("tum", lambda r, p: edits.edit_json(_nav(r) / "camera.json",
                                                                                          lambda d: [d])),
         Fails("camera.json: not a camera file")),
    Case("tum/camera_json_without_fx", 2, "tum", damaged("tum", lambda r, p: edits.edit_json(_nav(r) / "camera.json",
                                                                                           lambda d: d.pop("fx"))),
         Fails("camera.json")),
    # every pose's frame is in one video, so each pose row is blamed for it
    Case("tum/video_truncated", 2, "tum", damaged("tum", lambda r, p: _truncate(_nav(r) / "rgb.mp4")),
         Blamed("video_unreadable", n=16, at=("rgb.mp4", 4))),
    Case("tum/rgb_txt_names_a_missing_video", 2, "tum",
         damaged("tum", lambda r, p: _rgb(r).write_text(_rgb(r).read_text().replace(" rgb.mp4", " rgb_0.mp4"))),
         Blamed("video_missing", n=16, at=("rgb.txt", 4))),
    # 3. real files as written (the real TUM RGB-D ground truth prints 4 decimals)
    Case("tum/groundtruth_6_decimals", 3, "tum", damaged("tum", lambda r, p: edits.round_floats(_gt_tum(r))), Clean(rows=16)),
    Case("tum/groundtruth_4_decimals", 3, "tum", damaged("tum", lambda r, p: edits.round_floats(_gt_tum(r), 4)), Clean(rows=16)),
    Case("tum/groundtruth_float32", 3, "tum", damaged("tum", lambda r, p: edits.float32_floats(_gt_tum(r))), Clean(rows=16)),
    # 4. no row vanishes
    Case("tum/bom_on_every_text_file", 4, "tum",
         damaged("tum", lambda r, p: [edits.add_bom(f) for f in (_gt_tum(r), _rgb(r), _nav(r) / "camera.json")]),
         Clean(rows=16)),
    Case("tum/bom_before_the_first_data_lines", 4, "tum",  # no comment line shields the first record
         damaged("tum", lambda r, p: [(_strip_comments(f), edits.add_bom(f)) for f in (_gt_tum(r), _rgb(r))]),
         Clean(rows=16)),
    Case("tum/crlf_line_ends", 4, "tum", damaged("tum", lambda r, p: [_crlf(f) for f in (_gt_tum(r), _rgb(r))]), Clean(rows=16)),
    Case("tum/header_line_without_hash", 4, "tum",
         damaged("tum", lambda r, p: (_strip_comments(_gt_tum(r)), _insert(_gt_tum(r), 1, "timestamp tx ty tz qx qy qz qw"))),
         Clean(rows=16)),
    Case("tum/first_data_line_typo", 4, "tum", damaged("tum", lambda r, p: edits.set_field(_gt_tum(r), 4, 2, "0.039l88550")),
         Blamed("malformed_line", at=("groundtruth.txt", 4))),
    # the damaged rgb.txt line takes its video frame with it; its pose alone finds no frame
    Case("tum/rgb_txt_first_line_typo", 4, "tum", damaged("tum", lambda r, p: edits.set_field(_rgb(r), 4, 0, "17000000OO.000000")),
         Blamed("no_matching_frame", at=("groundtruth.txt", 4))),
    # 5. only the damaged row is blamed
    Case("tum/one_timestamp_1000s_ahead", 5, "tum", damaged("tum", lambda r, p: _shift(_gt_tum(r), 11, 0, 1000.0)),
         Blamed("timestamp_outlier", at=("groundtruth.txt", 11))),
    Case("tum/one_nan_translation", 5, "tum", damaged("tum", lambda r, p: edits.set_field(_gt_tum(r), 12, 2, "nan")),
         Blamed("nan_pose", at=("groundtruth.txt", 12))),
    Case("tum/two_lines_swapped", 5, "tum",
         damaged("tum", lambda r, p: (lambda ls: (edits.set_line(_gt_tum(r), 9, ls[9]), edits.set_line(_gt_tum(r), 10, ls[8])))(
             edits.lines(_gt_tum(r)))),
         Blamed("timestamp_unsorted", at=("groundtruth.txt", 10))),
    Case("tum/one_line_duplicated", 5, "tum", damaged("tum", lambda r, p: _insert(_gt_tum(r), 8, edits.lines(_gt_tum(r))[6])),
         Blamed("timestamp_duplicate", at=("groundtruth.txt", 8))),
    # 6. bad values
    Case("tum/quaternion_norm_2", 6, "tum", damaged("tum", lambda r, p: _scale(_gt_tum(r), 8, range(4, 8), 2.0)),
         Blamed("quat_not_unit", at=("groundtruth.txt", 8))),
    Case("tum/quaternion_all_zero", 6, "tum",
         damaged("tum", lambda r, p: [edits.set_field(_gt_tum(r), 15, j, "0.0") for j in range(4, 8)]),
         Blamed("quat_not_unit", at=("groundtruth.txt", 15))),
    # 8. an absolute media path: inside the root it is the video, outside it escapes
    Case("tum/rgb_txt_absolute_path_inside_root", 8, "tum", damaged("tum", _tum_absolute_video(outside=False)), Clean(rows=16)),
    Case("tum/rgb_txt_absolute_path_outside_root", 8, "tum", damaged("tum", _tum_absolute_video(outside=True)),
         Blamed("path_escapes_root", n=16, at=("rgb.txt", 4))),
    # 9. messages
    Case("tum/nan_timestamp", 9, "tum", damaged("tum", lambda r, p: edits.set_field(_gt_tum(r), 9, 0, "nan")),
         Blamed("timestamp_nonfinite", at=("groundtruth.txt", 9))),
    Case("tum/inf_timestamp", 9, "tum", damaged("tum", lambda r, p: edits.set_field(_gt_tum(r), 13, 0, "inf")),
         Blamed("timestamp_nonfinite", at=("groundtruth.txt", 13))),
    Case("tum/pose_with_9_numbers", 9, "tum", damaged("tum", lambda r, p: _append_field(_gt_tum(r), 7, "0.0")),
         Blamed("malformed_line", at=("groundtruth.txt", 7))),
    Case("tum/pose_with_7_numbers", 9, "tum", damaged("tum", lambda r, p: edits.keep_fields(_gt_tum(r), 16, 7)),
         Blamed("malformed_line", at=("groundtruth.txt", 16))),
    # every pose but one NaN: 15 nan_pose rows, and the one left cannot make a motion
    Case("tum/one_healthy_pose_left", 9, "tum",
         damaged("tum", lambda r, p: [edits.set_field(_gt_tum(r), i, 1, "nan") for i in range(5, 20)]),
         Codes(frozenset({"nan_pose", "episode_unusable"}))),
]


# -------------------------------------------------------------------------------- KITTI ---

def _kitti_extra_pose(root: Path, path: Path) -> None:
    """A 7th pose and timestamp, for 6 images."""
    _append(_poses(root), edits.lines(_poses(root))[5])
    _append(_times(root), "0.65")


def _calib(text: str):
    def damage(root: Path, path: Path) -> None:
        (root / "sequences" / "00" / "calib.txt").write_text(text)
    return damage


_P = "7.188560e+02 0.000000e+00 6.071928e+02 {} 0.000000e+00 7.188560e+02 1.852157e+02 0.000000e+00 " \
     "0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00"
_KITTI_CALIB = "".join(f"P{i}: {_P.format(v)}\n" for i, v in enumerate(("0.000000e+00", "-3.861448e+02",
                                                                     "4.538225e+01", "-3.372877e+02")))


def _reflect_line(path: Path, line: int) -> None:
    """Negate the first column of the 3x3 rotation of a 3x4 line (det -1: a mirror)."""
    for j in (0, 4, 8):
        edits.set_field(path, line, j, repr(-float(edits.get_field(path, line, j))))


KITTI = [
    # 1. the data line is the frame: a comment or blank line shifts no image or time
    Case("kitti/comment_line_on_top_of_poses", 1, "kitti",
         damaged("kitti", lambda r, p: _insert(_poses(r), 1, "# KITTI odometry sequence 00, cam0 to world")), Clean(rows=6)),
    Case("kitti/blank_line_inside_times", 1, "kitti", damaged("kitti", lambda r, p: _insert(_times(r), 4, "")), Clean(rows=6)),
    Case("kitti/pose_beyond_the_image_list", 1, "kitti", damaged("kitti", _kitti_extra_pose),
         Blamed("video_missing", at=("poses/00.txt", 7))),
    # 2. structural damage
    Case("kitti/pose_file_empty", 2, "kitti", damaged("kitti", lambda r, p: _poses(r).write_text("")),
         Fails("00.txt: no data line")),
    Case("kitti/pose_file_comments_only", 2, "kitti", damaged("kitti", lambda r, p: _poses(r).write_text("# poses\n\n")),
         Fails("00.txt: no data line")),
    Case("kitti/times_empty", 2, "kitti", damaged("kitti", lambda r, p: _times(r).write_text("\n")),
         Fails("times.txt: no data line")),
    Case("kitti/calib_p2_truncated", 2, "kitti", damaged("kitti", _calib(_KITTI_CALIB.replace(" 1.000000e+00 0.000000e+00\nP3", "\nP3"))),
         Fails("calib.txt: P2 is not a 3x4 projection matrix")),
    Case("kitti/calib_p2_not_numbers", 2, "kitti", damaged("kitti", _calib("P2: see the devkit\n")),
         Fails("calib.txt: P2")),
    # the declared image folder does not exist: each pose names its own missing image
    Case("kitti/image_dir_missing", 2, "kitti", damaged("kitti", image_dir="sequences/{seq}/image_3"),
         Blamed("video_missing", n=6, at=("poses/00.txt", 1))),
    # 3. real files as written
    Case("kitti/poses_6_decimals", 3, "kitti", damaged("kitti", lambda r, p: edits.round_floats(_poses(r))), Clean(rows=6)),
    Case("kitti/poses_6_decimals_with_calib", 3, "kitti",
         damaged("kitti", _each(lambda r, p: edits.round_floats(_poses(r)), _calib(_KITTI_CALIB))), Clean(rows=6)),
    Case("kitti/poses_float32", 3, "kitti", damaged("kitti", lambda r, p: edits.float32_floats(_poses(r))), Clean(rows=6)),
    # 4. no row vanishes
    Case("kitti/bom_on_poses_and_times", 4, "kitti", damaged("kitti", lambda r, p: [edits.add_bom(f) for f in (_poses(r), _times(r))]),
         Clean(rows=6)),
    Case("kitti/crlf_line_ends", 4, "kitti", damaged("kitti", lambda r, p: [_crlf(f) for f in (_poses(r), _times(r))]), Clean(rows=6)),
    Case("kitti/first_pose_line_typo", 4, "kitti", damaged("kitti", lambda r, p: edits.set_field(_poses(r), 1, 5, "0.5.1")),
         Blamed("malformed_line", at=("poses/00.txt", 1))),
    Case("kitti/first_times_line_typo", 4, "kitti", damaged("kitti", lambda r, p: edits.set_line(_times(r), 1, "0.O5")),
         Blamed("malformed_line", at=("sequences/00/times.txt", 1))),
    # 5. only the damaged row is blamed
    Case("kitti/one_time_1000s_ahead", 5, "kitti", damaged("kitti", lambda r, p: _shift(_times(r), 3, 0, 1000.0)),
         Blamed("timestamp_outlier", at=("sequences/00/times.txt", 3))),
    Case("kitti/one_nan_entry", 5, "kitti", damaged("kitti", lambda r, p: edits.set_field(_poses(r), 4, 7, "nan")),
         Blamed("nan_pose", at=("poses/00.txt", 4))),
    # 6. bad values
    Case("kitti/rotation_scaled_1_percent", 6, "kitti",
         damaged("kitti", lambda r, p: _scale(_poses(r), 3, range(0, 12), 1.01)),
         Blamed("rotation_not_orthonormal", at=("poses/00.txt", 3))),
    Case("kitti/rotation_mirrored_in_the_middle", 6, "kitti", damaged("kitti", lambda r, p: _reflect_line(_poses(r), 5)),
         Blamed("rotation_not_orthonormal", at=("poses/00.txt", 5))),
    # 9. messages
    Case("kitti/nan_time", 9, "kitti", damaged("kitti", lambda r, p: edits.set_line(_times(r), 4, "nan")),
         Blamed("timestamp_nonfinite", at=("sequences/00/times.txt", 4))),
    Case("kitti/pose_with_16_numbers", 9, "kitti", damaged("kitti", lambda r, p: _append_field(_poses(r), 2, "0 0 0 1")),
         Blamed("malformed_line", at=("poses/00.txt", 2))),
    Case("kitti/times_line_with_2_numbers", 9, "kitti", damaged("kitti", lambda r, p: _append_field(_times(r), 5, "0.1")),
         Blamed("malformed_line", at=("sequences/00/times.txt", 5))),
    Case("kitti/one_healthy_pose_left", 9, "kitti",
         damaged("kitti", lambda r, p: [edits.set_field(_poses(r), i, 3, "inf") for i in range(2, 7)]),
         Codes(frozenset({"nan_pose", "episode_unusable"}))),
]


# -------------------------------------------------------------------------------- EuRoC ---

def _euroc_absolute_image(root: Path, path: Path) -> None:
    cam = _cam(root)
    name = edits.get_field(cam, 3, 1, ",")
    edits.set_field(cam, 3, 1, str((cam.parent / "data" / name).resolve()), ",")


def _euroc_extra_frame(root: Path, path: Path) -> None:
    """A 7th camera line, inside the ground truth's time span, for the 6 images in cam0/data."""
    t = int(edits.get_field(_gt_euroc(root), 61, 0, ",")) - 1000
    _append(_cam(root), f"{t},{t}.png")


EUROC = [
    # 1. no index, but a camera line past the image list names an image that is not there
    Case("euroc/camera_line_past_the_images", 1, "euroc", damaged("euroc", _euroc_extra_frame),
         Blamed("video_missing", at=(CAM, 8))),
    # 2. structural damage
    Case("euroc/groundtruth_header_only", 2, "euroc",
         damaged("euroc", lambda r, p: _gt_euroc(r).write_text(edits.lines(_gt_euroc(r))[0] + "\n")),
         Fails(f"{GT}: no data line")),
    Case("euroc/groundtruth_empty", 2, "euroc", damaged("euroc", lambda r, p: _gt_euroc(r).write_text("")),
         Fails(f"{GT}: no data line")),
    Case("euroc/camera_csv_header_only", 2, "euroc",
         damaged("euroc", lambda r, p: _cam(r).write_text("#timestamp [ns],filename\n")), Fails(f"{CAM}: no camera line")),
    Case("euroc/no_ground_truth_folder", 2, "euroc",
         damaged("euroc", lambda r, p: shutil.rmtree(_gt_euroc(r).parent)), Fails("holds no mav0/")),
    # every camera line names an image in the missing folder
    Case("euroc/image_folder_missing", 2, "euroc", damaged("euroc", lambda r, p: shutil.rmtree(_mav(r) / "cam0" / "data")),
         Blamed("video_missing", n=6, at=(CAM, 2))),
    # 3. real files as written
    Case("euroc/groundtruth_6_decimals", 3, "euroc", damaged("euroc", lambda r, p: edits.round_floats(_gt_euroc(r))), Clean(rows=6)),
    Case("euroc/groundtruth_float32", 3, "euroc", damaged("euroc", lambda r, p: edits.float32_floats(_gt_euroc(r))), Clean(rows=6)),
    Case("euroc/sensor_yaml_6_decimals", 3, "euroc",
         damaged("euroc", lambda r, p: edits.round_floats(_mav(r) / "cam0" / "sensor.yaml")), Clean(rows=6)),
    # 4. no row vanishes
    Case("euroc/bom_on_every_csv", 4, "euroc",
         damaged("euroc", lambda r, p: [edits.add_bom(f) for f in (_gt_euroc(r), _cam(r), _mav(r) / "cam0" / "sensor.yaml")]),
         Clean(rows=6)),
    Case("euroc/bom_and_no_header", 4, "euroc",
         damaged("euroc", lambda r, p: [(_strip_comments(f), edits.add_bom(f)) for f in (_gt_euroc(r), _cam(r))]),
         Clean(rows=6)),
    Case("euroc/crlf_line_ends", 4, "euroc", damaged("euroc", lambda r, p: [_crlf(f) for f in (_gt_euroc(r), _cam(r))]),
         Clean(rows=6)),
    Case("euroc/header_without_hash", 4, "euroc",
         damaged("euroc", lambda r, p: edits.set_line(_gt_euroc(r), 1, edits.lines(_gt_euroc(r))[0].lstrip("#"))),
         Clean(rows=6)),
    Case("euroc/first_groundtruth_line_typo", 4, "euroc",
         damaged("euroc", lambda r, p: edits.set_field(_gt_euroc(r), 2, 3, "0.12.5", ",")),
         Blamed("malformed_line", at=(GT, 2))),
    Case("euroc/first_camera_line_typo", 4, "euroc",
         damaged("euroc", lambda r, p: edits.set_field(_cam(r), 2, 0, "14036365797585S6392", ",")),
         Blamed("malformed_line", at=(CAM, 2))),
    # 5. only the damaged row is blamed
    Case("euroc/one_groundtruth_time_1000s_ahead", 5, "euroc",
         damaged("euroc", lambda r, p: _shift(_gt_euroc(r), 31, 0, 1000 * 10**9, ",")),
         Blamed("timestamp_outlier", at=(GT, 31))),
    Case("euroc/one_camera_time_1000s_ahead", 5, "euroc", damaged("euroc", lambda r, p: _shift(_cam(r), 4, 0, 1000 * 10**9, ",")),
         Blamed("timestamp_outlier", at=(CAM, 4))),
    Case("euroc/one_nan_position", 5, "euroc", damaged("euroc", lambda r, p: edits.set_field(_gt_euroc(r), 25, 2, "nan", ",")),
         Blamed("nan_pose", at=(GT, 25))),
    # 6. bad values
    Case("euroc/quaternion_norm_2", 6, "euroc", damaged("euroc", lambda r, p: _scale(_gt_euroc(r), 40, range(4, 8), 2.0, ",")),
         Blamed("quat_not_unit", at=(GT, 40))),
    Case("euroc/quaternion_all_zero", 6, "euroc",
         damaged("euroc", lambda r, p: [edits.set_field(_gt_euroc(r), 7, j, "0", ",") for j in range(4, 8)]),
         Blamed("quat_not_unit", at=(GT, 7))),
    # 8. an absolute image path inside the root is that image
    Case("euroc/camera_csv_absolute_image_path", 8, "euroc", damaged("euroc", _euroc_absolute_image), Clean(rows=6)),
    # 9. messages
    Case("euroc/nan_groundtruth_timestamp", 9, "euroc",
         damaged("euroc", lambda r, p: edits.set_field(_gt_euroc(r), 45, 0, "nan", ",")),
         Blamed("timestamp_nonfinite", at=(GT, 45))),
    Case("euroc/inf_camera_timestamp", 9, "euroc", damaged("euroc", lambda r, p: edits.set_field(_cam(r), 6, 0, "inf", ",")),
         Blamed("timestamp_nonfinite", at=(CAM, 6))),
    Case("euroc/groundtruth_line_with_7_fields", 9, "euroc",
         damaged("euroc", lambda r, p: edits.keep_fields(_gt_euroc(r), 50, 7, ",")),
         Blamed("malformed_line", at=(GT, 50))),
    Case("euroc/camera_line_with_3_fields", 9, "euroc", damaged("euroc", lambda r, p: _append_field(_cam(r), 3, "x.png", ",")),
         Blamed("malformed_line", at=(CAM, 3))),
    # every ground-truth pose NaN: each says nan_pose, each camera frame that it has no pose
    Case("euroc/every_groundtruth_pose_nan", 9, "euroc",
         damaged("euroc", lambda r, p: [edits.set_field(_gt_euroc(r), i, 1, "nan", ",") for i in range(2, 62)]),
         Codes(frozenset({"nan_pose", "no_matching_frame"}))),
]


# ------------------------------------------------------------------------ RealEstate10K ---

def _re10k_video(n: int):
    """The clip's full source video at 10 fps (frames 10-12 hold the clip's 1.0-1.23 s)."""
    def damage(root: Path, path: Path) -> None:
        _mp4(root / "v" / "0a1b2c3d4e5f.mp4", n)
    return damage


def _re10k_times_from_zero(root: Path, path: Path) -> None:
    """Shift the clip's timestamps so that its first frame is at 0 s."""
    clip = _clip(root)
    rows = [line for line in edits.data_lines(clip) if edits.get_field(clip, line, 0).isdigit()]  # not the URL
    t0 = int(edits.get_field(clip, rows[0], 0))
    for line in rows:
        edits.set_field(clip, line, 0, str(int(edits.get_field(clip, line, 0)) - t0))


def _reflect_w2c(path: Path, line: int) -> None:
    for j in (7, 11, 15):
        edits.set_field(path, line, j, repr(-float(edits.get_field(path, line, j))))


RE10K = [
    # 1. frame index: in timestamp mode the frame is round(t * fps)
    # (a time far from its neighbours is a timestamp_outlier instead, so these stay within ten steps)
    Case("realestate10k/negative_time_before_the_video", 1, "realestate10k",
         damaged("realestate10k", _each(_re10k_video(20), _re10k_times_from_zero,
                                        lambda r, p: edits.set_field(_clip(r), 2, 0, "-100000")),
                 video_dir="v", video_frames="timestamp"),
         Blamed("frame_index_invalid", at=(CLIP, 2))),
    Case("realestate10k/time_past_the_video_end", 1, "realestate10k",
         damaged("realestate10k", _each(_re10k_video(14), lambda r, p: edits.set_field(
             _clip(r), 9, 0, str(int(edits.get_field(_clip(r), 8, 0)) + 250000))),
                 video_dir="v", video_frames="timestamp"),
         Blamed("video_short", at=(CLIP, 9))),
    # 2. structural damage
    Case("realestate10k/url_line_only", 2, "realestate10k",
         damaged("realestate10k", lambda r, p: _clip(r).write_text(edits.lines(_clip(r))[0] + "\n")), Fails(f"{CLIP}: no data line")),
    Case("realestate10k/file_empty", 2, "realestate10k", damaged("realestate10k", lambda r, p: _clip(r).write_text("")),
         Fails(f"{CLIP}: no data line")),
    Case("realestate10k/video_frames_unknown", 2, "realestate10k",
         damaged("realestate10k", _re10k_video(20), video_dir="v", video_frames="frame"), Fails("video_frames='frame'")),
    Case("realestate10k/no_clip_file", 2, "realestate10k", damaged("realestate10k", lambda r, p: _clip(r).unlink()),
         Fails("holds no RealEstate10K")),
    # 3. real files as written
    Case("realestate10k/6_decimals", 3, "realestate10k", damaged("realestate10k", lambda r, p: edits.round_floats(_clip(r))),
         Clean(rows=8)),
    Case("realestate10k/float32", 3, "realestate10k", damaged("realestate10k", lambda r, p: edits.float32_floats(_clip(r))),
         Clean(rows=8)),
    # 4. no row vanishes
    Case("realestate10k/bom", 4, "realestate10k", damaged("realestate10k", lambda r, p: edits.add_bom(_clip(r))), Clean(rows=8)),
    Case("realestate10k/bom_and_no_url_line", 4, "realestate10k",
         damaged("realestate10k", lambda r, p: (edits.set_line(_clip(r), 1, None), edits.add_bom(_clip(r)))), Clean(rows=8)),
    Case("realestate10k/crlf_line_ends", 4, "realestate10k", damaged("realestate10k", lambda r, p: _crlf(_clip(r))), Clean(rows=8)),
    Case("realestate10k/first_data_line_typo", 4, "realestate10k",
         damaged("realestate10k", lambda r, p: edits.set_field(_clip(r), 2, 3, "0.5.0")), Blamed("malformed_line", at=(CLIP, 2))),
    # 5. only the damaged row is blamed
    Case("realestate10k/one_time_1000s_ahead", 5, "realestate10k",
         damaged("realestate10k", lambda r, p: _shift(_clip(r), 5, 0, 1000 * 10**6)), Blamed("timestamp_outlier", at=(CLIP, 5))),
    Case("realestate10k/one_nan_rotation_entry", 5, "realestate10k",
         damaged("realestate10k", lambda r, p: edits.set_field(_clip(r), 6, 12, "nan")), Blamed("nan_pose", at=(CLIP, 6))),
    # 6. bad values
    Case("realestate10k/rotation_mirrored", 6, "realestate10k", damaged("realestate10k", lambda r, p: _reflect_w2c(_clip(r), 7)),
         Blamed("rotation_not_orthonormal", at=(CLIP, 7))),
    Case("realestate10k/rotation_scaled_1_percent", 6, "realestate10k",
         damaged("realestate10k", lambda r, p: _scale(_clip(r), 3, range(7, 19), 1.01)),
         Blamed("rotation_not_orthonormal", at=(CLIP, 3))),
    # 9. messages
    Case("realestate10k/nan_timestamp", 9, "realestate10k", damaged("realestate10k", lambda r, p: edits.set_field(_clip(r), 4, 0, "nan")),
         Blamed("timestamp_nonfinite", at=(CLIP, 4))),
    Case("realestate10k/row_with_20_numbers", 9, "realestate10k",
         damaged("realestate10k", lambda r, p: _append_field(_clip(r), 8, "0.0")), Blamed("malformed_line", at=(CLIP, 8))),
    Case("realestate10k/one_healthy_row_left", 9, "realestate10k",
         damaged("realestate10k", lambda r, p: [edits.set_field(_clip(r), i, 10, "nan") for i in range(2, 9)]),
         Codes(frozenset({"nan_pose", "episode_unusable"}))),
]


CASES: list[Case] = [*TUM, *KITTI, *EUROC, *RE10K]

NOT_APPLICABLE: dict[tuple[str, int], str] = {}  # every kind can occur in TUM, KITTI, EuRoC and RealEstate10K
