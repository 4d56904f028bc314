"""Dataset truth on a built release, recomputed independently of the pipeline's own code paths.

* the wrong-object case: an object question names the object whose motion produced the label
  of every pair it shows (recomputed from the frames' object poses);
* the out-of-view case: the subject of every object and gripper question is in view in every
  frame the question shows (projected with OpenCV's ``projectPoints``, not remot's projection);
* the mirror-bytes case: a mirrored triplet's four images went through one encode path, so the
  pair with fewer bytes does not answer the mirror questions;
* rationales: the answer is named only in the last step.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from remot_pipeline.core.release import latest_release
from remot_pipeline.defs.store import StageStore

pytestmark = pytest.mark.slow


def _read(folder) -> pa.Table:
    return pa.concat_tables([pq.read_table(f, partitioning=None) for f in sorted(folder.rglob("*.parquet"))])


@pytest.fixture(scope="module")
def built(small_release):
    rel = latest_release(small_release / "releases")
    triplets, questions = _read(rel / "triplets"), _read(rel / "questions")
    store = StageStore(small_release / "stages")
    frames = {d: store.of_release(rel, "episode_frames", d).table for d in ("navigation", "manipulation", "simulation")}
    episodes = pa.concat_tables([store.of_release(rel, "episodes", d) for d in frames])
    return triplets, questions, frames, episodes


def _frame(frames: pa.Table, episode_id: str, index: int) -> dict:
    t = frames.filter(pc.and_(pc.equal(frames.column("episode_id"), episode_id),
                              pc.equal(frames.column("frame_index"), index)))
    assert t.num_rows == 1, (episode_id, index)
    return t.to_pylist()[0]


def _objects(frame: dict) -> dict[str, np.ndarray]:
    return {o["color_name"]: np.asarray(o["obj2world"], dtype=np.float64).reshape(4, 4) for o in frame["objects"] or []}


def _pairs(t: dict) -> list[tuple[str, int, int]]:
    return [(t["episode_id"], t["anchor_frame_index"], t["positive_frame_index"]),
            (t["negative_episode_id"], t["negative_anchor_frame_index"], t["negative_frame_index"])]


def test_object_questions_name_the_object_that_moved_in_every_pair(built):
    triplets, _, frames, _ = built
    rows = [t for t in triplets.filter(pc.starts_with(triplets.column("attribute"), "object_")).select(
        ["episode_id", "negative_episode_id", "anchor_frame_index", "positive_frame_index",
         "negative_anchor_frame_index", "negative_frame_index", "object_color", "attribute", "negative_kind"]).to_pylist()]
    assert rows, "the small release must hold object triplets"
    for t in rows:
        for episode, a, b in _pairs(t):
            oa, ob = _objects(_frame(frames["simulation"], episode, a)), _objects(_frame(frames["simulation"], episode, b))
            assert t["object_color"] in oa, f"{t['object_color']} is not in {episode}"
            # the named object's own world motion, in units of what a label needs (0.35 m of travel,
            # 10 deg of spin: the bands' minima), is the largest of the episode's objects in this pair
            moved = {c: max(np.linalg.norm(ob[c][:3, 3] - oa[c][:3, 3]) / 0.35,
                            np.degrees(np.arccos(np.clip((np.trace(oa[c][:3, :3].T @ ob[c][:3, :3]) - 1) / 2, -1, 1))) / 10)
                     for c in oa if c in ob}
            assert max(moved, key=moved.get) == t["object_color"], (t, moved)


def _visible_share(center_cam: np.ndarray, radius_m: float, k: np.ndarray, width: int, height: int) -> float:
    """Share of a sphere's silhouette samples inside the image, by cv2.projectPoints."""
    if center_cam[2] <= 0.05:
        return 0.0
    rng = np.random.default_rng(0)
    d = rng.normal(size=(400, 2))
    d = d / np.linalg.norm(d, axis=1, keepdims=True) * np.sqrt(rng.uniform(size=(400, 1)))
    pts = np.concatenate([center_cam[None, :2] + radius_m * d, np.full((400, 1), center_cam[2])], axis=1)
    uv, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), k, None)
    uv = uv.reshape(-1, 2)
    return float(((uv[:, 0] >= 0) & (uv[:, 0] <= width) & (uv[:, 1] >= 0) & (uv[:, 1] <= height)).mean())


def test_every_subject_is_in_view_in_every_frame_a_question_shows(built):
    from remot_pipeline.core.features import jpeg_size
    from remot_pipeline.defs.resources import VisibilityConfig

    triplets, _, frames, episodes = built
    rules = VisibilityConfig()
    eps = {e["episode_id"]: e for e in episodes.to_pylist()}
    checked = 0
    for t in triplets.to_pylist():
        if t["domain"] not in ("manipulation", "simulation") or t["attribute"].startswith("camera_"):
            continue
        for episode, a, b in _pairs(t):
            e = eps[episode]
            if e["fx_px"] is None:
                continue
            w, h = jpeg_size(e["width_px"], e["height_px"], 320)
            s = w / e["width_px"]
            k = np.array([[e["fx_px"] * s, 0, e["cx_px"] * s], [0, e["fy_px"] * s, e["cy_px"] * s], [0, 0, 1]])
            for index in (a, b):
                f = _frame(frames[t["domain"]], episode, index)
                cam2world = np.asarray(f["cam2world"]).reshape(4, 4)
                if t["domain"] == "simulation":
                    p_world, radius = _objects(f)[t["object_color"]][:3, 3], rules.object_radius_m
                else:
                    p_world, radius = np.asarray(f["ee_pos_base_m"]), rules.gripper_radius_m
                p_cam = np.linalg.inv(cam2world) @ np.append(p_world, 1.0)
                share = _visible_share(p_cam[:3], radius, k, w, h)
                assert share >= rules.min_visible_fraction - 0.05, (t["triplet_id"], t["attribute"], episode, index, share)
                checked += 1
    assert checked > 20


def test_mirrored_triplets_carry_no_extra_compression(built):
    triplets, questions, _, _ = built
    mirror = triplets.filter(pc.equal(triplets.column("negative_kind"), "mirror"))
    assert mirror.num_rows
    roles = ("anchor", "positive", "negative_anchor", "negative")
    for t in mirror.to_pylist():
        paths = [t[f"{r}_image"]["path"] for r in roles]
        assert paths[0].endswith("#reencoded") and paths[1].endswith("#reencoded")
        assert paths[2].endswith("#hflip") and paths[3].endswith("#hflip")
    # "the pair with fewer bytes" does not answer the mirror multiple-choice questions
    by_id = {t["triplet_id"]: t for t in mirror.to_pylist()}
    right = total = 0
    for q in questions.filter(pc.equal(questions.column("question_type"), "multiple_choice")).to_pylist():
        t = by_id.get(q["triplet_id"])
        if t is None:
            continue
        sizes = [len(t[f"{r}_image"]["bytes"]) for r in q["image_roles"]]
        fewer = "A" if sizes[0] + sizes[1] < sizes[2] + sizes[3] else "B"
        right += fewer == q["answer"]
        total += 1
    assert total >= 10
    assert 0.15 < right / total < 0.85, f"the byte count answers {right}/{total} mirror questions"
    # an unflipped frame re-encoded once more changes little (same quantisation, same block grid)
    t = mirror.to_pylist()[0]
    a = cv2.imdecode(np.frombuffer(t["anchor_image"]["bytes"], np.uint8), cv2.IMREAD_GRAYSCALE).astype(float)
    na = cv2.imdecode(np.frombuffer(t["negative_anchor_image"]["bytes"], np.uint8), cv2.IMREAD_GRAYSCALE).astype(float)
    assert np.abs(cv2.flip(na, 1) - a).mean() < 1.5


def test_rationales_name_the_answer_only_in_their_last_step(built):
    _, questions, _, _ = built
    n = 0
    for q in questions.to_pylist():
        steps = re.split(r"Step \d+: ", q["rationale"])[1:]
        assert len(steps) >= 3, q["rationale"]
        before, last = " ".join(steps[:-1]).lower(), steps[-1]
        if q["parse_rule"] == "true_false" or q["parse_rule"] == "categorical":
            for option in q["options"]:
                assert not re.search(rf"\b{re.escape(option.lower())}\b", before), (option, q["rationale"])
            assert q["answer"].lower() in last.lower()
        elif q["parse_rule"] == "number_mra":
            assert q["answer"] not in " ".join(steps[:-1]) and q["answer"] in last
        else:  # letters: both pairs are described before the last step, the letter is concluded at the end
            assert last.rstrip(".").endswith(f"the answer is {q['answer']}")
        n += 1
    assert n == questions.num_rows > 0
