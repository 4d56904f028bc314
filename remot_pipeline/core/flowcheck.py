"""Label <-> image agreement: does the optical flow between two frames show the labelled direction?

An independent check of the labels (which come from metadata) against the pixels (which come
from the renderer or the camera). Dense flow is OpenCV's DIS, which is reliable up to shifts of
about 20-30 px; a labelled pair spans 10-50 deg of yaw (40-190 px here), so the flow is measured
between consecutive frames and accumulated: :func:`flow_track` computes, once per episode, each
step's signed flow, and :func:`pair_flow` sums the steps between any two frames (prefix sums,
O(1) per pair). :func:`agrees` is the direct two-image check, for small motions.

Expected image flow per attribute and value (OpenCV image axes: +x right, +y down):

* camera ``yaw`` left / right: the scene flows right / left (median horizontal flow > 0 / < 0);
* camera ``pitch`` up / down: the scene flows down / up;
* camera ``translation_lateral`` right / left: the scene flows left / right (sign only);
* ``object_lateral`` and ``ee_lateral`` right / left: the moving region flows right / left
  *relative to the background* (the mean horizontal flow of the 5% fastest pixels minus the
  median flow). The label is the object's own motion with the camera's ego-motion removed, so
  the check removes the background's (camera-induced) flow too;
* other attributes (forward motion, depth, gripper, roll) are not checked here: their flow
  signature is not a single direction. They are reported as ``None``.
"""

from __future__ import annotations

import cv2
import numpy as np

#: attribute -> (region, axis, sign of the flow for the attribute's first value)
EXPECTED: dict[str, tuple[str, int, float]] = {
    "yaw": ("global", 0, +1.0),
    "camera_yaw": ("global", 0, +1.0),
    "pitch": ("global", 1, +1.0),
    "translation_lateral": ("global", 0, -1.0),
    "object_lateral": ("moving", 0, +1.0),
    "ee_lateral": ("moving", 0, +1.0),
}

_FIRST_VALUE = {"yaw": "left", "camera_yaw": "left", "pitch": "up", "translation_lateral": "right",
                "object_lateral": "right", "ee_lateral": "right"}


def decode_grey(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)


def dense_flow(grey_a: np.ndarray, grey_b: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` flow in pixels from a to b."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(grey_a, grey_b, None)


def flow_direction(flow: np.ndarray, region: str, axis: int) -> float:
    """Signed flow along ``axis``: the median over the image, or the mean over the fastest 5%."""
    comp = flow[..., axis].ravel()
    if region == "global":
        return float(np.median(comp))
    speed = np.linalg.norm(flow, axis=-1).ravel()
    k = max(1, speed.size // 20)
    fastest = np.argpartition(speed, -k)[-k:]
    return float(comp[fastest].mean())


def flow_track(frames_grey: list[np.ndarray]) -> np.ndarray:
    """Per-step flow of an episode: ``(F, 3)`` prefix sums of (global dx, global dy, moving dx
    relative to the global dx).

    Row ``t`` holds the sums over steps ``0->1 ... t-1->t``; row 0 is zero.
    """
    steps = np.zeros((len(frames_grey), 3))
    for t in range(1, len(frames_grey)):  # one flow per consecutive pair: linear in frames
        f = dense_flow(frames_grey[t - 1], frames_grey[t])
        dx = flow_direction(f, "global", 0)
        steps[t] = (dx, flow_direction(f, "global", 1), flow_direction(f, "moving", 0) - dx)
    return np.cumsum(steps, axis=0)


def pair_flow(track: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Accumulated flow from frame a to frame b, ``(N, 3)``; negative of b->a when b < a."""
    return track[b] - track[a]


def expected_sign(attribute: str, value: str) -> tuple[int, float] | None:
    """``(column of pair_flow, expected sign)`` for a label, or None when not checked."""
    if attribute not in EXPECTED:
        return None
    region, axis, sign = EXPECTED[attribute]
    column = 2 if region == "moving" else axis
    return column, (sign if value == _FIRST_VALUE[attribute] else -sign)


def agrees(jpeg_a: bytes, jpeg_b: bytes, attribute: str, value: str) -> bool | None:
    """Whether the flow a->b shows ``attribute = value``; None when the attribute is not checked."""
    if attribute not in EXPECTED:
        return None
    region, axis, sign = EXPECTED[attribute]
    measured = flow_direction(dense_flow(decode_grey(jpeg_a), decode_grey(jpeg_b)), region, axis)
    expected = sign if value == _FIRST_VALUE[attribute] else -sign
    return measured * expected > 0


def episode_frames_grey(frames, source_root) -> list[np.ndarray] | None:
    """Every frame of one episode (rows of the ``frames`` table, sorted), decoded to grey; None if
    the episode has no single video to read."""
    from pathlib import Path

    from remot_pipeline.sources.video import read_frames_rgb

    media = set(frames.column("media_path").to_pylist())
    if len(media) != 1 or None in media:
        return None
    idx = frames.column("media_frame_index").to_numpy()
    got = dict(read_frames_rgb(Path(source_root) / media.pop(), idx.tolist()))
    if len(got) != len(idx):
        return None
    return [cv2.cvtColor(got[int(i)], cv2.COLOR_RGB2GRAY) for i in idx]


def triplet_agreement(triplets, tracks: dict[str, np.ndarray]) -> list[dict]:
    """Per (domain, attribute, role, negative kind): pairs checked and pairs whose accumulated flow
    has the labelled sign. ``tracks``: episode_id -> :func:`flow_track` output."""
    counts: dict[tuple, list[int]] = {}
    cols = ["episode_id", "domain", "attribute", "negative_kind", "anchor_frame_index", "positive_frame_index",
            "negative_episode_id", "negative_anchor_frame_index", "negative_frame_index", "positive_value",
            "negative_value", "negative_transform"]
    for t in triplets.select(cols).to_pylist():
        for role, start in (("positive", "anchor"), ("negative", "negative_anchor")):
            track = tracks.get(t["episode_id" if role == "positive" else "negative_episode_id"])
            if track is None:
                continue
            exp = expected_sign(t["attribute"], t[f"{role}_value"])
            if exp is None:
                continue
            col, sign = exp
            measured = track[t[f"{role}_frame_index"], col] - track[t[f"{start}_frame_index"], col]
            if role == "negative" and t["negative_transform"] == "hflip" and col != 1:
                measured = -measured  # a horizontal mirror negates horizontal flow
            key = (t["domain"], t["attribute"], role, t["negative_kind"])
            c = counts.setdefault(key, [0, 0])
            c[0] += 1
            c[1] += int(measured * sign > 0)
    return [dict(domain=k[0], attribute=k[1], role=k[2], negative_kind=k[3], checked=v[0], agreed=v[1])
            for k, v in sorted(counts.items())]


def domain_agreement(triplets, frames, episodes, max_episodes: int, data_root=".") -> list[dict]:
    """:func:`triplet_agreement` over the first ``max_episodes`` episodes (by id) that have triplets.
    ``source_root`` is relative to ``data_root`` (or absolute)."""
    from pathlib import Path

    import pyarrow.compute as pc

    roots = {e: Path(data_root) / r for e, r in zip(episodes.column("episode_id").to_pylist(),
                                                     episodes.column("source_root").to_pylist())}
    tracks = {}
    for eid in sorted(set(triplets.column("episode_id").to_pylist()))[:max_episodes]:
        f = frames.filter(pc.equal(frames.column("episode_id"), eid)).sort_by("frame_index")
        grey = episode_frames_grey(f, roots[eid])
        if grey is not None:
            tracks[eid] = flow_track(grey)
    return triplet_agreement(triplets, tracks)
