"""PyAV frame access: seeking decode returns exactly the frames a full sequential decode does."""

import numpy as np
import pytest

from remot_pipeline.sources.video import VideoError, _read_sequential, count_frames, index_video, read_frames_rgb
from tests.conftest import real_path


def _check(path, wanted):
    got = dict(read_frames_rgb(path, wanted))
    ref = dict(_read_sequential(path, sorted(set(wanted))))
    assert got.keys() == ref.keys() == set(wanted)
    for k in got:
        np.testing.assert_array_equal(got[k], ref[k])


def test_seek_decode_matches_sequential_on_h264(small_world):
    path = small_world / "navigation" / "nav_000" / "rgb.mp4"
    n = count_frames(path)
    assert n == 90 and index_video(path).keyframe_pts.size > 1
    rng = np.random.default_rng(0)
    for wanted in (sorted(rng.choice(n, 6, replace=False).tolist()), [n - 1, 0, n // 2], list(range(0, n, 4))):
        _check(path, wanted)
    assert dict(read_frames_rgb(path, [n, n + 5])) == {}


def test_av1_video_decodes_with_pyav():
    path = real_path("unitree_g1_lerobot_v21_subset", "videos", "chunk-000", "observation.images.cam_high", "episode_000001.mp4")
    assert count_frames(path) == 393
    _check(path, [0, 200, 392])
    (_, rgb), = read_frames_rgb(path, [100])
    assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8


def test_truncated_video_is_a_video_error(small_world, tmp_path):
    data = (small_world / "navigation" / "nav_000" / "rgb.mp4").read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="bad.mp4: cannot open video"):
        count_frames(bad)
